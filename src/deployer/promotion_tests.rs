//! Promotion over the in-memory adapters, on a clock the test moves: `dev-web` (auto)
//! deploys a digest, ECS reports it COMPLETED, and `web-prod` takes the same digest only
//! once it soaked for 2h without its alarm in ALARM; anything else is refused.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::json;

use super::pipeline_tests::invocation;
use super::*;
use crate::approval::{SigningKey, SigningKeys};
use crate::input::config::Home;
use crate::ledger::image_key;
use crate::memory::{
    digest, ecr_push, MemoryAlarms, MemoryEcs, MemoryRegistry, MemorySources, MemoryStore,
    RecordingNotifier, ACCOUNT, REGION,
};
use crate::model::deployment::{Deployment, State};
use crate::model::promotion::AlarmState;

type MemoryDeployer = Deployer<(
    MemoryEcs,
    MemoryRegistry,
    MemoryStore,
    MemorySources,
    RecordingNotifier,
)>;

const REPOSITORY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app";

pub(super) struct Stages {
    pub(super) deployer: MemoryDeployer,
    clock: Arc<Mutex<DateTime<Utc>>>,
    pub(super) alarms: Arc<MemoryAlarms>,
    wake_ups: Arc<crate::memory::MemoryWakeUps>,
    pub(super) t0: DateTime<Utc>,
}

/// `dev-web` (auto, tags `main-*`) and `web-prod` (tags `v*`, `policy`), which takes
/// only what succeeded on `dev-web`, soaked 2h, with `web-5xx` never in ALARM.
fn stages(policy: &str) -> Stages {
    stages_taking(policy, "v*")
}

/// The same, `web-prod` taking the tags `prod_tags`.
fn stages_taking(policy: &str, prod_tags: &str) -> Stages {
    stages_with(
        policy,
        prod_tags,
        json!({"from": ["dev-web"], "soak": "2h", "alarms_ok": ["web-5xx"]}),
    )
}

/// The same, `web-prod`'s promotion being `promotion`.
pub(super) fn stages_with(policy: &str, prod_tags: &str, promotion: serde_json::Value) -> Stages {
    let target = |name: &str, cluster: &str, tags: &str, policy: &str| {
        json!({"name": name, "cluster": cluster, "service": "web", "containers": ["app"],
               "repository": "app", "tags": {"glob": tags}, "policy": policy})
    };
    let mut prod = target("web-prod", "prod", prod_tags, policy);
    prod["promotion"] = promotion;
    let config = json!({"targets": [target("dev-web", "dev", "main-*", "auto"), prod]});
    let home = Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    };
    let config = Config::from_json(&config.to_string(), &home).unwrap();
    let ecs = MemoryEcs::default()
        .with_service(
            "dev",
            "web",
            "web-dev",
            &[("app", &format!("{REPOSITORY}:v0"))],
        )
        .with_service(
            "prod",
            "web",
            "web",
            &[("app", &format!("{REPOSITORY}:v0"))],
        );
    let keys = SigningKeys {
        current: SigningKey::new("k1", vec![7u8; 32]).unwrap(),
        previous: None,
    };
    let t0 = Utc::now().trunc_subsecs(0);
    let clock = Arc::new(Mutex::new(t0));
    let read = clock.clone();
    let alarms = Arc::new(MemoryAlarms::default());
    alarms.create("web-5xx", AlarmState::Ok);
    let deployer = Deployer::new(
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
    .with_clock(Arc::new(move || *read.lock().unwrap()))
    .with_alarms(alarms.clone());
    let wake_ups = Arc::new(crate::memory::MemoryWakeUps::default());
    let deployer = deployer.with_wake_ups(wake_ups.clone());
    Stages {
        deployer,
        clock,
        alarms,
        wake_ups,
        t0,
    }
}

impl Stages {
    pub(super) fn at(&self, after: Duration) {
        *self.clock.lock().unwrap() = self.t0 + after;
    }

