//! An approver's hotfix bypass of a promotion soak over the in-memory adapters: the
//! release goes on to its approval at once, with the bypass in the evidence; the rest of
//! the gate still holds, and only an approval target's soak can be bypassed, with a reason.

use chrono::Duration;
use serde_json::json;

use super::pipeline_tests::invocation;
use super::promotion_tests::{stages_with, Stages};
use super::*;
use crate::memory::digest;
use crate::model::deployment::{Actor, Channel, State};
use crate::model::promotion::AlarmState;

const ADA: &str = "arn:aws:sts::123456789012:assumed-role/release-managers/ada";

/// web-prod (`policy`) takes what soaked 2h on dev-web with web-5xx never in ALARM; dev-web
/// succeeded at t0 and web-prod's release of the same digest waits out the soak.
async fn soaking(policy: &str) -> (Stages, String, String) {
    let s = stages_with(
        policy,
        "v*",
        json!({"from": ["dev-web"], "soak": "2h", "alarms_ok": ["web-5xx"]}),
    );
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::minutes(10));
    let waiting = s.prod_push("e-2", "v1.0.0", &d).await;
    assert!(
        matches!(
            &waiting,
            TargetOutcome::WaitingForUpstream {
                look_again_at: Some(_),
                ..
            }
        ),
        "{waiting:?}"
    );
    let id = s.record("web-prod", &d).await.id;
    (s, d, id)
}

fn ada() -> Actor {
    Actor {
        id: ADA.into(),
        channel: Channel::Iam,
        source: None,
    }
}

async fn bypass(s: &Stages, id: &str, reason: Option<&str>) -> BypassOutcome {
    s.deployer
        .bypass_soak(id, &ada(), reason.map(str::to_string), &invocation())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bypassed_soak_goes_on_to_the_approval_with_the_bypass_in_the_evidence() {
    let (s, d, id) = soaking("approval").await;
    let outcome = bypass(&s, &id, Some("hotfix for incident 4711")).await;
    assert!(
        matches!(
            outcome,
            BypassOutcome::Released {
                rollout: TargetOutcome::AwaitingApproval { .. }
            }
        ),
        "{outcome:?}"
    );
    let record = s.record("web-prod", &d).await;
    assert_eq!(
        record.state,
        State::AwaitingApproval,
        "still asks for approval"
    );
    let check = record.promotion.unwrap();
    let by = check.soak_bypass.unwrap();
    assert_eq!(
        (by.by.as_str(), by.reason.as_str()),
        (ADA, "hotfix for incident 4711")
    );
    assert_eq!(check.evidence[0].soak_bypassed_by.as_deref(), Some(ADA));
    let emails = s.approval_emails();
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0].contains(&format!("the soak bypassed by {ADA}")),
        "{}",
        emails[0]
    );
    assert_eq!(s.prod_updates(), 0, "nothing rolls before the approval");
    // Once is enough: the release is not waiting any more.
    assert!(matches!(
        bypass(&s, &id, Some("again")).await,
        BypassOutcome::Refused { .. }
    ));
}

#[tokio::test]
async fn a_bypass_needs_a_reason_and_an_approval_target() {
    let (s, d, id) = soaking("approval").await;
    let BypassOutcome::Refused { reason } = bypass(&s, &id, Some("  ")).await else {
        panic!("taken without a reason")
    };
    assert!(reason.contains("needs a reason"), "{reason}");
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );

    let (auto, d, id) = soaking("auto").await;
    let BypassOutcome::Refused { reason } = bypass(&auto, &id, Some("hotfix")).await else {
        panic!("an auto target's soak was bypassed")
    };
    assert!(reason.contains("deploys automatically"), "{reason}");
    assert_eq!(
        auto.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );
    assert_eq!(auto.prod_updates(), 0);
}

#[tokio::test]
async fn only_the_soak_is_bypassed_an_alarm_during_it_still_refuses() {
    let (s, d, id) = soaking("approval").await;
    s.alarms
        .change("web-5xx", AlarmState::Alarm, s.t0 + Duration::minutes(5));
    let outcome = bypass(&s, &id, Some("hotfix")).await;
    assert!(
        matches!(outcome, BypassOutcome::NotReleased { .. }),
        "{outcome:?}"
    );
    let record = s.record("web-prod", &d).await;
    assert_eq!(record.state, State::Failed);
    assert!(record.error.unwrap().contains("alarm web-5xx was in ALARM"));
    assert!(s.approval_emails().is_empty());
}
