//! A deployment and its state machine: where it is in its life, who triggered and who
//! decided it, the approval request it carries, and the only moves it may make. Plain
//! data; the ledger stores it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::plan::ImageChange;

pub mod progress;
mod state;
mod window_hold;
pub use progress::Progress;
pub use state::State;
pub use window_hold::{PromotionCheck, SoakBypass, WindowHold, WindowOverride, OVERRIDE_LASTS};

/// Who is working on a deployment, and until when. An invocation that dies mid-way
/// leaves its lease to expire, so Lambda's retry can take over; a duplicate delivered
/// while the lease is live backs off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// What started a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    EcrPush {
        event_id: String,
        repository: String,
        tag: String,
        digest: String,
        pushed_at: Option<DateTime<Utc>>,
    },
    SourceUpload {
        event_id: String,
        bucket: String,
        key: String,
        version_id: String,
        sequencer: String,
        manifest: ManifestKind,
        requester: Option<String>,
    },
    /// An operator asked to roll back to the last known good release.
    Rollback {
        event_id: String,
        requested_by: String,
        reason: Option<String>,
        /// The deployment whose release this restores.
        to_deployment_id: String,
        /// That release in words, e.g. `app:v1.4.1`.
        #[serde(default)]
        to_release: String,
    },
    /// A service step of a release group's run (or its rollback): the group's one
    /// approval covers it, and the run decides when it rolls.
    GroupStep {
        group: String,
        run_id: String,
        step: String,
        /// Putting the service back to what it ran before the run (`rollback-completed`).
        #[serde(default)]
        rollback: bool,
    },
    /// A deployment ECS reported that Slipway did not start (the console, the CLI, another
    /// tool): recorded so that the ledger shows what really runs.
    External {
        event_id: String,
        ecs_deployment_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub state: State,
    pub note: String,
}

/// One deployment of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// `<target>.<key>`; unique across the ledger.
    pub id: String,
    pub target: String,
    pub key: String,
    pub cluster: String,
    pub service: String,
    pub state: State,
    pub trigger: Trigger,
    /// The image the new revision runs, pinned by digest.
    pub image: String,
    /// The tag's semver version, when the target orders by semver.
    pub version: Option<String>,
    pub changes: Vec<ImageChange>,
    /// Every difference from the running task definition, names only: what an approver
    /// is shown, fixed at plan time.
    #[serde(default)]
    pub diff: Vec<String>,
    pub from_task_definition: String,
    pub to_task_definition: Option<String>,
    /// The PRIMARY deployment id UpdateService returned; ECS events are matched on it.
    pub ecs_deployment_id: Option<String>,
    pub lease: Option<Lease>,
    /// Why a deployment failed before it reached ECS (bad input, missing image…), or
    /// why the last attempt stopped on a transient error (cleared once it rolls).
    #[serde(default)]
    pub error: Option<String>,
    /// Set while and after the deployment waits for a person (policy `approval`).
    #[serde(default)]
    pub approval: Option<ApprovalRequest>,
    /// When ECS reported the rollout's end (its `updatedAt`).
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// What ECS's circuit breaker rolled the service back to, in words.
    #[serde(default)]
    pub rolled_back_to: Option<String>,
    /// Which outcome people were told of, and when: a retry after a failed send tells
    /// them again, a duplicate event does not, and a rollback after a failure is news.
    #[serde(default)]
    pub outcome_notified: Option<Notified>,
    /// How often an invocation took this deployment over from an earlier one that
    /// stopped mid-way (killed, timed out, failed and retried). After a takeover the
    /// earlier attempt may have registered a revision it did not live to record.
    #[serde(default)]
    pub takeovers: u32,
    /// Set when the target rolls with blue/green, canary or linear (or alarms): ECS's
    /// service deployment and where it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Set while (and after) the target's deployment window held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowHold>,
    /// Set for a target with a `promotion` block: what upstream showed, or why it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionCheck>,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    pub state: State,
    pub at: DateTime<Utc>,
    /// Each channel's result (a failed one is recorded, not retried, when another worked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}

/// One channel's result of telling people (`email`: the SNS topic; `slack`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel: String,
    pub sent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl Delivery {
    pub fn of<T, E: std::fmt::Display>(
        channel: &str,
        result: &Result<T, E>,
        at: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            channel: channel.to_string(),
            sent: result.is_ok(),
            error: result.as_ref().err().map(ToString::to_string),
            at,
        }
    }
}

/// A request for a person's decision, and the decision once taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// 0 for the first request; a canary or linear rollout that asks at every step asks
    /// again (1, 2, …) at each later pause. Links are bound to it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub step: u32,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decision: Option<Decision>,
    /// The Slack message that asked, so that it can be edited when the request ends.
    #[serde(default)]
    pub slack: Option<SlackMessage>,
    /// When SNS and Slack were asked (a retry after a failed notification asks again).
    #[serde(default)]
    pub notified_at: Option<DateTime<Utc>>,
    /// Each channel's result of asking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}

