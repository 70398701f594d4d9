//! Promotion across accounts over the in-memory adapters: dev's Slipway (account
//! 111122223333) deploys a digest; prod's, in its own account, takes the same digest only
//! once dev's ledger record says it succeeded — read from dev's ledger, which prod only
//! reads — and dev's hint, delivered from dev's account, makes prod look again at once.
//! A hint from any other account, or about a target prod does not promote from, is
//! refused; an image dev never ran is refused.

use std::sync::Arc;

use serde_json::json;

use super::pipeline_tests::invocation;
use super::*;
use crate::input::config::Home;
use crate::input::hint::UpstreamSucceeded;
use crate::ledger::image_key;
use crate::memory::{
    digest, ecr_push, MemoryEcs, MemoryHints, MemoryRegistry, MemorySources, MemoryStore, ACCOUNT,
    REGION,
};
use crate::model::deployment::{Deployment, State};
use crate::ports::Silent;

const DEV_ACCOUNT: &str = "111122223333";

type Slipway = Deployer<(
    MemoryEcs,
    MemoryRegistry,
    Arc<MemoryStore>,
    MemorySources,
    Silent,
)>;

struct Accounts {
    dev: Slipway,
    prod: Slipway,
    dev_hints: Arc<MemoryHints>,
}

fn image(account: &str, tag: &str) -> String {
    format!("{account}.dkr.ecr.{REGION}.amazonaws.com/app:{tag}")
}

fn slipway(
    config: serde_json::Value,
    account: &str,
    cluster: &str,
    store: Arc<MemoryStore>,
) -> Slipway {
    let home = Home {
        account: account.into(),
        region: REGION.into(),
    };
    let config = Config::from_json(&config.to_string(), &home).unwrap();
    let ecs =
        MemoryEcs::default().with_service(cluster, "web", "web", &[("app", &image(account, "v0"))]);
    Deployer::new(
        config,
        ecs,
        MemoryRegistry::default(),
        store,
        MemorySources::default(),
        false,
    )
}

/// dev: `web` deploys every `main-*` build, and others promote from it. prod: `web-prod`
/// takes `v*` tags, only what succeeded on dev's `web` (named `dev-web` here).
fn accounts() -> Accounts {
    let dev_ledger = Arc::new(MemoryStore::default());
    let dev_hints = Arc::new(MemoryHints::default());
    let dev = slipway(
        json!({"targets": [{"name": "web", "cluster": "dev", "service": "web", "containers": ["app"],
                            "repository": "app", "tags": {"glob": "main-*"}, "policy": "auto"}],
               "promoted_elsewhere": ["web"]}),
        DEV_ACCOUNT,
        "dev",
        dev_ledger.clone(),
    )
    .with_hints(dev_hints.clone());
    let prod = slipway(
        json!({"targets": [{"name": "web-prod", "cluster": "prod", "service": "web", "containers": ["app"],
                            "repository": "app", "tags": {"glob": "v*"}, "policy": "auto",
                            "promotion": {"from": ["dev-web"]}}],
               "upstreams": [{"name": "dev-web", "account": DEV_ACCOUNT,
                              "ledger_bucket": "slipway-dev-ledger-111122223333",
                              "target": "web", "tags": {"glob": "main-*"}}]}),
        ACCOUNT,
        "prod",
        Arc::new(MemoryStore::default()),
    )
    .with_remote_ledger("dev-web", dev_ledger);
    Accounts {
        dev,
        prod,
        dev_hints,
    }
}

/// ECR's push event in `account`.
fn pushed(id: &str, account: &str, tag: &str, digest: &str) -> serde_json::Value {
    let mut event = ecr_push(id, "app", Some(tag), digest);
    event["account"] = account.into();
    event["resources"] = json!([format!("arn:aws:ecr:{REGION}:{account}:repository/app")]);
    event
}

fn outcome(report: Report, target: &str) -> TargetOutcome {
    match report.outcome {
        EventOutcome::Targets { targets, .. } => targets
            .into_iter()
            .find(|t| t.target == target)
            .map(|t| t.outcome)
            .unwrap_or_else(|| panic!("no outcome for {target}")),
        other => panic!("{other:?}"),
    }
}

impl Accounts {
    /// CI pushes `main-<n>` to dev; dev's Slipway rolls it.
    async fn dev_push(&self, tag: &str, digest: &str) -> TargetOutcome {
        self.dev
            .registry
            .push(DEV_ACCOUNT, "app", Some(tag), digest);
        let report = self
            .dev
            .handle_ecr_event(
                &pushed(&format!("d-{tag}"), DEV_ACCOUNT, tag, digest),
                &invocation(),
            )
            .await
            .unwrap();
        outcome(report, "web")
    }

    /// ECS reports dev's rollout of `digest` COMPLETED.
    async fn dev_completes(&self, digest: &str) {
        let id = Deployment::id_for("web", &image_key(digest));
        let ecs_id = self
            .dev
            .deployment(&id)
            .await
            .unwrap()
            .value
            .ecs_deployment_id
            .unwrap();
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/ecs-deployment-completed.json"))
                .unwrap();
        event["id"] = format!("done-{digest}").into();
        event["account"] = DEV_ACCOUNT.into();
        event["resources"][0] =
            format!("arn:aws:ecs:{REGION}:{DEV_ACCOUNT}:service/dev/web").into();
        event["detail"]["deploymentId"] = ecs_id.into();
        self.dev
            .handle_deployment_event(&event, &invocation())
            .await
            .unwrap();
        assert_eq!(
            self.dev.deployment(&id).await.unwrap().value.state,
            State::Succeeded
        );
    }