    /// Pushes `app:<tag>` with `digest`; the outcome for `target`, if it wanted the push.
    pub(super) async fn push(
        &self,
        event: &str,
        tag: &str,
        digest: &str,
    ) -> Vec<(String, TargetOutcome)> {
        self.deployer
            .registry
            .push(ACCOUNT, "app", Some(tag), digest);
        let report = self
            .deployer
            .handle_ecr_event(&ecr_push(event, "app", Some(tag), digest), &invocation())
            .await
            .unwrap();
        match report.outcome {
            EventOutcome::Targets { targets, .. } => {
                targets.into_iter().map(|t| (t.target, t.outcome)).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    pub(super) async fn prod_push(&self, event: &str, tag: &str, digest: &str) -> TargetOutcome {
        let mut outcomes = self.push(event, tag, digest).await;
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        let (target, outcome) = outcomes.remove(0);
        assert_eq!(target, "web-prod");
        outcome
    }

    pub(super) async fn record(&self, target: &str, digest: &str) -> Deployment {
        let id = Deployment::id_for(target, &image_key(digest));
        self.deployer.deployment(&id).await.unwrap().value
    }

    /// ECS reports dev-web's rollout of `digest` COMPLETED at `after`.
    pub(super) async fn dev_completes(&self, digest: &str, after: Duration) {
        let ecs_id = self
            .record("dev-web", digest)
            .await
            .ecs_deployment_id
            .unwrap();
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/ecs-deployment-completed.json"))
                .unwrap();
        let at = (self.t0 + after).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        event["id"] = format!("done-{digest}").into();
        event["resources"][0] = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/dev/web").into();
        event["detail"]["deploymentId"] = ecs_id.into();
        event["detail"]["updatedAt"] = at.clone().into();
        event["time"] = at.into();
        self.deployer
            .handle_deployment_event(&event, &invocation())
            .await
            .unwrap();
        assert_eq!(self.record("dev-web", digest).await.state, State::Succeeded);
    }

    async fn reconcile(&self) -> serde_json::Value {
        let report = self.deployer.reconcile(&json!({}), &invocation()).await;
        serde_json::to_value(&report).unwrap()
    }

    pub(super) fn approval_emails(&self) -> Vec<String> {
        self.deployer
            .notifier()
            .published()
            .into_iter()
            .filter(|(subject, _)| subject.starts_with("Approve"))
            .map(|(_, body)| body)
            .collect()
    }

    pub(super) fn prod_updates(&self) -> usize {
        let running = self.deployer.ecs.running("prod", "web");
        usize::from(running.revision > 1)
    }
}

/// Dev deploys D; the release tag on D waits out the soak (impossible at soak − 1 s),
/// and the reconciler's run at the soak's end asks the approvers, with the evidence.
#[tokio::test]
async fn the_digest_dev_ran_is_promoted_after_the_soak_with_its_evidence() {
    let s = stages("approval");
    let d = digest('d');
    let dev = s.push("e-1", "main-1", &d).await;
    assert!(matches!(dev[0].1, TargetOutcome::Rolling { .. }), "{dev:?}");
    s.dev_completes(&d, Duration::zero()).await;

    s.at(Duration::minutes(5));
    let outcome = s.prod_push("e-2", "v1.0.0", &d).await;
    let TargetOutcome::WaitingForUpstream { why, look_again_at } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("soaks on dev-web"), "{why}");
    assert_eq!(look_again_at, Some(s.t0 + Duration::hours(2)));
    // The reconciler is woken when the soak ends: within the minute after, never before.
    let wake_ups = s.wake_ups.scheduled();
    assert_eq!(wake_ups.len(), 1, "{wake_ups:?}");
    let soak_end = s.t0 + Duration::hours(2);
    assert!(
        wake_ups[0].at >= soak_end && wake_ups[0].at < soak_end + Duration::minutes(1),
        "{wake_ups:?}"
    );
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );

    s.at(Duration::hours(2) - Duration::seconds(1));
    s.reconcile().await;
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );
    assert!(
        s.approval_emails().is_empty(),
        "nobody is asked before the soak ends"
    );

