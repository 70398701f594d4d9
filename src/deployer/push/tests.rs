use super::*;
use chrono::TimeZone;

pub(super) fn at(second: u32) -> Option<DateTime<Utc>> {
    Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap())
}

pub(super) fn head(version: Option<&str>, pushed_at: Option<DateTime<Utc>>) -> Versioned<Head> {
    Versioned {
        value: Head {
            deployment_id: "web/img-aaa".into(),
            digest: "sha256:aaa".into(),
            pushed_at,
            version: version.map(str::to_string),
            settled: true,
            lease_until: None,
            updated_at: Utc::now(),
        },
        etag: "\"1\"".into(),
        home: crate::ledger::Home::Object,
    }
}

#[test]
pub(super) fn a_lower_version_than_the_last_accepted_is_older_whenever_it_was_pushed() {
    let last = head(Some("1.4.2"), at(0));
    let ours = Version::parse("1.4.1").unwrap();
    let reason = older_than_running(at(30), Some(&ours), None, Some(&last)).unwrap();
    assert!(reason.contains("1.4.1 is below 1.4.2"), "{reason}");
}

#[test]
pub(super) fn a_higher_version_re_tagged_from_an_image_built_earlier_is_not_older() {
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
pub(super) fn an_image_pushed_before_the_running_one_or_the_last_accepted_one_is_older() {
    let running = Some(("sha256:bbb", at(20)));
    let reason = older_than_running(at(10), None, running, None).unwrap();
    assert!(reason.contains("which the service runs"), "{reason}");

    let reason = older_than_running(at(10), None, None, Some(&head(None, at(20)))).unwrap();
    assert!(reason.contains("which Slipway last accepted"), "{reason}");
}

#[test]
pub(super) fn a_newer_image_or_one_whose_push_time_is_unknown_is_not_older() {
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
