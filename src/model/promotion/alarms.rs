//! An alarm's history as CloudWatch's DescribeAlarmHistory reports it (`StateUpdate`
//! items, each with the old and the new state), and whether the alarm was in ALARM at
//! any moment of an interval — including an ALARM that began before the interval and
//! never changed in it, which no history item inside the interval shows.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html>

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmTransition {
    pub at: DateTime<Utc>,
    pub from: AlarmState,
    pub to: AlarmState,
}

impl AlarmTransition {
    /// A `StateUpdate` history item's `HistoryData`, a JSON document:
    /// `{"version":"1.0","oldState":{"stateValue":"OK",…},"newState":{"stateValue":"ALARM",…}}`
    /// (the `describe-alarm-history` example of the AWS CLI reference).
    pub fn from_history_data(at: DateTime<Utc>, data: &str) -> Option<AlarmTransition> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            old_state: StateOnly,
            new_state: StateOnly,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct StateOnly {
            state_value: String,
        }
        let state = |text: &str| match text {
            "OK" => AlarmState::Ok,
            "ALARM" => AlarmState::Alarm,
            _ => AlarmState::InsufficientData,
        };
        let data: Data = serde_json::from_str(data).ok()?;
        Some(AlarmTransition {
            at,
            from: state(&data.old_state.state_value),
            to: state(&data.new_state.state_value),
        })
    }
}

/// The alarm's state now and every transition since `since` (in any order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmTimeline {
    pub since: DateTime<Utc>,
    pub current: AlarmState,
    pub transitions: Vec<AlarmTransition>,
}

impl AlarmTimeline {
    /// The first moment in `[start, end]` at which the alarm was in ALARM. `since` must be
    /// at or before `start`: the state at `start` is the one the last transition before
    /// it left, else the one the first transition after it left from, else the current.
    pub fn first_alarm_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut ordered: Vec<&AlarmTransition> = self.transitions.iter().collect();
        ordered.sort_by_key(|t| t.at);
        let at_start = ordered
            .iter()
            .rev()
            .find(|t| t.at <= start)
            .map(|t| t.to)
            .or_else(|| ordered.iter().find(|t| t.at > start).map(|t| t.from))
            .unwrap_or(self.current);
        if at_start == AlarmState::Alarm {
            return Some(start);
        }
        ordered
            .iter()
            .find(|t| t.at > start && t.at <= end && t.to == AlarmState::Alarm)
            .map(|t| t.at)
    }
}
