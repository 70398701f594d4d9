//! CloudWatch's alarm history for promotion soaks: DescribeAlarms for the alarm's state
//! now (and whether it exists), DescribeAlarmHistory (`StateUpdate` items since the soak
//! began, every page) for its changes. Metric alarms only: reading a composite alarm's
//! history needs `cloudwatch:DescribeAlarmHistory` on `*` ("To use this operation and
//! return information about a composite alarm, you must be signed on with the
//! cloudwatch:DescribeAlarmHistory permission that is scoped to *"), and Slipway's grant
//! names the alarms.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html>

use aws_sdk_cloudwatch::types::{HistoryItemType, StateValue};
use chrono::{DateTime, Utc};

use super::errors::classify;
use crate::model::promotion::{AlarmState, AlarmTimeline, AlarmTransition};
use crate::ports::{AlarmHistory, AwsError};

pub struct CloudWatchAlarms {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchAlarms {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        CloudWatchAlarms { client }
    }

    async fn read(
        &self,
        alarm: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<AlarmTimeline>, AwsError> {
        let described = self
            .client
            .describe_alarms()
            .alarm_names(alarm)
            .send()
            .await
            .map_err(|err| classify("DescribeAlarms", err, &[]))?;
        let Some(current) = described
            .metric_alarms()
            .first()
            .and_then(|a| a.state_value())
            .map(state_of)
        else {
            return Ok(None);
        };
        let mut transitions = vec![];
        let mut pages = self
            .client
            .describe_alarm_history()
            .alarm_name(alarm)
            .history_item_type(HistoryItemType::StateUpdate)
            .start_date(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                since.timestamp(),
            ))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| classify("DescribeAlarmHistory", err, &[]))?;
            for item in page.alarm_history_items() {
                let at = item
                    .timestamp()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
                let parsed = at
                    .zip(item.history_data())
                    .and_then(|(at, data)| AlarmTransition::from_history_data(at, data));
                match parsed {
                    Some(transition) => transitions.push(transition),
                    // An item Slipway cannot read could hide an ALARM: refuse to judge.
                    None => {
                        return Err(AwsError {
                            operation: "DescribeAlarmHistory",
                            message: format!(
                                "a StateUpdate item of alarm {alarm} has no readable time or state change: {:?}",
                                item.history_data()
                            ),
                            kind: crate::ports::AwsErrorKind::Permanent,
                        })
                    }
                }
            }
        }
        Ok(Some(AlarmTimeline {
            since,
            current,
            transitions,
        }))
    }
}

fn state_of(value: &StateValue) -> AlarmState {
    match value {
        StateValue::Ok => AlarmState::Ok,
        StateValue::Alarm => AlarmState::Alarm,
        // INSUFFICIENT_DATA, and any state a later API adds, is "not OK, not ALARM".
        _ => AlarmState::InsufficientData,
    }
}

impl AlarmHistory for CloudWatchAlarms {
    fn timeline<'a>(
        &'a self,
        alarm: &'a str,
        since: DateTime<Utc>,
    ) -> futures::future::BoxFuture<'a, Result<Option<AlarmTimeline>, AwsError>> {
        Box::pin(self.read(alarm, since))
    }
}
