//! The pipelines' branches over the in-memory adapters (`crate::memory`): each test runs
//! in milliseconds and asserts what reached ECS and the ledger. The integration tests
//! (`tests/`) run the same pipelines against the emulator through the AWS adapters.

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::approval::{SigningKey, SigningKeys};
use crate::input::config::Home;
use crate::ledger::image_key;
use crate::memory::{
    digest, ecr_push, MemoryEcs, MemoryRegistry, MemorySources, MemoryStore, RecordingNotifier,
    ACCOUNT, REGION,
};
use crate::model::deployment::{Actor, Channel, State, Verdict};
use crate::ports::AwsErrorKind;

pub(super) type MemoryDeployer = Deployer<(
    MemoryEcs,
    MemoryRegistry,
    MemoryStore,
    MemorySources,
    RecordingNotifier,
)>;

const REPOSITORY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app";

/// `web` (service prod/web, container app on `app:v1`) with the given policy.
fn deployer(policy: &str) -> MemoryDeployer {
    deployer_with(policy, json!({}))
}

/// The same, with more fields of the target (a `rollout` block, say).
pub(super) fn deployer_with(policy: &str, more: serde_json::Value) -> MemoryDeployer {
    let mut target = json!({
        "name": "web", "cluster": "prod", "service": "web", "containers": ["app"],
        "repository": "app", "tags": {"glob": "v*"}, "policy": policy,
    });
    for (key, value) in more.as_object().unwrap() {
        target[key] = value.clone();
    }
    let config = json!({"targets": [target]});
    let home = Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let config = Config::from_json(&config.to_string(), &home).unwrap();
    let ecs = MemoryEcs::default().with_service(
        "prod",
        "web",
        "web",
        &[("app", &format!("{REPOSITORY}:v1"))],
    );
    let keys = SigningKeys {
        current: SigningKey::new("k1", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    Deployer::new(
        config,
        ecs,
        MemoryRegistry::default(),
        MemoryStore::default(),
        MemorySources::default(),
        false,
    )
    .with_approvals(
        Some(ApprovalLinks::new("https://approvals.test", keys)),
        RecordingNotifier::default(),
    )
}

pub(super) fn invocation() -> Invocation {
    Invocation {
        request_id: "r-1".into(),
        deadline: Utc::now() + chrono::Duration::seconds(60),
    }
}

impl MemoryDeployer {
    /// Pushes `app:<tag>` with `digest` to ECR and hands the push event to the pipeline.
    async fn push(&self, event_id: &str, tag: &str, digest: &str) -> Result<Report, DeployError> {
        self.registry.push(ACCOUNT, "app", Some(tag), digest);
        self.deliver(event_id, tag, digest).await
    }

    /// Hands EventBridge's event for a push already in ECR to the pipeline.
    async fn deliver(
        &self,
        event_id: &str,
        tag: &str,
        digest: &str,
    ) -> Result<Report, DeployError> {
        self.handle_ecr_event(&ecr_push(event_id, "app", Some(tag), digest), &invocation())
            .await
    }

    fn running_image(&self) -> String {
        self.ecs.running("prod", "web").containers[0].image.clone()
    }
}

/// The `result` of each target in a report: `rolling`, `duplicate`, `older`, …
fn results(report: &Report) -> Vec<String> {
    let report = serde_json::to_value(report).unwrap();
    report["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets in {report}"))
        .iter()
        .map(|t| t["result"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_auto_push_registers_one_revision_pinned_to_the_digest_and_rolls_it() {
    let deployer = deployer("auto");
    let report = deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&report), ["rolling"]);
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (1, 1));
    assert_eq!(
        deployer.running_image(),
        format!("{REPOSITORY}@{}", digest('a'))
    );
    let record = deployer
        .deployment(&format!("web.{}", image_key(&digest('a'))))
        .await
        .unwrap();
    assert_eq!(record.value.state, State::Rolling);
}

#[tokio::test]
async fn the_same_push_delivered_twice_rolls_once() {
    let deployer = deployer("auto");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    // The service already runs the pinned digest: nothing is claimed, registered or rolled.
    let again = deployer.deliver("e-1", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&again), ["already-running"]);
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (1, 1));
}

#[tokio::test]
async fn an_older_version_arriving_late_does_not_roll_the_service_back() {
    let deployer = deployer("auto");
    // Pushed a, then b; EventBridge delivers b's event first.
    deployer
        .registry
        .push(ACCOUNT, "app", Some("v2"), &digest('a'));
    std::thread::sleep(std::time::Duration::from_millis(5));
    deployer
        .registry
        .push(ACCOUNT, "app", Some("v3"), &digest('b'));
    deployer.deliver("e-new", "v3", &digest('b')).await.unwrap();
    let late = deployer.deliver("e-old", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&late), ["older"]);
    assert_eq!(
        deployer.running_image(),
        format!("{REPOSITORY}@{}", digest('b'))
    );
    assert_eq!(deployer.ecs.updates(), 1);
}