    /// The build reaches prod's registry by replication (with its dev tag), then the
    /// release tag `tag` names it there (CI's release step); prod's Slipway handles it.
    async fn prod_release(&self, dev_tag: Option<&str>, tag: &str, digest: &str) -> TargetOutcome {
        if let Some(dev_tag) = dev_tag {
            self.prod
                .registry
                .push(ACCOUNT, "app", Some(dev_tag), digest);
        }
        self.prod.registry.push(ACCOUNT, "app", Some(tag), digest);
        let report = self
            .prod
            .handle_ecr_event(
                &pushed(&format!("p-{tag}"), ACCOUNT, tag, digest),
                &invocation(),
            )
            .await
            .unwrap();
        outcome(report, "web-prod")
    }

    /// The hint dev published, as EventBridge delivers it to prod from `account`.
    async fn hint_from(&self, account: &str, hint: &UpstreamSucceeded) -> Report {
        let event = json!({"version": "0", "id": format!("h-{account}"),
            "detail-type": "Slipway Upstream Succeeded", "source": "slipway.promotion",
            "account": account, "time": "2026-12-07T10:04:12Z", "region": REGION,
            "resources": [], "detail": hint});
        self.prod.handle_hint(&event, &invocation()).await.unwrap()
    }

    async fn prod_record(&self, digest: &str) -> Deployment {
        let id = Deployment::id_for("web-prod", &image_key(digest));
        self.prod.deployment(&id).await.unwrap().value
    }
}

#[tokio::test]
async fn prod_waits_for_devs_rollout_then_its_hint_from_devs_account_rolls_the_same_digest() {
    let a = accounts();
    let d = digest('d');
    assert!(matches!(
        a.dev_push("main-1", &d).await,
        TargetOutcome::Rolling { .. }
    ));

    // Dev's record says rolling: prod waits, it does not refuse.
    let waiting = a.prod_release(Some("main-1"), "v1.0.0", &d).await;
    assert!(
        matches!(waiting, TargetOutcome::WaitingForUpstream { .. }),
        "{waiting:?}"
    );
    assert_eq!(
        a.prod.ecs.running("prod", "web").revision,
        1,
        "nothing reached prod's ECS"
    );

    a.dev_completes(&d).await;
    let published = a.dev_hints.published();
    assert_eq!(
        published.len(),
        1,
        "dev hints its success though no stage of its own waits"
    );

    let report = a.hint_from(DEV_ACCOUNT, &published[0]).await;
    let EventOutcome::Hint {
        upstream,
        looked_again,
    } = &report.outcome
    else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!(upstream, "dev-web");
    assert_eq!(looked_again.len(), 1, "{looked_again:?}");
    assert!(
        matches!(looked_again[0].outcome, Some(TargetOutcome::Rolling { .. })),
        "{looked_again:?}"
    );
    let running = a.prod.ecs.running("prod", "web");
    assert!(
        running.containers.iter().any(|c| c.image.ends_with(&d)),
        "{running:?}"
    );
    let evidence = a.prod_record(&d).await.promotion.unwrap().evidence;
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].upstream, "dev-web");
    assert_eq!(
        evidence[0].deployment_id,
        Deployment::id_for("web", &image_key(&d))
    );
}

#[tokio::test]
async fn an_image_dev_never_ran_is_refused_in_prod() {
    let a = accounts();
    let built_for_prod = digest('e');

    // Pushed straight to prod under a release tag: no dev tag, no record in dev's ledger.
    let refused = a.prod_release(None, "v1.0.0", &built_for_prod).await;

    let TargetOutcome::NotPromoted { reason } = refused else {
        panic!("{refused:?}")
    };
    assert!(reason.contains("dev-web"), "{reason}");
    assert_eq!(a.prod_record(&built_for_prod).await.state, State::Failed);
    assert_eq!(a.prod.ecs.running("prod", "web").revision, 1);
}

#[tokio::test]
async fn a_hint_from_another_account_or_about_another_target_is_refused_unread() {
    let a = accounts();
    let d = digest('d');
    a.dev_push("main-1", &d).await;
    a.prod_release(Some("main-1"), "v1.0.0", &d).await;
    a.dev_completes(&d).await;
    let hint = a.dev_hints.published().remove(0);

    let forged = a.hint_from("999999999999", &hint).await;
    let mut other_target = hint.clone();
    other_target.target = "api".into();
    other_target.deployment_id = "api.img-1".into();
    let elsewhere = a.hint_from(DEV_ACCOUNT, &other_target).await;

    for report in [forged, elsewhere] {
        let EventOutcome::Ignored { reason } = &report.outcome else {
            panic!("{:?}", report.outcome)
        };
        assert!(reason.contains("refused"), "{reason}");
    }
    assert_eq!(
        a.prod_record(&d).await.state,
        State::WaitingForUpstream,
        "no refused hint made prod look again"
    );
}
