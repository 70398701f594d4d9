//! One run of a group at a time: the group's line names the run that holds it — the only
//! run that may act — and the releases that came while it was held, oldest first.
//!
//! A release that comes while a run is under way waits; when that run ends, the newest
//! waiting release takes the line and the older waiting ones are superseded (they never
//! started: only the newest of them is worth deploying, as with a closed window). A run
//! still awaiting its approval started nothing either: a newer release supersedes it at
//! once. A run that started anything finishes first — a migration half-way is never
//! abandoned for a newer one.
//!
//! The line is one ledger object moved by compare-and-set, so two releases arriving at
//! once cannot both take it. A holder to supersede is moved to `superseded` before the
//! line names the newcomer: should its approval win that race, the newcomer waits instead.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::arrival::{Arrival, PushedRelease};
use super::run::RunState;
use crate::model::ordering::compare_sequencers;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLine {
    /// The run that may act; it keeps the line until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// Runs that came while the line was held, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    /// Runs that lost their place, kept until their own records say `superseded`: a run
    /// delivered again after a crash between the two writes must not queue a second time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed_over: Vec<String>,
    /// For each uploaded release key (`s3://bucket/key`), the S3 sequencer of the newest
    /// upload that entered the line: an older upload arriving later never runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// The newest pushed release that entered the line, and its run: an older push
    /// arriving later (ECR's events are not ordered) never runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_push: Option<NewestPush>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewestPush {
    pub run: String,
    #[serde(flatten)]
    pub push: PushedRelease,
}

/// What the line says to a run that arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// `holder` holds the line (once it is written): the arriving run, or a newer one
    /// already waiting; the runs named lost their place and are superseded.
    Handed {
        holder: String,
        superseded: Vec<String>,
    },
    /// The holder started nothing yet (it awaits its approval): supersede it first, then
    /// ask again.
    SupersedeHolder { holder: String },
    /// Another run is under way: the arriving one waits behind it.
    Waits { behind: String },
    /// The arriving run is an upload or a push older than one that entered the line
    /// already (their events came out of order): it never runs, for the reason given.
    /// Changes nothing on the line.
    Older { why: String },
}

impl GroupLine {
    /// `run` arrives (`arrival`: how, when it is ordered against others); `holder`: the
    /// current holder's state as its record says, `None` when the line has no holder or
    /// its record is gone. Changes the line as the admission says (except for
    /// `SupersedeHolder`, which changes nothing yet).
    pub fn admit(
        &mut self,
        run: &str,
        arrival: Option<Arrival<'_>>,
        holder: Option<RunState>,
    ) -> Admission {
        if self.holder.as_deref() == Some(run) {
            return Admission::Handed {
                holder: run.to_string(),
                superseded: vec![],
            };
        }
        if !self.waiting.iter().any(|w| w == run) {
            if let Err(why) = self.ordered(run, arrival) {
                return Admission::Older { why };
            }
        }
        let current = self.holder.clone();
        if !self.waiting.iter().any(|w| w == run) {
            self.waiting.push(run.to_string());
        }
        match (current, holder) {
            (Some(current), Some(RunState::AwaitingApproval)) => {
                self.waiting.retain(|w| w != run);
                Admission::SupersedeHolder { holder: current }
            }
            (Some(current), Some(state)) if !state.is_terminal() => {
                Admission::Waits { behind: current }
            }
            // No holder, or one that ended and did not hand over (a crash between the
            // two): the newest waiting release takes the line.
            _ => {
                self.holder = self.waiting.pop();
                Admission::Handed {
                    holder: self.holder.clone().unwrap_or_default(),
                    superseded: self.pass_over_waiting(),
                }
            }
        }
    }

    /// `ended` is over: the newest waiting run takes the line, the older ones are
    /// superseded. `None` when `ended` no longer holds the line (handed over already).
    pub fn hand_over(&mut self, ended: &str) -> Option<(Option<String>, Vec<String>)> {
        if self.holder.as_deref() != Some(ended) {
            return None;
        }
        self.holder = self.waiting.pop();
        let superseded = self.pass_over_waiting();
        Some((self.holder.clone(), superseded))
    }

