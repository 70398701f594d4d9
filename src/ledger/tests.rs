use chrono::Utc;

use super::*;
use crate::memory::MemoryStore;
use crate::model::deployment::{Action, Actor, Channel, State};
use crate::ports::ObjectStore;

fn deployment() -> Deployment {
    crate::model::deployment::example()
}

#[tokio::test]
async fn only_one_claim_wins_and_stale_writes_are_refused() {
    let ledger = Ledger::new(MemoryStore::default());
    let Claim::Claimed(mine) = ledger.claim(deployment()).await.unwrap() else {
        panic!("first claim wins")
    };
    let Claim::Exists(theirs) = ledger.claim(deployment()).await.unwrap() else {
        panic!("second claim loses")
    };
    assert_eq!(theirs.value, mine.value);

    let mut next = mine.value.clone();
    next.advance(State::Rolling, "rolled", Utc::now()).unwrap();
    let saved = ledger.save(&mine, next.clone()).await.unwrap();
    // A second writer holding the old ETag loses.
    assert!(matches!(
        ledger.save(&mine, next).await,
        Err(LedgerError::Conflict { .. })
    ));
    let read = ledger.deployment("web", "img-ab").await.unwrap().unwrap();
    assert_eq!(read.value.state, State::Rolling);
    assert_eq!(read.etag, saved.etag);
}

#[test]
fn an_unsettled_head_holds_others_back_until_its_lease_ends() {
    let now = Utc::now();
    let mut head = Head {
        deployment_id: "a".into(),
        digest: "sha256:a".into(),
        pushed_at: None,
        version: None,
        settled: false,
        lease_until: Some(now + chrono::Duration::seconds(30)),
        updated_at: now,
    };
    assert!(head.holds_back_others(now));
    assert!(!head.holds_back_others(now + chrono::Duration::seconds(31)));
    head.settled = true;
    assert!(!head.holds_back_others(now));
}

#[tokio::test]
async fn the_head_is_compare_and_set() {
    let ledger = Ledger::new(MemoryStore::default());
    let head = Head {
        deployment_id: "a".into(),
        digest: "sha256:a".into(),
        pushed_at: None,
        version: None,
        settled: true,
        lease_until: None,
        updated_at: Utc::now(),
    };
    let first = ledger.set_head("web", None, head.clone()).await.unwrap();
    assert!(matches!(
        ledger.set_head("web", None, head.clone()).await,
        Err(LedgerError::Conflict { .. })
    ));
    ledger
        .set_head(
            "web",
            Some(&first),
            Head {
                deployment_id: "b".into(),
                ..head.clone()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        ledger.set_head("web", Some(&first), head).await,
        Err(LedgerError::Conflict { .. })
    ));
    assert_eq!(
        ledger
            .head("web")
            .await
            .unwrap()
            .unwrap()
            .value
            .deployment_id,
        "b"
    );
}

#[test]
fn two_attempts_on_one_deployment_are_audited_under_two_keys() {
    let d = deployment();
    let at = Utc::now();
    let alice = Actor {
        id: "alice".into(),
        channel: Channel::Web,
        source: None,
    };
    let first = d.attempt(Action::Approve, &alice, "taken", at);
    let second = d.attempt(Action::Approve, &alice, "refused: already approved", at);
    assert_ne!(
        audit_path("web", "k", &first),
        audit_path("web", "k", &second)
    );
}

