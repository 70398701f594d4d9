//! Promotion hints over the in-memory adapters: dev-web's success is published once, the
//! hint makes web-prod look again at once, and a hint that lies or comes from elsewhere
//! promotes nothing.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use super::pipeline_tests::invocation;
use super::promotion_tests::{stages_with, Stages};
use super::*;
use crate::input::hint::UpstreamSucceeded;
use crate::memory::{digest, MemoryHints, ACCOUNT, REGION};
use crate::model::deployment::State;

/// web-prod (auto) takes what succeeded on dev-web, with no soak; hints are recorded.
fn stages() -> (Stages, Arc<MemoryHints>) {
    let mut s = stages_with("auto", "v*", json!({"from": ["dev-web"]}));
    let hints = Arc::new(MemoryHints::default());
    s.deployer = s.deployer.with_hints(hints.clone());
    (s, hints)
}

/// The event EventBridge delivers for `hint`, sent from `account`.
fn delivered(hint: &UpstreamSucceeded, account: &str) -> serde_json::Value {
    json!({"version": "0", "id": format!("h-{account}"), "detail-type": "Slipway Upstream Succeeded",
           "source": "slipway.promotion", "account": account, "time": "2026-12-07T10:04:12Z",
           "region": REGION, "resources": [], "detail": hint})
}

fn looked_again(report: &Report) -> Vec<(String, Option<String>)> {
    let EventOutcome::Hint { looked_again, .. } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    looked_again
        .iter()
        .map(|l| {
            let result = l.outcome.as_ref().map(|o| {
                serde_json::to_value(o).unwrap()["result"]
                    .as_str()
                    .unwrap()
                    .to_string()
            });
            (l.target.clone(), result)
        })
        .collect()
}

#[tokio::test]
async fn the_upstreams_success_is_hinted_once_and_the_stage_rolls_at_once() {
    let (s, hints) = stages();
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    let waiting = s.prod_push("e-2", "v1.0.0", &d).await;
    assert!(
        matches!(waiting, TargetOutcome::WaitingForUpstream { .. }),
        "{waiting:?}"
    );
    assert!(hints.published().is_empty(), "nothing succeeded yet");
    s.dev_completes(&d, Duration::minutes(5)).await;
    s.at(Duration::minutes(6));
    let published = hints.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].target, "dev-web");
    assert!(published[0].image.ends_with(&d));
    assert_eq!(s.prod_updates(), 0, "the hint has not come back yet");

    let report = s
        .deployer
        .handle_deployment_event(&delivered(&published[0], ACCOUNT), &invocation())
        .await
        .unwrap();
    assert_eq!(
        looked_again(&report),
        [("web-prod".to_string(), Some("rolling".to_string()))]
    );
    assert_eq!(s.prod_updates(), 1);
    // The same hint again (EventBridge delivers at least once): nothing more.
    let again = s
        .deployer
        .handle_deployment_event(&delivered(&published[0], ACCOUNT), &invocation())
        .await
        .unwrap();
    assert_eq!(looked_again(&again), [("web-prod".to_string(), None)]);
    assert_eq!(s.prod_updates(), 1);
}

#[tokio::test]
async fn a_hint_from_another_account_or_against_the_record_promotes_nothing() {
    let (s, _) = stages();
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.prod_push("e-2", "v1.0.0", &d).await;
    let claim = UpstreamSucceeded {
        target: "dev-web".into(),
        deployment_id: s.record("dev-web", &d).await.id,
        image: s.record("dev-web", &d).await.image,
        succeeded_at: chrono::Utc::now(),
    };
    // Another account: refused before anything is read.
    let forged = s
        .deployer
        .handle_deployment_event(&delivered(&claim, "999999999999"), &invocation())
        .await
        .unwrap();
    let EventOutcome::Ignored { reason } = &forged.outcome else {
        panic!("{:?}", forged.outcome)
    };
    assert!(reason.contains("forged or misrouted"), "{reason}");
    // This account, but dev-web's record says it still rolls: the stage decides from the
    // record, and waits on.
    let lying = s
        .deployer
        .handle_deployment_event(&delivered(&claim, ACCOUNT), &invocation())
        .await
        .unwrap();
    assert_eq!(looked_again(&lying), [("web-prod".to_string(), None)]);
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );
    assert_eq!(s.prod_updates(), 0);
}

#[tokio::test]
async fn a_hint_that_cannot_be_published_fails_nothing() {
    let (s, hints) = stages();
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.prod_push("e-2", "v1.0.0", &d).await;
    hints.refuse_next();
    s.dev_completes(&d, Duration::minutes(5)).await;
    s.at(Duration::minutes(6));
    assert!(hints.published().is_empty());
    // The reconciler's look is the fallback.
    s.deployer.reconcile(&json!({}), &invocation()).await;
    assert_eq!(s.prod_updates(), 1);
}
