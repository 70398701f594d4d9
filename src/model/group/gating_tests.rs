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

#[test]
fn an_override_or_a_bypass_is_taken_only_from_a_run_its_gate_holds() {
    use crate::model::deployment::{SoakBypass, WindowOverride};
    let group = release_group(OnFailure::Stop);
    let mut run = begun(&run_id("shop", &release()), &group, release(), true);
    run.gates.promotion = true;
    run.gates.windows = true;
    let bypass = |minute| SoakBypass {
        by: "ada".into(),
        reason: "hotfix".into(),
        at: at(minute),
    };
    let window_override = |minute| WindowOverride {
        by: "ada".into(),
        reason: "hotfix".into(),
        at: at(minute),
    };
    assert!(
        run.bypass_soak(bypass(0)).is_err(),
        "not judged yet: nothing holds it"
    );
    run.held(RunWait {
        gate: Gate::Upstream,
        why: "web: it soaks on dev-web".into(),
        until: Some(at(120)),
    })
    .unwrap();
    assert!(
        run.override_window(window_override(1)).is_err(),
        "its upstream holds it, not a window"
    );
    run.bypass_soak(bypass(1)).unwrap();
    assert!(run.bypass_soak(bypass(2)).is_err(), "bypassed once");

    run.promoted(vec![], at(2)).unwrap();
    run.state = RunState::Running; // as an approval moves it
    run.held(RunWait {
        gate: Gate::Window,
        why: "web's deployment window is closed".into(),
        until: None,
    })
    .unwrap();
    run.override_window(window_override(3)).unwrap();
    assert!(run.window_overridden(at(62)).is_some());
    assert!(
        run.window_overridden(at(63)).is_none(),
        "an override lasts an hour, as a single release's"
    );
    assert!(
        run.override_window(window_override(4)).is_err(),
        "let through once"
    );
}

#[test]
fn a_bypass_needs_a_run_that_asks_its_approval() {
    let group = release_group(OnFailure::Stop);
    let mut run = begun(&run_id("shop", &release()), &group, release(), false);
    run.gates.promotion = true;
    run.held(RunWait {
        gate: Gate::Upstream,
        why: "soaking".into(),
        until: None,
    })
    .unwrap();
    let refused = run
        .bypass_soak(crate::model::deployment::SoakBypass {
            by: "ada".into(),
            reason: "hotfix".into(),
            at: at(0),
        })
        .unwrap_err();
    assert!(refused.0.contains("asks no approval"), "{}", refused.0);
}