fn head(id: &str) -> Head {
    Head {
        deployment_id: id.into(),
        digest: format!("sha256:{id}"),
        pushed_at: None,
        version: None,
        settled: true,
        lease_until: None,
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn a_write_to_one_part_of_the_target_document_is_no_conflict_for_another() {
    let ledger = Ledger::new(MemoryStore::default());
    let first = ledger.set_head("web", None, head("a")).await.unwrap();
    let Claim::Claimed(claimed) = ledger.claim(deployment()).await.unwrap() else {
        panic!("the claim wins")
    };
    // The head read before the claim is still the head: its write goes through.
    let second = ledger
        .set_head("web", Some(&first), head("b"))
        .await
        .unwrap();
    let mut next = claimed.value.clone();
    next.advance(State::Rolling, "rolled", Utc::now()).unwrap();
    ledger.save(&claimed, next).await.unwrap();
    // A stale read of the same part still loses.
    assert!(matches!(
        ledger.set_head("web", Some(&first), head("c")).await,
        Err(LedgerError::Conflict { .. })
    ));
    let now = ledger.head("web").await.unwrap().unwrap();
    assert_eq!(now.value.deployment_id, second.value.deployment_id);
}

/// A bucket written before `target.json` existed: head, rollouts, a source head and a
/// deployment each in an object of their own.
#[tokio::test]
async fn a_ledger_of_the_earlier_layout_is_read_and_its_first_write_creates_the_document() {
    let store = MemoryStore::default();
    let put = |path: &str, value: serde_json::Value| {
        let body = serde_json::to_vec(&value).unwrap();
        let store = &store;
        let path = path.to_string();
        async move { store.create(&path, body).await.unwrap() }
    };
    put(
        "targets/web/head.json",
        serde_json::to_value(head("old")).unwrap(),
    )
    .await;
    let rollouts = Rollouts::default();
    put(
        "targets/web/rollouts.json",
        serde_json::to_value(&rollouts).unwrap(),
    )
    .await;
    let source = SourceHead {
        deployment_id: "web/src-1".into(),
        key: "deploy/web.json".into(),
        version_id: "v1".into(),
        sequencer: "0A".into(),
        updated_at: Utc::now(),
    };
    put(
        &legacy_source_head_path("web", "deploy/web.json"),
        serde_json::to_value(&source).unwrap(),
    )
    .await;
    let mut rolling = deployment();
    rolling
        .advance(State::Rolling, "rolled", Utc::now())
        .unwrap();
    put(
        "targets/web/deployments/img-ab.json",
        serde_json::to_value(&rolling).unwrap(),
    )
    .await;
    let ledger = Ledger::new(store);

    let read_head = ledger.head("web").await.unwrap().unwrap();
    assert_eq!(read_head.value.deployment_id, "old");
    let read_source = ledger
        .source_head("web", "deploy/web.json")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_source.value.version_id, "v1");
    // A deployment in its own object stays there, and a second claim of it is refused.
    assert!(matches!(
        ledger.claim(deployment()).await.unwrap(),
        Claim::Exists(existing) if existing.value.state == State::Rolling
    ));
    let read = ledger.deployment("web", "img-ab").await.unwrap().unwrap();
    let mut done = read.value.clone();
    done.advance(State::Succeeded, "completed", Utc::now())
        .unwrap();
    ledger.save(&read, done).await.unwrap();

    // The first write of a part creates the document from the earlier objects.
    let newer = SourceHead {
        version_id: "v2".into(),
        ..source.clone()
    };
    ledger
        .set_source_head("web", Some(&read_source), newer)
        .await
        .unwrap();
    let document = ledger.store().json("targets/web/target.json").unwrap();
    assert_eq!(document["head"]["deployment_id"], "old");
    assert_eq!(document["sources"]["deploy/web.json"]["version_id"], "v2");
    assert!(document["rollouts"].is_object());
    assert_eq!(
        ledger
            .deployment("web", "img-ab")
            .await
            .unwrap()
            .unwrap()
            .value
            .state,
        State::Succeeded
    );
}

/// Moving a finished deployment to its own object keeps compare-and-set: a change from a
/// copy read before the move loses, and so does one whose object another writer has
/// changed meanwhile.
#[tokio::test]
async fn a_finished_deployment_moves_to_its_own_object_only_from_what_was_read() {
    let ledger = Ledger::new(MemoryStore::default());
    let Claim::Claimed(claimed) = ledger.claim(deployment()).await.unwrap() else {
        panic!("the claim wins")
    };
    let mut rolling = claimed.value.clone();
    rolling
        .advance(State::Rolling, "rolled", Utc::now())
        .unwrap();
    let rolling = ledger.save(&claimed, rolling).await.unwrap();
    assert_eq!(rolling.home, Home::Target);

    let mut failed = rolling.value.clone();
    failed
        .advance(State::Failed, "ECS: FAILED", Utc::now())
        .unwrap();
    let moved = ledger.save(&rolling, failed).await.unwrap();
    assert_eq!(moved.home, Home::Object);
    let mut succeeded = rolling.value.clone();
    succeeded
        .advance(State::Succeeded, "ECS: COMPLETED", Utc::now())
        .unwrap();
    assert!(matches!(
        ledger.save(&rolling, succeeded).await,
        Err(LedgerError::Conflict { .. })
    ));

    // Another deployment of the target, whose own object someone else wrote meanwhile.
    let mut other = deployment();
    other.key = "img-cd".into();
    other.id = Deployment::id_for("web", "img-cd");
    let Claim::Claimed(other) = ledger.claim(other).await.unwrap() else {
        panic!("the claim wins")
    };
    let mut theirs = other.value.clone();
    theirs
        .advance(State::Superseded, "theirs", Utc::now())
        .unwrap();
    let path = deployment_path("web", "img-cd");
    ledger
        .store()
        .create(&path, serde_json::to_vec(&theirs).unwrap())
        .await
        .unwrap();
    let mut ours = other.value.clone();
    ours.advance(State::Failed, "ours", Utc::now()).unwrap();
    assert!(matches!(
        ledger.save(&other, ours).await,
        Err(LedgerError::Conflict { .. })
    ));
    assert_eq!(ledger.store().json(&path).unwrap()["state"], "superseded");
}

#[tokio::test]
async fn a_group_run_is_created_once_and_moved_only_from_the_version_read() {
    use crate::model::group::{GroupRun, OnFailure, Step};
    let group = crate::model::group::Group {
        name: "shop".into(),
        steps: vec![Step::Service {
            target: "web".into(),
        }],
        on_failure: OnFailure::Stop,
    };
    let release =
        std::collections::BTreeMap::from([("web".to_string(), "r@sha256:aa".to_string())]);
    let run = GroupRun::begin("shop-1", &group, release, false);
    let ledger = Ledger::new(MemoryStore::default());
    let created = ledger.set_group_run(None, run.clone()).await.unwrap();
    // A duplicate delivery creates nothing: the run exists.
    assert!(matches!(
        ledger.set_group_run(None, run.clone()).await,
        Err(LedgerError::Conflict { .. })
    ));
    let mut next = run.clone();
    next.registered("web", "web:2").unwrap();
    let saved = ledger
        .set_group_run(Some(&created), next.clone())
        .await
        .unwrap();
    assert!(
        matches!(
            ledger.set_group_run(Some(&created), next).await,
            Err(LedgerError::Conflict { .. })
        ),
        "a writer holding the old version loses"
    );
    let read = ledger.group_run("shop", "shop-1").await.unwrap().unwrap();
    assert_eq!(read.etag, saved.etag);
    assert_eq!(read.value.revisions["web"], "web:2");
    assert!(ledger
        .store()
        .get("groups/shop/runs/shop-1.json")
        .await
        .unwrap()
        .is_some());
}