    /// Records `run` as the newest of its kind, or says why it is older than that one.
    fn ordered(&mut self, run: &str, arrival: Option<Arrival<'_>>) -> Result<(), String> {
        match arrival {
            None => Ok(()),
            Some(Arrival::Upload(source)) => match self.sources.get(&source.key) {
                Some(newest)
                    if compare_sequencers(newest, &source.sequencer) == Ordering::Greater =>
                {
                    Err(format!(
                        "this upload of {} (sequencer {}) is older than one the group already took (sequencer {newest}); S3's events came out of order",
                        source.key, source.sequencer
                    ))
                }
                _ => {
                    self.sources
                        .insert(source.key.clone(), source.sequencer.clone());
                    Ok(())
                }
            },
            Some(Arrival::Push(push)) => {
                let newest = self.newest_push.as_ref().filter(|n| n.run != run);
                if let Some(newest) = newest {
                    if let Some(why) = push.older_than(&newest.push) {
                        return Err(format!(
                            "this push of {} is older than the push of {} the group already took (run {}): {why}; ECR's events came out of order",
                            push.tag, newest.push.tag, newest.run
                        ));
                    }
                }
                // Only a push known to be newer takes the mark: one that cannot be compared
                // (ECR's push time unknown) is let in, but must not hide the newest known
                // push from the next comparison.
                let newer = match newest {
                    None => self.newest_push.is_none() && push.is_comparable(),
                    Some(newest) => {
                        !newest.push.is_comparable() || newest.push.older_than(push).is_some()
                    }
                };
                if newer {
                    self.newest_push = Some(NewestPush {
                        run: run.to_string(),
                        push: push.clone(),
                    });
                }
                Ok(())
            }
        }
    }

    fn pass_over_waiting(&mut self) -> Vec<String> {
        let passed: Vec<String> = self.waiting.drain(..).collect();
        self.passed_over.extend(passed.iter().cloned());
        passed
    }

    /// Whether `run` lost its place to a newer release (and its record may not say so yet).
    pub fn passed_over(&self, run: &str) -> bool {
        self.passed_over.iter().any(|p| p == run)
    }

    /// `run`'s record says `superseded` now: the line need not remember it.
    pub fn forget_passed_over(&mut self, run: &str) -> bool {
        let before = self.passed_over.len();
        self.passed_over.retain(|p| p != run);
        before != self.passed_over.len()
    }

    /// Whether `run` still has a place: it holds the line or waits in it.
    pub fn has_place(&self, run: &str) -> bool {
        self.holder.as_deref() == Some(run) || self.waiting.iter().any(|w| w == run)
    }
}

#[cfg(test)]
mod tests {
    use super::super::arrival::ReleaseSource;
    use super::*;

    fn line(holder: &str, waiting: &[&str]) -> GroupLine {
        GroupLine {
            holder: Some(holder.into()),
            waiting: waiting.iter().map(|w| w.to_string()).collect(),
            passed_over: vec![],
            sources: Default::default(),
            newest_push: None,
        }
    }

    fn handed(holder: &str, superseded: &[&str]) -> Admission {
        Admission::Handed {
            holder: holder.into(),
            superseded: superseded.iter().map(|w| w.to_string()).collect(),
        }
    }

    #[test]
    fn the_first_release_takes_an_empty_line() {
        let mut empty = GroupLine::default();
        assert_eq!(empty.admit("r1", None, None), handed("r1", &[]));
        assert_eq!(empty, line("r1", &[]));
        // The same release again: nothing changes.
        assert_eq!(
            empty.admit("r1", None, Some(RunState::Running)),
            handed("r1", &[])
        );
        assert_eq!(empty, line("r1", &[]));
    }

    #[test]
    fn a_release_waits_behind_a_run_under_way_once() {
        for state in [RunState::Running, RunState::RollingBack, RunState::Queued] {
            let mut held = line("r1", &[]);
            let behind = Admission::Waits {
                behind: "r1".into(),
            };
            assert_eq!(held.admit("r2", None, Some(state)), behind);
            assert_eq!(held.admit("r2", None, Some(state)), behind, "a duplicate");
            assert_eq!(held, line("r1", &["r2"]), "{state}");
        }
    }