/// Where a Slack message lives: enough for `chat.update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
}

/// Who acted, through which channel, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// For Slack the verified user id (`U…`, with the name Slack sent); for the web page the
    /// name the link holder typed; `slipway` for Slipway's own moves.
    pub id: String,
    pub channel: Channel,
    /// The web request's source IP and user agent; Slack's team id.
    #[serde(default)]
    pub source: Option<String>,
}

impl Actor {
    /// Slipway itself (superseding, expiring).
    pub fn slipway() -> Actor {
        Actor {
            id: "slipway".into(),
            channel: Channel::Slipway,
            source: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub actor: String,
    pub channel: Channel,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn past_tense(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
        }
    }
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Web,
    Slack,
    /// Slipway's own moves: superseding an older request, expiring one.
    Slipway,
    /// The operator endpoint (`slipway approve`): the actor is the IAM caller's ARN, as
    /// API Gateway verified the request's signature.
    Iam,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Approve,
    Reject,
    Expire,
    Supersede,
    /// An approver let a release through its closed deployment window.
    OverrideWindow,
    /// An approver bypassed a release's promotion soak (a hotfix).
    BypassSoak,
}

impl From<Verdict> for Action {
    fn from(verdict: Verdict) -> Action {
        match verdict {
            Verdict::Approve => Action::Approve,
            Verdict::Reject => Action::Reject,
        }
    }
}

/// One attempt to act on a deployment awaiting approval, taken or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub deployment_id: String,
    pub actor: String,
    pub channel: Channel,
    #[serde(default)]
    pub source: Option<String>,
    pub action: Action,
    pub image: String,
    /// `taken`, or why the attempt was refused.
    pub outcome: String,
}

impl AuditEntry {
    /// `actor`'s attempt at `action` on `id` (a deployment, or a release group run) of
    /// `image`, and what became of it.
    pub fn of(
        id: &str,
        image: &str,
        action: Action,
        actor: &Actor,
        outcome: String,
        at: DateTime<Utc>,
    ) -> AuditEntry {
        AuditEntry {
            at,
            deployment_id: id.to_string(),
            actor: actor.id.clone(),
            channel: actor.channel,
            source: actor.source.clone(),
            action,
            image: image.to_string(),
            outcome,
        }
    }
}

/// Why a decision was not taken. Each says what the person should know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    #[error("already {verdict} by {actor} at {at}", verdict = .0.verdict.past_tense(), actor = .0.actor, at = .0.at.format("%Y-%m-%d %H:%M:%S UTC"))]
    AlreadyDecided(Decision),
    #[error("the approval request expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("this deployment is {0}: there is nothing to decide")]
    NotAwaiting(State),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("deployment {id}: cannot move from {from} to {to}")]
pub struct TransitionError {
    pub id: String,
    pub from: State,
    pub to: State,
}

impl Deployment {
    /// A deployment's id: `<target>.<key>`, the one place it is spelt. The key names what
    /// was deployed (`img-<digest hex>`, `src-…`, `rb-…`, `ext-…`), so the id does too.
    pub fn id_for(target: &str, key: &str) -> String {
        format!("{target}.{key}")
    }

    /// A new deployment of `cluster/service` for `target`, `planned`: nothing decided,
    /// registered or rolled yet, its id derived from the target and key. The pipelines
    /// set what they know on top (`Deployment { image, changes, .. Deployment::new(…) }`).
    pub fn new(
        target: &str,
        cluster: &str,
        service: &str,
        key: impl Into<String>,
        trigger: Trigger,
    ) -> Deployment {
        let key = key.into();
        Deployment {
            id: Deployment::id_for(target, &key),
            target: target.to_string(),
            key,
            cluster: cluster.to_string(),
            service: service.to_string(),
            state: State::Planned,
            trigger,
            image: String::new(),
            version: None,
            changes: Vec::new(),
            diff: Vec::new(),
            from_task_definition: String::new(),
            to_task_definition: None,
            ecs_deployment_id: None,
            lease: None,
            error: None,
            approval: None,
            ended_at: None,
            rolled_back_to: None,
            outcome_notified: None,
            takeovers: 0,
            progress: None,
            window: None,
            promotion: None,
            history: Vec::new(),
        }
    }

    /// Moves to `next` if the state machine allows it, noting why in the history.
    pub fn advance(
        &mut self,
        next: State,
        note: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        if !self.state.can_move_to(next) {
            return Err(TransitionError {
                id: self.id.clone(),
                from: self.state,
                to: next,
            });
        }
        self.state = next;
        self.history.push(HistoryEntry {
            at,
            state: next,
            note: note.into(),
        });
        Ok(())
    }

    /// Hands the deployment to another invocation (`holder`, until its deadline).
    pub fn take_over(&mut self, holder: &str, until: DateTime<Utc>) {
        self.lease = Some(Lease {
            holder: holder.to_string(),
            until,
        });
        self.takeovers += 1;
    }