    s.at(Duration::hours(2));
    s.reconcile().await;
    let prod = s.record("web-prod", &d).await;
    assert_eq!(prod.state, State::AwaitingApproval);
    assert_eq!(
        prod.image,
        format!("{REPOSITORY}@{d}"),
        "the same digest, pinned"
    );
    let emails = s.approval_emails();
    assert_eq!(emails.len(), 1);
    let expected = format!(
        "succeeded on dev-web at {}",
        s.t0.format("%Y-%m-%d %H:%M UTC")
    );
    assert!(emails[0].contains(&expected), "{}", emails[0]);
    assert!(
        emails[0].contains("soaked 2h00m, alarms web-5xx: no ALARM during the soak"),
        "{}",
        emails[0]
    );
    // A duplicate wake-up asks nobody again and writes no second request.
    s.reconcile().await;
    s.reconcile().await;
    assert_eq!(s.approval_emails().len(), 1);
    assert_eq!(s.prod_updates(), 0);
}

/// An auto stage rolls the promoted digest by itself once the soak is over.
#[tokio::test]
async fn an_auto_stage_rolls_the_promoted_digest_when_the_soak_ends() {
    let s = stages("auto");
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::minutes(1));
    s.prod_push("e-2", "v1.0.0", &d).await;
    assert_eq!(s.prod_updates(), 0);
    s.at(Duration::hours(2) + Duration::minutes(3));
    s.reconcile().await;
    let prod = s.record("web-prod", &d).await;
    assert_eq!(prod.state, State::Rolling);
    assert_eq!(s.prod_updates(), 1);
    let evidence = &prod.promotion.unwrap().evidence;
    assert_eq!(evidence[0].upstream, "dev-web");
    assert_eq!(evidence[0].soaked_seconds, 2 * 3600 + 180);
}

/// An image built separately for prod, with the same tag, never ran upstream.
#[tokio::test]
async fn an_image_built_separately_for_prod_is_refused_as_not_succeeded_upstream() {
    let s = stages("approval");
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::hours(3));
    let rebuilt = digest('e');
    let outcome = s.prod_push("e-2", "v1.0.0", &rebuilt).await;
    assert!(
        matches!(&outcome, TargetOutcome::NotPromoted { reason } if reason == "not succeeded upstream: dev-web never deployed it"),
        "{outcome:?}"
    );
    let record = s.record("web-prod", &rebuilt).await;
    assert_eq!(record.state, State::Failed);
    assert!(record.error.unwrap().contains("not succeeded upstream"));
    assert!(s.approval_emails().is_empty());
    assert_eq!(s.prod_updates(), 0);
}

/// Two tags pushed at once are two events, in no order: prod's (`v1.0.0`) handled before
/// dev's (`main-1`) waits for dev-web to deploy the digest instead of refusing it for good.
#[tokio::test]
async fn a_release_tag_handled_before_the_upstream_push_of_the_same_digest_waits_for_it() {
    let s = stages("approval");
    let d = digest('d');
    s.deployer.registry.push(ACCOUNT, "app", Some("main-1"), &d);
    let outcome = s.prod_push("e-2", "v1.0.0", &d).await;
    assert!(
        matches!(&outcome, TargetOutcome::WaitingForUpstream { why, .. } if why.contains("dev-web")),
        "{outcome:?}"
    );
    // dev-web's event, handled second.
    s.deployer
        .handle_ecr_event(&ecr_push("e-1", "app", Some("main-1"), &d), &invocation())
        .await
        .unwrap();
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::hours(2) + Duration::minutes(1));
    s.reconcile().await;
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::AwaitingApproval
    );
    assert_eq!(s.approval_emails().len(), 1);
}

