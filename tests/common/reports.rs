//! Reading a pipeline's report: each target's outcome, or its `result` name as the
//! function's JSON answer has it.

use serde_json::Value;
use slipway::deployer::{EventOutcome, TargetOutcome};
use slipway::Report;

/// Each target's name and outcome; panics if the event was refused or ignored.
pub fn target_outcomes(report: &Report) -> Vec<(String, TargetOutcome)> {
    match &report.outcome {
        EventOutcome::Targets { targets, .. } => targets
            .iter()
            .map(|t| (t.target.clone(), t.outcome.clone()))
            .collect(),
        other => panic!("expected target outcomes, got {other:?}"),
    }
}

/// The outcome of the report's only target.
pub fn only_outcome(report: &Report) -> TargetOutcome {
    match &report.outcome {
        EventOutcome::Targets { targets, .. } if targets.len() == 1 => targets[0].outcome.clone(),
        other => panic!("expected one target outcome, got {other:?}"),
    }
}

/// An outcome's `result` (`rolling`, `duplicate`, `older`, …).
pub fn result_name(outcome: &TargetOutcome) -> String {
    serde_json::to_value(outcome).unwrap()["result"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Each target's `result`, or the event's outcome (`refused`, `ignored`) if none.
pub fn report_results(report: &Report) -> Vec<String> {
    report_value_results(&serde_json::to_value(report).unwrap())
}

/// [`report_results`] of a report as the function returns it (JSON).
pub fn report_value_results(value: &Value) -> Vec<String> {
    match value["outcome"].as_str() {
        Some("targets") => value["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["result"].as_str().unwrap_or("?").to_string())
            .collect(),
        other => vec![other.unwrap_or("?").to_string()],
    }
}