    #[test]
    fn only_a_holder_awaiting_its_approval_is_superseded_and_first() {
        let mut held = line("r1", &[]);
        assert_eq!(
            held.admit("r2", None, Some(RunState::AwaitingApproval)),
            Admission::SupersedeHolder {
                holder: "r1".into()
            }
        );
        assert_eq!(
            held,
            line("r1", &[]),
            "the line waits for the run's own move"
        );
        assert_eq!(
            held.admit("r2", None, Some(RunState::Superseded)),
            handed("r2", &[])
        );
        assert_eq!(held, line("r2", &[]));
    }

    #[test]
    fn when_the_holder_ends_the_newest_waiting_run_takes_the_line() {
        let mut held = line("r1", &["r2", "r3", "r4"]);
        assert_eq!(
            held.hand_over("r1"),
            Some((Some("r4".into()), vec!["r2".into(), "r3".into()]))
        );
        assert_eq!(held.holder.as_deref(), Some("r4"));
        assert!(held.waiting.is_empty());
        assert!(held.passed_over("r2") && held.passed_over("r3") && !held.passed_over("r4"));
        assert_eq!(held.hand_over("r1"), None, "handed over already");
        assert_eq!(held.hand_over("r4"), Some((None, vec![])));
        assert!(held.forget_passed_over("r2") && held.forget_passed_over("r3"));
        assert!(!held.forget_passed_over("r3"), "once");
        assert_eq!(held, GroupLine::default());
    }

    #[test]
    fn a_holder_that_ended_without_handing_over_loses_the_line_to_the_newest() {
        let mut held = line("r1", &["r2"]);
        assert_eq!(
            held.admit("r3", None, Some(RunState::Failed)),
            handed("r3", &["r2"])
        );
        assert_eq!(held.holder.as_deref(), Some("r3"));
        assert!(!held.has_place("r2") && held.has_place("r3") && held.passed_over("r2"));
        // An older waiting release delivered again after such a crash does not overtake
        // a newer one.
        let mut held = line("r1", &["r2", "r3"]);
        assert_eq!(
            held.admit("r2", None, Some(RunState::Succeeded)),
            handed("r3", &["r2"])
        );
        assert_eq!(held.holder.as_deref(), Some("r3"));
        assert!(held.waiting.is_empty() && held.passed_over("r2"));
    }

    fn upload(sequencer: &str) -> ReleaseSource {
        ReleaseSource {
            key: "s3://src/deploy/shop/release.json".into(),
            version_id: format!("v-{sequencer}"),
            sequencer: sequencer.into(),
        }
    }

    #[test]
    fn an_upload_older_than_one_the_line_took_never_runs() {
        let mut line = GroupLine::default();
        let newer = upload("0062E5F4C2B5D6E820");
        assert_eq!(
            line.admit("r2", Some(Arrival::Upload(&newer)), None),
            handed("r2", &[])
        );
        // The older upload's event comes second: refused, the line unchanged.
        let before = line.clone();
        assert_eq!(
            line.admit(
                "r1",
                Some(Arrival::Upload(&upload("0062E5F4C2B5D6E810"))),
                Some(RunState::Running)
            ),
            Admission::Older {
                why: "this upload of s3://src/deploy/shop/release.json (sequencer 0062E5F4C2B5D6E810) is older than one the group already took (sequencer 0062E5F4C2B5D6E820); S3's events came out of order".into()
            }
        );
        assert_eq!(line, before);
        // The same upload again is the run it was; a newer one waits as any release.
        assert_eq!(
            line.admit("r2", Some(Arrival::Upload(&newer)), None),
            handed("r2", &[])
        );
        assert_eq!(
            line.admit(
                "r3",
                Some(Arrival::Upload(&upload("0062E5F4C2B5D6E830"))),
                Some(RunState::Running)
            ),
            Admission::Waits {
                behind: "r2".into()
            }
        );
        // Another key, and pushes (no source), are not ordered by this one.
        let other = ReleaseSource {
            key: "s3://src/deploy/shop/hotfix/release.json".into(),
            ..upload("01")
        };
        assert!(matches!(
            line.admit("r4", Some(Arrival::Upload(&other)), Some(RunState::Running)),
            Admission::Waits { .. }
        ));
        assert!(matches!(
            line.admit("r5", None, Some(RunState::Running)),
            Admission::Waits { .. }
        ));
    }