/// One minute in ALARM halfway through the soak blocks the promotion, although the
/// alarm is OK again long before the soak ends.
#[tokio::test]
async fn an_alarm_that_flapped_to_alarm_mid_soak_blocks_the_promotion() {
    let s = stages("approval");
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.dev_completes(&d, Duration::zero()).await;
    s.prod_push("e-2", "v1.0.0", &d).await;
    s.alarms
        .change("web-5xx", AlarmState::Alarm, s.t0 + Duration::minutes(60));
    s.alarms
        .change("web-5xx", AlarmState::Ok, s.t0 + Duration::minutes(61));
    s.at(Duration::hours(2));
    s.reconcile().await;
    let record = s.record("web-prod", &d).await;
    assert_eq!(record.state, State::Failed);
    assert!(
        record
            .error
            .as_deref()
            .unwrap()
            .contains("alarm web-5xx was in ALARM"),
        "{:?}",
        record.error
    );
    assert!(s.approval_emails().is_empty());
}

/// Dev moved on to another image during the soak: D is not available any more.
#[tokio::test]
async fn a_digest_upstream_moved_past_during_the_soak_is_refused() {
    let s = stages("approval");
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::minutes(30));
    s.push("e-3", "main-2", &digest('f')).await;
    s.at(Duration::hours(4));
    let outcome = s.prod_push("e-2", "v1.0.0", &d).await;
    let TargetOutcome::NotPromoted { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("moved past it before the soak ended"),
        "{reason}"
    );
}

/// While dev still rolls D, prod's push waits without a time; once dev completes, the
/// reconciler sees the soak and its end.
#[tokio::test]
async fn a_push_while_upstream_still_rolls_waits_for_the_outcome_there() {
    let s = stages("approval");
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    let outcome = s.prod_push("e-2", "v1.0.0", &d).await;
    assert!(
        matches!(&outcome, TargetOutcome::WaitingForUpstream { why, look_again_at: None } if why.contains("is rolling")),
        "{outcome:?}"
    );
    // Runs that find dev-web still rolling look, and write nothing for web-prod.
    let writes = || {
        s.deployer
            .ledger()
            .store()
            .log()
            .into_iter()
            .filter(|(_, call)| call.starts_with("PUT targets/web-prod/"))
            .count()
    };
    let before = writes();
    s.reconcile().await;
    s.reconcile().await;
    assert_eq!(
        writes(),
        before,
        "a look that finds nothing new writes nothing"
    );
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );
    s.dev_completes(&d, Duration::minutes(10)).await;
    s.at(Duration::minutes(15));
    s.reconcile().await;
    let waiting = s.record("web-prod", &d).await;
    assert_eq!(waiting.state, State::WaitingForUpstream);
    assert_eq!(
        waiting.promotion.unwrap().look_again_at,
        Some(s.t0 + Duration::minutes(130))
    );
    s.at(Duration::minutes(130));
    s.reconcile().await;
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::AwaitingApproval
    );
}

/// A dry run shows the verdict and writes nothing.
#[tokio::test]
async fn a_dry_run_shows_the_promotion_verdict() {
    let s = stages("approval");
    let d = digest('d');
    s.push("e-1", "main-1", &d).await;
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::hours(3));
    s.deployer.registry.push(ACCOUNT, "app", Some("v1.0.0"), &d);
    let plan = PLANNING
        .scope(true, async {
            s.deployer
                .handle_ecr_event(&ecr_push("e-9", "app", Some("v1.0.0"), &d), &invocation())
                .await
                .unwrap()
        })
        .await;
    let plan = serde_json::to_string(&plan).unwrap();
    assert!(plan.contains("promotion: available upstream"), "{plan}");
    assert!(
        s.deployer
            .ledger()
            .deployment("web-prod", &image_key(&d))
            .await
            .unwrap()
            .is_none(),
        "a dry run writes nothing"
    );
}

/// Both stages take the same push: web-prod waits for dev-web to deploy it (in the same
/// event, or when the reconciler finds the push) instead of refusing it.
#[tokio::test]
async fn a_push_both_stages_take_waits_for_the_upstream_to_deploy_it() {
    let s = stages_taking("auto", "main-*");
    let d = digest('d');
    let outcomes = s.push("e-1", "main-1", &d).await;
    let prod = outcomes
        .iter()
        .find(|(target, _)| target == "web-prod")
        .map(|(_, outcome)| outcome)
        .unwrap();
    assert!(
        matches!(
            prod,
            TargetOutcome::WaitingForUpstream {
                look_again_at: None,
                ..
            }
        ),
        "{outcomes:?}"
    );
    s.dev_completes(&d, Duration::zero()).await;
    s.at(Duration::hours(2));
    s.reconcile().await;
    assert_eq!(s.record("web-prod", &d).await.state, State::Rolling);
}

