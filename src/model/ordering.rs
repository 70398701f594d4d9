//! The ordering rule (README, "Which image wins"): which of two pushes is the newer, and
//! when a push is older than what runs or was last accepted, so that it never rolls the
//! service back.
use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use semver::Version;

use super::target::Head;

/// The ordering rule (README, "Which image wins"): a push is older, and never rolls the
/// service back, if
/// 1. the target orders by semver and Slipway last accepted a version for it: the tag's
///    version decides alone — below it is older, above it is newer whenever its image was
///    built. CI promotes by re-tagging a digest it built earlier, and ECR keeps the image's
///    first `imagePushedAt` on a re-tag (ECR User Guide, "Retagging an image"), so push
///    time says nothing about a version. Only the same version (or none accepted yet)
///    goes on to rule 2;
/// 2. ECR received its digest (`imagePushedAt`) before the digest the service runs now
///    (`running`: that digest and when ECR received it), or before the digest Slipway
///    last accepted for the target.
pub fn older_than_running(
    pushed_at: Option<DateTime<Utc>>,
    version: Option<&Version>,
    running: Option<(&str, Option<DateTime<Utc>>)>,
    head: Option<&Head>,
) -> Option<String> {
    if let (Some(ours), Some(theirs)) = (
        version,
        head.and_then(|h| h.version.as_deref())
            .and_then(|v| Version::parse(v).ok()),
    ) {
        if *ours < theirs {
            return Some(format!(
                "version {ours} is below {theirs}, which Slipway last accepted for this target"
            ));
        }
        if *ours > theirs {
            return None;
        }
    }
    let ours = pushed_at?;
    if let Some((running_digest, Some(theirs))) = running {
        if ours < theirs {
            return Some(format!(
                "pushed at {ours}, before {running_digest} which the service runs (pushed at {theirs})"
            ));
        }
    }
    if let Some((head, theirs)) = head.and_then(|h| h.pushed_at.map(|at| (h, at))) {
        if ours < theirs {
            return Some(format!(
                "pushed at {ours}, before {} which Slipway last accepted (pushed at {theirs})",
                head.digest
            ));
        }
    }
    None
}

/// Whether `head` was accepted for a newer image than `candidate`.
pub fn is_newer(head: &Head, candidate: &Head) -> bool {
    older_push(
        (candidate.version.as_deref(), candidate.pushed_at),
        (head.version.as_deref(), head.pushed_at),
    )
    .is_some()
}

/// Why one pushed release (`ours`: the version its tag names, when its target orders by
/// semver, and when ECR received its digest) is older than another (`theirs`), by the
/// ordering rule: the versions when both have one and they differ, else the push times.
/// `None`: not older (newer, the same, or nothing tells them apart).
pub fn older_push(
    ours: (Option<&str>, Option<DateTime<Utc>>),
    theirs: (Option<&str>, Option<DateTime<Utc>>),
) -> Option<String> {
    let parse = |v: Option<&str>| v.and_then(|v| Version::parse(v).ok());
    if let (Some(ours), Some(theirs)) = (parse(ours.0), parse(theirs.0)) {
        if ours != theirs {
            return (ours < theirs).then(|| format!("version {ours} is below {theirs}"));
        }
    }
    match (ours.1, theirs.1) {
        (Some(ours), Some(theirs)) if ours < theirs => Some(format!(
            "its image was pushed at {}, before the other's ({})",
            ours.format("%Y-%m-%d %H:%M:%S UTC"),
            theirs.format("%Y-%m-%d %H:%M:%S UTC")
        )),
        _ => None,
    }
}

/// S3 sequencers order events for the same key: right-pad the shorter with zeros, then
/// compare as strings (hex of equal length compares like numbers).
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let width = a.len().max(b.len());
    let pad = |s: &str| format!("{:0<width$}", s.to_ascii_uppercase());
    pad(a).cmp(&pad(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap())
    }

    fn head(version: Option<&str>, pushed_at: Option<DateTime<Utc>>) -> Head {
        Head {
            deployment_id: "web/img-aaa".into(),
            digest: "sha256:aaa".into(),
            pushed_at,
            version: version.map(str::to_string),
            settled: true,
            lease_until: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_lower_version_than_the_last_accepted_is_older_whenever_it_was_pushed() {
        let last = head(Some("1.4.2"), at(0));
        let ours = Version::parse("1.4.1").unwrap();
        let reason = older_than_running(at(30), Some(&ours), None, Some(&last)).unwrap();
        assert!(reason.contains("1.4.1 is below 1.4.2"), "{reason}");
    }

    #[test]
    fn a_higher_version_re_tagged_from_an_image_built_earlier_is_not_older() {
        // CI promotes by re-tagging: v1.5.0 names a digest ECR received before the running
        // v1.4.2's, and ECR keeps that first push time.
        let last = head(Some("1.4.2"), at(20));
        let running = Some(("sha256:bbb", at(20)));
        let ours = Version::parse("1.5.0").unwrap();
        assert_eq!(
            older_than_running(at(5), Some(&ours), running, Some(&last)),
            None
        );
        // The same version again still goes by push time.
        let same = Version::parse("1.4.2").unwrap();
        let reason = older_than_running(at(5), Some(&same), running, Some(&last)).unwrap();
        assert!(reason.contains("pushed at"), "{reason}");
    }

    #[test]
    fn an_image_pushed_before_the_running_one_or_the_last_accepted_one_is_older() {
        let running = Some(("sha256:bbb", at(20)));
        let reason = older_than_running(at(10), None, running, None).unwrap();
        assert!(reason.contains("which the service runs"), "{reason}");

        let reason = older_than_running(at(10), None, None, Some(&head(None, at(20)))).unwrap();
        assert!(reason.contains("which Slipway last accepted"), "{reason}");
    }

    #[test]
    fn a_newer_image_or_one_whose_push_time_is_unknown_is_not_older() {
        let running = Some(("sha256:bbb", at(10)));
        let last = head(Some("1.4.1"), at(10));
        let ours = Version::parse("1.4.2").unwrap();
        assert_eq!(
            older_than_running(at(20), Some(&ours), running, Some(&last)),
            None
        );
        // The running image is no longer in ECR: only the head can make it older.
        assert_eq!(
            older_than_running(at(20), None, Some(("sha256:bbb", None)), None),
            None
        );
        assert_eq!(older_than_running(None, None, running, Some(&last)), None);
    }
}
