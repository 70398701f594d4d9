use super::*;

fn deployment() -> Deployment {
    crate::model::deployment::example()
}

#[test]
fn the_happy_paths_are_allowed() {
    use State::*;
    for path in [
        &[Planned, Rolling, Succeeded][..],
        &[Planned, Rolling, Failed],
        &[Planned, Rolling, RolledBack],
        &[Planned, Rolling, Failed, RolledBack],
        &[Planned, AwaitingApproval, Approved, Rolling, Succeeded],
        &[Planned, AwaitingApproval, Rejected],
        &[Planned, AwaitingApproval, Expired],
        &[Planned, AwaitingApproval, Superseded],
        &[Planned, Superseded],
    ] {
        let mut d = deployment();
        for next in &path[1..] {
            d.advance(*next, "test", Utc::now())
                .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        }
        assert_eq!(d.history.len(), path.len() - 1);
    }
}

#[test]
fn nothing_moves_backwards_or_out_of_a_final_state() {
    use State::*;
    let all = [
        Planned,
        AwaitingApproval,
        Approved,
        Rejected,
        Expired,
        Superseded,
        Rolling,
        Succeeded,
        Failed,
        RolledBack,
    ];
    for from in all.into_iter().filter(|s| s.is_terminal()) {
        for to in all {
            // The refinements: a failure that ECS then rolls back, and a paused rollout
            // rejected, which ECS rolls back once told.
            if matches!((from, to), (Failed, RolledBack) | (Rejected, RolledBack)) {
                continue;
            }
            assert!(!from.can_move_to(to), "{from} -> {to} must be refused");
        }
    }
    assert!(!RolledBack.can_move_to(Failed));
    assert!(!Succeeded.can_move_to(Failed));
    assert!(!Rolling.can_move_to(Planned));
    // Only a rollout ECS paused for a person goes back to waiting (deployer::hooks).
    assert!(Rolling.can_move_to(AwaitingApproval));
    assert!(
        !AwaitingApproval.can_move_to(Rolling),
        "approval must come first"
    );
    let mut d = deployment();
    d.advance(Rolling, "", Utc::now()).unwrap();
    d.advance(Succeeded, "", Utc::now()).unwrap();
    let err = d.advance(Rolling, "late event", Utc::now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "deployment web.img-ab: cannot move from succeeded to rolling"
    );
    assert_eq!(d.state, Succeeded);
}

fn awaiting(now: DateTime<Utc>) -> Deployment {
    let mut d = deployment();
    d.advance(State::AwaitingApproval, "policy approval", now)
        .unwrap();
    d.approval = Some(ApprovalRequest {
        step: 0,
        requested_at: now,
        expires_at: now + chrono::Duration::hours(24),
        decision: None,
        slack: None,
        notified_at: None,
        deliveries: Vec::new(),
    });
    d
}

fn person(id: &str, channel: Channel) -> Actor {
    Actor {
        id: id.into(),
        channel,
        source: None,
    }
}

#[test]
fn a_decision_is_taken_once_and_every_attempt_is_audited() {
    let now = Utc::now();
    let mut d = awaiting(now);
    let (taken, first) = d.decide(Verdict::Approve, &person("alice", Channel::Web), None, now);
    taken.unwrap();
    assert_eq!(d.state, State::Approved);
    let (refused, second) = d.decide(
        Verdict::Reject,
        &person("bob", Channel::Slack),
        Some("no".into()),
        now,
    );
    let refused = refused.unwrap_err();
    assert!(
        matches!(&refused, DecisionRefused::AlreadyDecided(decision) if decision.actor == "alice"),
        "{refused}"
    );
    assert!(refused.to_string().contains("alice"), "{refused}");
    assert_eq!(
        d.state,
        State::Approved,
        "a second decision changes nothing"
    );
    assert_eq!(
        (first.actor.as_str(), first.outcome.as_str()),
        ("alice", "taken")
    );
    assert!(
        second.outcome.starts_with("refused: already"),
        "{}",
        second.outcome
    );
}

#[test]
fn a_rejection_records_who_and_why() {
    let now = Utc::now();
    let mut d = awaiting(now);
    d.decide(
        Verdict::Reject,
        &person("carol", Channel::Slack),
        Some("freeze week".into()),
        now,
    )
    .0
    .unwrap();
    assert_eq!(d.state, State::Rejected);
    let decision = d.approval.unwrap().decision.unwrap();
    assert_eq!(
        (decision.actor.as_str(), decision.reason.as_deref()),
        ("carol", Some("freeze week"))
    );
}

#[test]
fn an_expired_request_cannot_be_decided_and_moves_to_expired() {
    let now = Utc::now();
    let mut d = awaiting(now);
    let late = now + chrono::Duration::hours(25);
    let (expired, entry) = d.decide(Verdict::Approve, &person("alice", Channel::Web), None, late);
    assert!(matches!(expired, Err(DecisionRefused::Expired(_))));
    assert!(entry.outcome.contains("expired"), "{}", entry.outcome);
    assert_eq!(d.state, State::Expired);
    assert!(matches!(
        d.decide(Verdict::Approve, &person("alice", Channel::Web), None, late)
            .0,
        Err(DecisionRefused::NotAwaiting(State::Expired))
    ));
}

#[test]
fn a_superseded_or_unrequested_deployment_cannot_be_decided() {
    let now = Utc::now();
    let mut d = awaiting(now);
    d.advance(State::Superseded, "superseded by web.img-newer", now)
        .unwrap();
    assert_eq!(
        d.decide(Verdict::Approve, &person("alice", Channel::Web), None, now)
            .0,
        Err(DecisionRefused::NotAwaiting(State::Superseded))
    );
    let mut auto = deployment();
    assert_eq!(
        auto.decide(Verdict::Approve, &person("alice", Channel::Web), None, now)
            .0,
        Err(DecisionRefused::NotAwaiting(State::Planned))
    );
}

#[test]
fn leases_keep_others_out_until_they_expire() {
    let now = Utc::now();
    let mut d = deployment();
    assert!(!d.is_held_by_other("b", now));
    d.lease = Some(Lease {
        holder: "a".into(),
        until: now + chrono::Duration::seconds(60),
    });
    assert!(d.is_held_by_other("b", now));
    assert!(
        !d.is_held_by_other("a", now),
        "a retry of the same request takes over"
    );
    assert!(!d.is_held_by_other("b", now + chrono::Duration::seconds(61)));
}