/// An older release approved while a newer one waits for upstream rolls, and the newer
/// one keeps waiting (it is not superseded by an older release): once available, it is
/// planned again against what the older one left running, and its approvers see that.
#[tokio::test]
async fn an_older_release_that_rolls_leaves_the_newer_one_waiting_for_upstream() {
    use crate::model::deployment::Verdict as Decision;
    let s = stages("approval");
    let (a, b) = (digest('a'), digest('b'));
    s.push("e-1", "main-1", &a).await;
    s.dev_completes(&a, Duration::zero()).await;
    s.at(Duration::hours(3));
    let outcome = s.prod_push("e-2", "v1.0.0", &a).await;
    assert!(
        matches!(outcome, TargetOutcome::AwaitingApproval { .. }),
        "{outcome:?}"
    );
    s.push("e-3", "main-2", &b).await;
    s.dev_completes(&b, Duration::hours(3)).await;
    s.at(Duration::hours(3) + Duration::minutes(10));
    let outcome = s.prod_push("e-4", "v1.1.0", &b).await;
    assert!(
        matches!(outcome, TargetOutcome::WaitingForUpstream { .. }),
        "{outcome:?}"
    );
    let older = s.record("web-prod", &a).await;
    s.deployer
        .decide(
            &older.id,
            Decision::Approve,
            &super::hook_tests::alice(),
            None,
        )
        .await
        .unwrap();
    let older = s.record("web-prod", &a).await;
    assert_eq!(older.state, State::Rolling);
    let newer = s.record("web-prod", &b).await;
    assert_eq!(
        newer.state,
        State::WaitingForUpstream,
        "{:?}",
        newer.history
    );
    assert_eq!(newer.from_task_definition, older.from_task_definition);

    s.at(Duration::hours(5));
    s.reconcile().await;
    let newer = s.record("web-prod", &b).await;
    assert_eq!(newer.state, State::AwaitingApproval, "{:?}", newer.history);
    assert_eq!(
        Some(&newer.from_task_definition),
        older.to_task_definition.as_ref(),
        "planned against what the older release left running"
    );
    assert_eq!(newer.changes[0].from, format!("{REPOSITORY}@{a}"));
}

/// The upstream takes the digest (its tag is in upstream's repository) but never deploys
/// it (here: it is frozen): an hour after the push, the release is refused rather than
/// left waiting for ever.
#[tokio::test]
async fn a_digest_the_upstream_never_records_is_refused_an_hour_after_its_push() {
    let s = stages("approval");
    // dev-web is frozen: neither its push event nor the reconciler deploys anything there.
    let mut freeze: serde_json::Value =
        serde_json::from_str(include_str!("../../events/operator-unfreeze.json")).unwrap();
    freeze["detail"]["action"] = "freeze".into();
    freeze["detail"]["target"] = "dev-web".into();
    s.deployer
        .handle_deployment_event(&freeze, &invocation())
        .await
        .unwrap();
    let d = digest('d');
    s.deployer.registry.push(ACCOUNT, "app", Some("main-1"), &d);
    let waiting = s.prod_push("e-2", "v1.0.0", &d).await;
    assert!(
        matches!(waiting, TargetOutcome::WaitingForUpstream { .. }),
        "{waiting:?}"
    );
    s.at(Duration::minutes(59));
    s.reconcile().await;
    assert_eq!(
        s.record("web-prod", &d).await.state,
        State::WaitingForUpstream
    );
    s.at(Duration::hours(1) + Duration::minutes(1));
    let report = s.reconcile().await;
    let record = s.record("web-prod", &d).await;
    assert_eq!(record.state, State::Failed, "{report}");
    assert!(record.error.unwrap().contains("dev-web never deployed it"));
}
