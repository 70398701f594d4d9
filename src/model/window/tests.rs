use chrono::TimeZone;

use super::*;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

fn weekend_freeze(zone: &str) -> Windows {
    Windows::new(
        zone,
        vec![],
        vec![Span::parse("FR 16:00 -> MO 08:00").unwrap()],
    )
    .unwrap()
}

fn closed_until(windows: &Windows, at: DateTime<Utc>) -> DateTime<Utc> {
    match windows.verdict(at) {
        WindowVerdict::Closed { opens_at, .. } => opens_at,
        WindowVerdict::Open => panic!("open at {at}"),
    }
}

/// `FR 16:00 -> MO 08:00` blocks exactly that local interval, whatever the offset is that
/// week: (zone, Friday 16:00 local in UTC, Monday 08:00 local in UTC).
#[test]
fn a_weekend_freeze_blocks_exactly_its_local_hours_across_daylight_saving() {
    for (zone, starts, ends) in [
        // Berlin in winter (CET, UTC+1) and summer (CEST, UTC+2).
        (
            "Europe/Berlin",
            utc(2026, 12, 4, 15, 0, 0),
            utc(2026, 12, 7, 7, 0, 0),
        ),
        (
            "Europe/Berlin",
            utc(2026, 7, 3, 14, 0, 0),
            utc(2026, 7, 6, 6, 0, 0),
        ),
        // The weekends the clocks change: spring forward (Sun 29 March), back (Sun 25 Oct).
        (
            "Europe/Berlin",
            utc(2026, 3, 27, 15, 0, 0),
            utc(2026, 3, 30, 6, 0, 0),
        ),
        (
            "Europe/Berlin",
            utc(2026, 10, 23, 14, 0, 0),
            utc(2026, 10, 26, 7, 0, 0),
        ),
        // New York: forward on Sun 8 March, back on Sun 1 November.
        (
            "America/New_York",
            utc(2026, 3, 6, 21, 0, 0),
            utc(2026, 3, 9, 12, 0, 0),
        ),
        (
            "America/New_York",
            utc(2026, 10, 30, 20, 0, 0),
            utc(2026, 11, 2, 13, 0, 0),
        ),
    ] {
        let windows = weekend_freeze(zone);
        let second = Duration::seconds(1);
        assert_eq!(
            windows.verdict(starts - second),
            WindowVerdict::Open,
            "{zone} {starts}"
        );
        assert_eq!(
            closed_until(&windows, starts),
            ends,
            "{zone}: at Friday 16:00"
        );
        // A push at FR 16:01 deploys at MO 08:00, local.
        let minute_in = starts + Duration::minutes(1);
        assert_eq!(
            closed_until(&windows, minute_in),
            ends,
            "{zone}: at Friday 16:01"
        );
        assert_eq!(closed_until(&windows, ends - second), ends, "{zone}");
        assert_eq!(windows.verdict(ends), WindowVerdict::Open, "{zone} {ends}");
    }
}

#[test]
fn a_boundary_in_the_skipped_hour_takes_effect_after_the_gap() {
    // Berlin skips 02:00-03:00 on Sunday 29 March 2026.
    let windows = Windows::new(
        "Europe/Berlin",
        vec![],
        vec![Span::parse("SU 00:00 -> SU 02:30").unwrap()],
    )
    .unwrap();
    let sunday_0030 = utc(2026, 3, 28, 23, 30, 0);
    assert_eq!(
        closed_until(&windows, sunday_0030),
        utc(2026, 3, 29, 1, 0, 0)
    );
}

#[test]
fn with_allow_windows_a_target_rolls_only_inside_one_and_deny_beats_allow() {
    let windows = Windows::new(
        "UTC",
        vec![Span::parse("MO 09:00 -> FR 17:00").unwrap()],
        vec![Span::parse("WE 12:00 -> WE 13:00").unwrap()],
    )
    .unwrap();
    // Saturday 5 December 2026: outside the allow window until Monday 09:00.
    let saturday = utc(2026, 12, 5, 10, 0, 0);
    let WindowVerdict::Closed { because, opens_at } = windows.verdict(saturday) else {
        panic!("closed on Saturday")
    };
    assert!(because.contains("outside every allow window"), "{because}");
    assert_eq!(opens_at, utc(2026, 12, 7, 9, 0, 0));
    // Wednesday lunch: allowed, but denied.
    let WindowVerdict::Closed { because, opens_at } = windows.verdict(utc(2026, 12, 9, 12, 30, 0))
    else {
        panic!("closed at lunch")
    };
    assert!(because.contains("WE 12:00 -> WE 13:00"), "{because}");
    assert_eq!(opens_at, utc(2026, 12, 9, 13, 0, 0));
    assert_eq!(
        windows.verdict(utc(2026, 12, 9, 13, 0, 0)),
        WindowVerdict::Open
    );
}

#[test]
fn an_unknown_zone_a_window_that_never_opens_and_bad_spans_are_refused() {
    let deny = vec![Span::parse("FR 16:00 -> MO 08:00").unwrap()];
    let unknown = Windows::new("Europe/Atlantis", vec![], deny.clone()).unwrap_err();
    assert!(unknown.contains("not an IANA time zone"), "{unknown}");
    let never = Windows::new(
        "UTC",
        vec![Span::parse("MO 09:00 -> MO 10:00").unwrap()],
        vec![Span::parse("MO 08:00 -> MO 11:00").unwrap()],
    )
    .unwrap_err();
    assert!(never.contains("never open"), "{never}");
    for bad in [
        "FR 16:00 - MO 08:00",
        "XX 16:00 -> MO 08:00",
        "FR 25:00 -> MO 08:00",
        "FR 16:00 -> FR 16:00",
    ] {
        assert!(Span::parse(bad).is_err(), "{bad}");
    }
    assert!(Span::parse("fr 16:00 → mo 08:00").is_ok());
}

#[test]
fn the_repeated_autumn_hour_neither_reopens_a_deny_span_nor_moves_its_end() {
    // Berlin repeats 02:00-03:00 on Sunday 25 October 2026 (CEST, then CET).
    let windows = Windows::new(
        "Europe/Berlin",
        vec![],
        vec![Span::parse("SU 02:30 -> SU 06:00").unwrap()],
    )
    .unwrap();
    // 02:30 CEST (00:30 UTC) begins it; the second 02:15 (CET, 01:15 UTC) is inside it.
    assert_eq!(
        windows.verdict(utc(2026, 10, 25, 0, 29, 0)),
        WindowVerdict::Open
    );
    assert_eq!(
        closed_until(&windows, utc(2026, 10, 25, 0, 30, 0)),
        utc(2026, 10, 25, 5, 0, 0)
    );
    assert_eq!(
        closed_until(&windows, utc(2026, 10, 25, 1, 15, 0)),
        utc(2026, 10, 25, 5, 0, 0)
    );
    assert_eq!(
        windows.verdict(utc(2026, 10, 25, 5, 0, 0)),
        WindowVerdict::Open
    );
}