    fn arrived(push: &PushedRelease) -> Option<Arrival<'_>> {
        Some(Arrival::Push(push))
    }

    fn push(tag: &str, version: Option<&str>, minute: u32) -> PushedRelease {
        use chrono::TimeZone;
        PushedRelease {
            tag: tag.into(),
            version: version.map(str::to_string),
            pushed_at: Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 12, 7, 10, minute, 0)
                    .unwrap(),
            ),
        }
    }

    #[test]
    fn a_push_older_than_one_the_line_took_never_runs() {
        let mut line = GroupLine::default();
        let newer = push("main-2", None, 20);
        assert_eq!(line.admit("r2", arrived(&newer), None), handed("r2", &[]));
        // The older push's event comes second: refused, the line unchanged.
        let before = line.clone();
        let Admission::Older { why } = line.admit(
            "r1",
            arrived(&push("main-1", None, 10)),
            Some(RunState::Running),
        ) else {
            panic!("an older push was let in: {line:?}")
        };
        assert!(
            why.contains("this push of main-1 is older than the push of main-2"),
            "{why}"
        );
        assert!(why.contains("pushed at 2026-12-07 10:10:00 UTC"), "{why}");
        assert_eq!(line, before);
        // The same push again is the run it was; a newer push waits as any release.
        assert_eq!(line.admit("r2", arrived(&newer), None), handed("r2", &[]));
        assert_eq!(
            line.admit(
                "r3",
                arrived(&push("main-3", None, 30)),
                Some(RunState::Running)
            ),
            Admission::Waits {
                behind: "r2".into()
            }
        );
        assert_eq!(
            line.newest_push.as_ref().map(|n| n.run.as_str()),
            Some("r3")
        );
    }

    #[test]
    fn a_push_whose_time_is_unknown_is_let_in_but_never_hides_the_newest_known_one() {
        let mut line = GroupLine::default();
        let newest = push("main-3", None, 30);
        assert!(matches!(
            line.admit("r3", arrived(&newest), None),
            Admission::Handed { .. }
        ));
        let unknown = PushedRelease {
            pushed_at: None,
            ..push("main-9", None, 0)
        };
        assert!(matches!(
            line.admit("r9", arrived(&unknown), Some(RunState::Running)),
            Admission::Waits { .. }
        ));
        assert_eq!(
            line.newest_push.as_ref().map(|n| n.run.as_str()),
            Some("r3")
        );
        // main-2's late event is still compared with main-3.
        assert!(matches!(
            line.admit(
                "r2",
                arrived(&push("main-2", None, 20)),
                Some(RunState::Running)
            ),
            Admission::Older { .. }
        ));
    }

    #[test]
    fn a_pushes_version_orders_it_before_its_push_time() {
        let mut line = GroupLine::default();
        // v1.3.0 re-tags a digest built before v1.2.0's (ECR keeps a re-tagged image's
        // first push time): the version decides.
        assert!(matches!(
            line.admit("r13", arrived(&push("v1.3.0", Some("1.3.0"), 5)), None),
            Admission::Handed { .. }
        ));
        let Admission::Older { why } = line.admit(
            "r12",
            arrived(&push("v1.2.0", Some("1.2.0"), 50)),
            Some(RunState::Running),
        ) else {
            panic!("v1.2.0 after v1.3.0 was let in")
        };
        assert!(why.contains("version 1.2.0 is below 1.3.0"), "{why}");
        assert!(matches!(
            line.admit(
                "r14",
                arrived(&push("v1.4.0", Some("1.4.0"), 1)),
                Some(RunState::Running)
            ),
            Admission::Waits { .. }
        ));
    }
}
