//! A run's gates (`gating`): promotion before the approval, windows before the first
//! step, neither once a step started.

use super::tests::{at, begun, release, release_group, running};
use super::*;

#[test]
fn promotion_is_judged_before_the_approval_and_windows_before_the_first_step() {
    let group = release_group(OnFailure::Stop);
    let mut run = begun(&run_id("shop", &release()), &group, release(), true);
    run.gates.promotion = true;
    run.gates.windows = true;
    assert_eq!(
        run.state,
        RunState::AwaitingApproval,
        "begun holds the line here"
    );
    assert_eq!(
        run.next(at(0)),
        Next::CheckPromotion,
        "before anybody is asked"
    );

    let wait = RunWait {
        gate: Gate::Upstream,
        why: "web: dev-web still rolls".into(),
        until: None,
    };
    run.held(wait.clone()).unwrap();
    assert!(
        run.held(wait).is_err(),
        "the same wait again writes nothing"
    );
    assert_eq!(run.next(at(1)), Next::CheckPromotion);

    run.promoted(vec![], at(2)).unwrap();
    assert_eq!(run.gates.waiting, None);
    assert_eq!(run.next(at(2)), Next::AskApproval);
    run.state = RunState::Running; // as an approval moves it
    assert_eq!(run.next(at(3)), Next::CheckWindows);
    run.window_opened(at(3)).unwrap();
    assert_eq!(
        run.next(at(3)),
        Next::Register {
            target: "web".into()
        },
        "the run starts: its first registration"
    );
    assert!(run.window_opened(at(4)).is_err(), "let through once");
}

#[test]
fn once_a_step_started_no_gate_holds_the_run() {
    let mut run = running(OnFailure::Stop);
    run.gates.windows = true;
    run.gates.promotion = true;
    run.gates.promoted_at = Some(at(0));
    run.gates.window_open_at = Some(at(0));
    run.task_started(0, "task/1", at(1)).unwrap();
    // A config that gained windows mid-run, or a record read back: nothing pending.
    run.gates.window_open_at = None;
    assert!(!run.windows_pending());
    assert!(run
        .held(RunWait {
            gate: Gate::Window,
            why: "closed".into(),
            until: None
        })
        .is_err());
    assert!(
        run.not_promoted("never").is_err(),
        "a run half-way is never ended by the gate"
    );
}

#[test]
fn a_release_never_available_ends_the_run_with_nothing_started() {
    let group = release_group(OnFailure::Stop);
    let mut run = begun(&run_id("shop", &release()), &group, release(), false);
    run.gates.promotion = true;
    run.not_promoted("web: not succeeded upstream").unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(
        run.why.as_deref(),
        Some("not promoted: web: not succeeded upstream")
    );
    assert_eq!(run.next(at(0)), Next::Done);
}
