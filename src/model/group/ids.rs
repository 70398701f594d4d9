//! The names of a group and its runs, and those a run gives ECS for one step: RunTask's
//! idempotency token and its `startedBy`, both derived from the run and the step, so every
//! attempt at a step sends the same ones and an event names its step.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// The length of the RunTask client tokens Slipway derives: "The client token can be up
/// to 64 ASCII characters in the range of 33-126 (inclusive)" (RunTask), and ECS keeps a
/// token for 24 hours per cluster. A step retries RunTask at once (a Lambda retry or the
/// reconciler's next run), never a day later, so one token covers every attempt.
pub const TOKEN_HEX: usize = 32;

/// RunTask's `startedBy`: "Up to 128 letters (uppercase and lowercase), numbers, hyphens
/// (-), forward slash (/), and underscores (_) are allowed" (API_RunTask).
pub const STARTED_BY_MAX: usize = 128;

/// RunTask's idempotency token for step `index` of run `run_id`: the same for every
/// attempt at that step, different for every other step and run. Hex, so inside the
/// printable ASCII ECS allows.
pub fn client_token(run_id: &str, index: usize) -> String {
    let hash = Sha256::digest(format!("{run_id}/step/{index}").as_bytes());
    hex::encode(hash)[..TOKEN_HEX].to_string()
}

/// RunTask's `startedBy` for step `index` of run `run_id` (run ids are letters, digits,
/// `-` and `_`, short enough for [`STARTED_BY_MAX`]): ECS repeats it in the task's
/// state-change events, which is how an event that outran RunTask's answer finds its step.
pub fn started_by(run_id: &str, index: usize) -> String {
    format!("slipway/{run_id}/{index}")
}

/// The longest group name a config may give: a run id, and the `startedBy` built from
/// it, stay inside RunTask's limits.
pub const MAX_GROUP_NAME: usize = 64;

/// Whether `name` can name a group: 1-64 letters, digits, `-` or `_` (it names the
/// group's runs, their tasks' `startedBy`, and the key of its release manifest).
pub fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `run` is the id of a run of `group` ([`run_id`]'s shape: the group's name, `-`,
/// 16 hex digits). Group names may hold `-`, so the group is found by its whole name.
pub fn is_run_of(group: &str, run: &str) -> bool {
    run.strip_prefix(group)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The id of the run of `group` that takes `release`: the same release delivered twice
/// is the same run (the ledger creates it once); another release is another run. Letters,
/// digits, `-` and `_` only, as RunTask's `startedBy` requires.
pub fn run_id(group: &str, release: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    for (target, image) in release {
        hash.update(format!("{target}={image}\n").as_bytes());
    }
    format!("{group}-{}", &hex::encode(hash.finalize())[..16])
}