    /// Takes a person's decision, once; a request past its expiry moves to `expired`
    /// instead. Returns the audit entry for this attempt, taken or refused, which the
    /// caller appends to the ledger's audit trail.
    pub fn decide(
        &mut self,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> (Result<(), DecisionRefused>, AuditEntry) {
        let result = self.try_decide(verdict, actor, reason, now);
        let outcome = match &result {
            Ok(()) => "taken".to_string(),
            Err(refused) => format!("refused: {refused}"),
        };
        let entry = self.attempt(verdict.into(), actor, outcome, now);
        (result, entry)
    }

    /// The audit entry for one attempt to act on this deployment.
    pub fn attempt(
        &self,
        action: Action,
        actor: &Actor,
        outcome: impl Into<String>,
        now: DateTime<Utc>,
    ) -> AuditEntry {
        AuditEntry::of(&self.id, &self.image, action, actor, outcome.into(), now)
    }

    /// Whether the request is past its expiry (and so cannot be decided any more).
    pub fn approval_expired(&self, now: DateTime<Utc>) -> bool {
        self.approval
            .as_ref()
            .is_some_and(|request| now >= request.expires_at)
    }

    fn try_decide(
        &mut self,
        verdict: Verdict,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DecisionRefused> {
        let Some(request) = self.approval.clone() else {
            return Err(DecisionRefused::NotAwaiting(self.state));
        };
        if let Some(decision) = request.decision {
            return Err(DecisionRefused::AlreadyDecided(decision));
        }
        if self.state != State::AwaitingApproval {
            return Err(DecisionRefused::NotAwaiting(self.state));
        }
        if now >= request.expires_at {
            let note = format!("nobody decided before {}", request.expires_at);
            self.advance(State::Expired, note, now)
                .expect("awaiting-approval can expire");
            return Err(DecisionRefused::Expired(request.expires_at));
        }
        let (next, word) = match verdict {
            Verdict::Approve => (State::Approved, "approved"),
            Verdict::Reject => (State::Rejected, "rejected"),
        };
        let why = reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let (who, channel) = (&actor.id, actor.channel);
        self.advance(next, format!("{word} by {who} via {channel:?}{why}"), now)
            .expect("awaiting-approval can be approved or rejected");
        self.approval = Some(ApprovalRequest {
            decision: Some(Decision {
                verdict,
                actor: actor.id.clone(),
                channel,
                at: now,
                reason,
            }),
            ..request
        });
        Ok(())
    }

    /// When UpdateService started the rollout (the history's move to `rolling`).
    pub fn rolling_since(&self) -> Option<DateTime<Utc>> {
        self.history
            .iter()
            .find(|entry| entry.state == State::Rolling)
            .map(|entry| entry.at)
    }

    /// How long the rollout took, from UpdateService to ECS's final word.
    pub fn rollout_duration(&self) -> Option<chrono::Duration> {
        let (start, end) = (self.rolling_since()?, self.ended_at?);
        Some((end - start).max(chrono::Duration::zero()))
    }

    /// A step of a release group's run: the run, not the target's policy, decides when it
    /// rolls (the group's one approval covers it).
    pub fn is_group_step(&self) -> bool {
        matches!(self.trigger, Trigger::GroupStep { .. })
    }

    /// Whether another invocation is working on this deployment right now.
    pub fn is_held_by_other(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|lease| lease.holder != holder && lease.until > now)
    }
}

/// Which manifest file an upload was: one of the three a target takes, or a release
/// group's `release.json` (never a target's deployment: it starts the group's run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManifestKind {
    ImageDefinitions,
    ImageDetail,
    TaskDefinition,
    Release,
}

impl ManifestKind {
    /// The kind of manifest a file under `deploy/<target>/` (or `deploy/<group>/`) is, by
    /// its name.
    pub fn from_file_name(name: &str) -> Option<ManifestKind> {
        match name {
            "imagedefinitions.json" => Some(ManifestKind::ImageDefinitions),
            "imageDetail.json" => Some(ManifestKind::ImageDetail),
            "taskdef.json" => Some(ManifestKind::TaskDefinition),
            "release.json" => Some(ManifestKind::Release),
            _ => None,
        }
    }
}

/// The deployment the unit tests start from: web's push of `app@sha256:ab`, planned.
#[cfg(test)]
pub(crate) fn example() -> Deployment {
    let trigger = Trigger::EcrPush {
        event_id: "e1".into(),
        repository: "app".into(),
        tag: "v1".into(),
        digest: "sha256:ab".into(),
        pushed_at: None,
    };
    Deployment {
        image: "app@sha256:ab".into(),
        from_task_definition: "td:1".into(),
        ..Deployment::new("web", "prod", "web", "img-ab", trigger)
    }
}

#[cfg(test)]
mod tests;

fn is_zero(n: &u32) -> bool {
    *n == 0
}
