//! CloudWatch alarms and their history, in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::model::promotion::{AlarmState, AlarmTimeline, AlarmTransition};
use crate::ports::{AlarmHistory, AwsError};

#[derive(Default)]
pub struct MemoryAlarms {
    alarms: Mutex<HashMap<String, (AlarmState, Vec<AlarmTransition>)>>,
}

impl MemoryAlarms {
    /// An alarm that exists, in `state`, with no history yet.
    pub fn create(&self, name: &str, state: AlarmState) {
        self.alarms
            .lock()
            .unwrap()
            .insert(name.to_string(), (state, vec![]));
    }

    /// The alarm changes to `to` at `at` (a history item, as CloudWatch records one).
    pub fn change(&self, name: &str, to: AlarmState, at: DateTime<Utc>) {
        let mut alarms = self.alarms.lock().unwrap();
        let (state, history) = alarms.get_mut(name).expect("create the alarm first");
        history.push(AlarmTransition {
            at,
            from: *state,
            to,
        });
        *state = to;
    }
}

impl AlarmHistory for MemoryAlarms {
    fn timeline<'a>(
        &'a self,
        alarm: &'a str,
        since: DateTime<Utc>,
    ) -> futures::future::BoxFuture<'a, Result<Option<AlarmTimeline>, AwsError>> {
        let found = self
            .alarms
            .lock()
            .unwrap()
            .get(alarm)
            .map(|(state, history)| AlarmTimeline {
                since,
                current: *state,
                transitions: history.iter().filter(|t| t.at >= since).cloned().collect(),
            });
        Box::pin(async move { Ok(found) })
    }
}