#[tokio::test]
async fn a_push_of_what_already_runs_registers_nothing() {
    let deployer = deployer("auto");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    // A second tag for the same image: the service already runs that digest.
    let retag = deployer.push("e-2", "v2.0", &digest('a')).await.unwrap();
    assert!(
        ["already-running", "duplicate"].contains(&results(&retag)[0].as_str()),
        "{:?}",
        results(&retag)
    );
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (1, 1));
}

#[tokio::test]
async fn a_push_to_an_approval_target_asks_once_and_rolls_nothing() {
    let deployer = deployer("approval");
    let report = deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&report), ["awaiting-approval"]);
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (0, 0));
    let published = deployer.notifier.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(
        published[0]
            .1
            .contains("https://approvals.test/approvals/web.img-"),
        "{published:?}"
    );
}

#[tokio::test]
async fn approving_rolls_exactly_the_plan_and_a_second_decision_is_refused() {
    let deployer = deployer("approval");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    let id = format!("web.{}", image_key(&digest('a')));
    let alice = Actor {
        id: "alice (approval link)".into(),
        channel: Channel::Web,
        source: None,
    };
    let approved = deployer
        .decide(&id, Verdict::Approve, &alice, None)
        .await
        .unwrap();
    assert!(
        matches!(approved, DecisionOutcome::Rolled { .. }),
        "{approved:?}"
    );
    assert_eq!(
        deployer.running_image(),
        format!("{REPOSITORY}@{}", digest('a'))
    );
    let again = deployer
        .decide(&id, Verdict::Reject, &alice, None)
        .await
        .unwrap();
    assert!(
        matches!(again, DecisionOutcome::Refused { .. }),
        "{again:?}"
    );
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (1, 1));
}

#[tokio::test]
async fn rejecting_rolls_nothing() {
    let deployer = deployer("approval");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    let id = format!("web.{}", image_key(&digest('a')));
    let bob = Actor {
        id: "bob".into(),
        channel: Channel::Web,
        source: None,
    };
    let rejected = deployer
        .decide(&id, Verdict::Reject, &bob, Some("not today".into()))
        .await
        .unwrap();
    assert!(
        matches!(rejected, DecisionOutcome::Rejected),
        "{rejected:?}"
    );
    assert_eq!(
        deployer.deployment(&id).await.unwrap().value.state,
        State::Rejected
    );
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (0, 0));
}

#[tokio::test]
async fn a_throttled_rollout_is_retried_and_the_retry_reuses_the_registered_revision() {
    let deployer = deployer("auto");
    deployer.ecs.fail_next_update(AwsErrorKind::Transient);
    let failed = deployer.push("e-1", "v2", &digest('a')).await;
    assert!(
        failed.is_err(),
        "a transient failure goes back to Lambda: {failed:?}"
    );
    let retried = deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&retried), ["rolling"]);
    assert_eq!(
        deployer.ecs.registers(),
        1,
        "the retry found the tagged revision"
    );
    assert_eq!(deployer.ecs.updates(), 2);
    assert_eq!(
        deployer.running_image(),
        format!("{REPOSITORY}@{}", digest('a'))
    );
}

#[tokio::test]
async fn a_permanent_failure_is_reported_and_not_retried() {
    let deployer = deployer("auto");
    deployer.ecs.fail_next_update(AwsErrorKind::Permanent);
    let report = deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&report), ["failed"]);
    assert_eq!(deployer.running_image(), format!("{REPOSITORY}:v1"));
}

#[tokio::test]
async fn a_tag_the_target_does_not_deploy_touches_nothing() {
    let deployer = deployer("auto");
    let report = deployer.push("e-1", "latest", &digest('a')).await.unwrap();
    let report = serde_json::to_value(&report).unwrap();
    assert!(
        report["targets"].as_array().is_none_or(|t| t.is_empty()) || report["reason"].is_string(),
        "{report}"
    );
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (0, 0));
    assert!(deployer.ledger.store().keys().is_empty());
}

#[tokio::test]
async fn a_push_redelivered_while_it_awaits_approval_is_a_duplicate_and_asks_no_one_again() {
    let deployer = deployer("approval");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    let again = deployer.deliver("e-1", "v2", &digest('a')).await.unwrap();
    assert_eq!(results(&again), ["duplicate"]);
    assert_eq!(deployer.notifier.published().len(), 1);
    assert_eq!(deployer.ecs.updates(), 0);
}

