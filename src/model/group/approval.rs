//! A run's one approval: a person approves the whole release — every target's image and
//! every step — once, before any step starts. Asked when the run holds the group's line
//! (a run waiting behind another asks nobody yet: what it would change may still move),
//! decided once, and expired when nobody decided in time; a newer release supersedes it
//! while it waits ([`super::line`]).
//!
//! The request is fixed in the record before anyone is told (a retry tells again with the
//! same expiry), so a link always names the expiry the record holds.

use chrono::{DateTime, Utc};

use super::request::RunApproval;
use super::run::{GroupRun, RunState, Stale};
use crate::model::deployment::{
    Action, Actor, AuditEntry, Decision, Delivery, SlackMessage, Verdict,
};

impl GroupRun {
    /// Fixes the request: asked at `now`, open until `expires_at`. Asking again keeps the
    /// first request (and its expiry).
    pub fn ask(&mut self, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<(), Stale> {
        if self.state != RunState::AwaitingApproval {
            return Err(Stale(format!(
                "run {} is {}, not awaiting approval",
                self.id, self.state
            )));
        }
        if self.approval.is_some() {
            return Err(Stale(format!("run {} asked already", self.id)));
        }
        self.approval = Some(RunApproval {
            requested_at: now,
            expires_at,
            decision: None,
            notified_at: None,
            slack: None,
            deliveries: Vec::new(),
        });
        Ok(())
    }

    /// The approvers were told (through the channels in `deliveries`).
    pub fn told(
        &mut self,
        at: DateTime<Utc>,
        slack: Option<SlackMessage>,
        deliveries: Vec<Delivery>,
    ) -> Result<(), Stale> {
        let request = self.open_request()?;
        request.notified_at = Some(at);
        request.slack = slack.or(request.slack.take());
        request.deliveries = deliveries;
        Ok(())
    }

    /// `actor` decides, once, before the request expires. An approval starts the run; a
    /// rejection ends it with nothing started.
    /// An audit entry for `actor`'s attempt at `action` on this run (`outcome`: `taken…`
    /// or why it was refused); `image` lists the release.
    pub fn attempt(
        &self,
        action: Action,
        actor: &Actor,
        outcome: impl Into<String>,
        now: DateTime<Utc>,
    ) -> AuditEntry {
        let release: Vec<&str> = self.release.values().map(String::as_str).collect();
        AuditEntry::of(
            &self.id,
            &release.join(", "),
            action,
            actor,
            outcome.into(),
            now,
        )
    }

    pub fn decided(
        &mut self,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), Stale> {
        if let Some(decision) = self.approval.as_ref().and_then(|a| a.decision.as_ref()) {
            return Err(Stale(format!(
                "run {} was already {} by {} at {}",
                self.id,
                verdict_word(decision.verdict),
                decision.actor,
                decision.at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if self.approval_expired(now) {
            return Err(Stale(format!(
                "the request for run {} expired at {}",
                self.id,
                self.approval
                    .as_ref()
                    .map(|a| a.expires_at.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            )));
        }
        self.open_request()?;
        let to = match verdict {
            Verdict::Approve => RunState::Running,
            Verdict::Reject => RunState::Rejected,
        };
        self.decide(to)?;
        let why = reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        if verdict == Verdict::Reject {
            self.why = Some(format!("rejected by {}{why}", actor.id));
        }
        if let Some(request) = self.approval.as_mut() {
            request.decision = Some(Decision {
                verdict,
                actor: actor.id.clone(),
                channel: actor.channel,
                at: now,
                reason,
            });
        }
        Ok(())
    }

    /// Nobody decided before the request's expiry: the run ends, nothing started.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Result<(), Stale> {
        if !self.approval_expired(now) {
            return Err(Stale(format!("run {}'s request has not expired", self.id)));
        }
        let at = self.approval.as_ref().map(|a| a.expires_at);
        self.decide(RunState::Expired)?;
        self.why = at.map(|at| {
            format!(
                "expired: nobody decided before {}",
                at.format("%Y-%m-%d %H:%M UTC")
            )
        });
        Ok(())
    }

    /// Whether the run awaits a decision whose time ran out.
    pub fn approval_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == RunState::AwaitingApproval
            && self
                .approval
                .as_ref()
                .is_some_and(|a| a.decision.is_none() && now >= a.expires_at)
    }

    /// What the approval binds, as one text: every target's image, in target order. A link
    /// signed over it approves exactly this release.
    pub fn release_text(&self) -> String {
        self.release
            .iter()
            .map(|(target, image)| format!("{target}={image}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn open_request(&mut self) -> Result<&mut RunApproval, Stale> {
        let (id, state) = (self.id.clone(), self.state);
        if state != RunState::AwaitingApproval {
            return Err(Stale(format!("run {id} is {state}, not awaiting approval")));
        }
        self.approval
            .as_mut()
            .ok_or_else(|| Stale(format!("run {id} has asked nobody yet")))
    }
}

pub fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::model::deployment::Channel;
    use crate::model::group::spec::{example, OnFailure};
    use crate::model::group::Next;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 6, 10, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn ada() -> Actor {
        Actor {
            id: "ada (approval link)".into(),
            channel: Channel::Web,
            source: None,
        }
    }

    /// A run of the example group holding its line, asked at 0, expiring at 60.
    fn asked() -> GroupRun {
        let release = BTreeMap::from([
            ("web".to_string(), "r/web@sha256:aa".to_string()),
            ("worker".to_string(), "r/worker@sha256:bb".to_string()),
        ]);
        let mut run = GroupRun::begin("shop-1", &example("shop", OnFailure::Stop), release, true);
        assert!(run.ask(at(0), at(60)).is_err(), "a queued run asks nobody");
        run.admitted().unwrap();
        run.ask(at(0), at(60)).unwrap();
        run.told(at(0), None, vec![]).unwrap();
        run
    }

    #[test]
    fn asking_again_keeps_the_first_request_and_its_expiry() {
        let mut run = asked();
        assert!(run.ask(at(5), at(65)).is_err());
        assert_eq!(run.approval.as_ref().unwrap().expires_at, at(60));
        assert_eq!(run.next(at(5)), Next::AwaitDecision { until: at(60) });
    }

    #[test]
    fn an_approval_starts_the_run_once_and_records_who() {
        let mut run = asked();
        run.decided(Verdict::Approve, &ada(), Some("ship it".into()), at(10))
            .unwrap();
        assert_eq!(run.state, RunState::Running);
        let decision = run.approval.as_ref().unwrap().decision.clone().unwrap();
        assert_eq!(
            (decision.verdict, decision.actor.as_str(), decision.at),
            (Verdict::Approve, "ada (approval link)", at(10))
        );
        let again = run.decided(Verdict::Reject, &ada(), None, at(11));
        assert!(again.unwrap_err().0.contains("already approved by ada"));
        assert_eq!(run.state, RunState::Running);
    }

    #[test]
    fn a_rejection_ends_the_run_with_nothing_started_and_why() {
        let mut run = asked();
        run.decided(Verdict::Reject, &ada(), Some("not today".into()), at(10))
            .unwrap();
        assert_eq!(run.state, RunState::Rejected);
        assert_eq!(
            run.why.as_deref(),
            Some("rejected by ada (approval link): not today")
        );
        assert_eq!(run.next(at(10)), Next::Done);
        assert!(run.steps.iter().all(|s| s.started_at.is_none()));
    }

    #[test]
    fn nobody_decides_after_the_expiry_and_the_run_expires() {
        let mut run = asked();
        assert!(run.expire(at(59)).is_err(), "not a minute early");
        assert_eq!(run.next(at(59)), Next::AwaitDecision { until: at(60) });
        assert_eq!(run.next(at(60)), Next::ExpireApproval);
        let late = run.decided(Verdict::Approve, &ada(), None, at(60));
        assert!(late
            .unwrap_err()
            .0
            .contains("expired at 2026-03-06 11:00 UTC"));
        run.expire(at(60)).unwrap();
        assert_eq!(run.state, RunState::Expired);
        assert_eq!(
            run.why.as_deref(),
            Some("expired: nobody decided before 2026-03-06 11:00 UTC")
        );
        assert!(run.expire(at(61)).is_err(), "once");
    }

    #[test]
    fn a_superseded_run_can_be_decided_no_more() {
        let mut run = asked();
        run.superseded("shop-2").unwrap();
        assert!(run
            .decided(Verdict::Approve, &ada(), None, at(1))
            .unwrap_err()
            .0
            .contains("superseded"));
        assert!(!run.approval_expired(at(90)));
    }

    #[test]
    fn the_binding_names_every_target_and_image() {
        assert_eq!(
            asked().release_text(),
            "web=r/web@sha256:aa\nworker=r/worker@sha256:bb"
        );
    }
}