/// BENCHMARKS.md's "ledger calls per auto deploy": one read of the target's document, the
/// claim, and the record of the rollout — the first two before UpdateService.
#[tokio::test]
async fn an_auto_deploy_makes_three_ledger_calls_two_of_them_before_update_service() {
    let deployer = deployer("auto");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    for (n, (event, tag, image)) in [("e-2", "v3", 'b'), ("e-3", "v4", 'c')]
        .into_iter()
        .enumerate()
    {
        let before = deployer.ledger.store().log().len();
        let report = deployer.push(event, tag, &digest(image)).await.unwrap();
        assert_eq!(results(&report), ["rolling"]);
        let calls: Vec<(u64, String)> = deployer.ledger.store().log()[before..].to_vec();
        let update = deployer.ecs.update_ticks()[n + 1];
        let before_update: Vec<&String> = calls
            .iter()
            .filter(|(at, _)| *at < update)
            .map(|(_, call)| call)
            .collect();
        assert_eq!(calls.len(), 3, "ledger calls of one auto deploy: {calls:?}");
        assert_eq!(
            before_update,
            [
                "GET targets/web/target.json",
                "PUT targets/web/target.json If-Match"
            ],
            "calls before UpdateService: {calls:?}"
        );
    }
}

#[tokio::test]
async fn a_rolling_deployment_lives_in_the_target_document_and_moves_to_its_own_object_when_it_ends(
) {
    let deployer = deployer("auto");
    deployer.push("e-1", "v2", &digest('a')).await.unwrap();
    let key = image_key(&digest('a'));
    let store = deployer.ledger.store();
    let document = store.json("targets/web/target.json").unwrap();
    assert_eq!(document["live"][&key]["state"], "rolling");
    assert!(store
        .json(&format!("targets/web/deployments/{key}.json"))
        .is_none());

    let rolling = deployer
        .ledger
        .deployment("web", &key)
        .await
        .unwrap()
        .unwrap();
    let mut done = rolling.value.clone();
    done.advance(State::Succeeded, "ECS: COMPLETED", Utc::now())
        .unwrap();
    deployer.ledger.save(&rolling, done).await.unwrap();
    let own = store
        .json(&format!("targets/web/deployments/{key}.json"))
        .expect("a finished deployment has its own object");
    assert_eq!(own["state"], "succeeded");
    let document = store.json("targets/web/target.json").unwrap();
    assert!(document["live"].get(&key).is_none(), "{document}");
    assert!(document["finished"]
        .as_array()
        .unwrap()
        .contains(&json!(key)));
    let read = deployer
        .ledger
        .deployment("web", &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.value.state, State::Succeeded);
}

/// A bucket of the layout before `target.json`: an attempt of the earlier version claimed
/// the push (its own object, and `head.json`) and died. The retry takes it over there and
/// rolls it once; the target's document gets the head, never a second copy of it.
#[tokio::test]
async fn a_push_left_planned_in_the_earlier_layout_is_taken_over_in_its_own_object() {
    use crate::model::deployment::{Deployment, Lease, Trigger};
    use crate::model::target::Head as TargetHead;
    use crate::ports::ObjectStore;

    let deployer = deployer("auto");
    let pushed = digest('a');
    deployer.registry.push(ACCOUNT, "app", Some("v2"), &pushed);
    let key = image_key(&pushed);
    let gone = Utc::now() - chrono::Duration::minutes(1);
    let trigger = Trigger::EcrPush {
        event_id: "e-1".into(),
        repository: "app".into(),
        tag: "v2".into(),
        digest: pushed.clone(),
        pushed_at: None,
    };
    let planned = Deployment {
        image: format!("{REPOSITORY}@{pushed}"),
        from_task_definition: deployer.ecs.running("prod", "web").arn.clone(),
        lease: Some(Lease {
            holder: "r-dead".into(),
            until: gone,
        }),
        ..Deployment::new("web", "prod", "web", &key, trigger)
    };
    let head = TargetHead {
        deployment_id: planned.id.clone(),
        digest: pushed.clone(),
        pushed_at: None,
        version: None,
        settled: false,
        lease_until: Some(gone),
        updated_at: gone,
    };
    let store = deployer.ledger.store();
    let own = format!("targets/web/deployments/{key}.json");
    store
        .create(&own, serde_json::to_vec(&planned).unwrap())
        .await
        .unwrap();
    store
        .create("targets/web/head.json", serde_json::to_vec(&head).unwrap())
        .await
        .unwrap();

    let report = deployer.deliver("e-1", "v2", &pushed).await.unwrap();
    assert_eq!(results(&report), ["rolling"]);
    assert_eq!((deployer.ecs.registers(), deployer.ecs.updates()), (1, 1));
    let record = store.json(&own).unwrap();
    assert_eq!(record["state"], "rolling", "{record}");
    assert_eq!(record["takeovers"], 1, "{record}");
    let document = store.json("targets/web/target.json").unwrap();
    assert!(document["live"].get(&key).is_none(), "{document}");
    assert_eq!(document["head"]["deployment_id"], json!(planned.id));
    assert_eq!(document["head"]["settled"], true);
    assert_eq!(
        document["rollouts"]["started"][0]["key"],
        json!(key),
        "ECS's events find it: {document}"
    );
}
