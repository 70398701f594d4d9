//! Deployment windows: when a target may roll, in its own time zone.
//!
//! A window is a weekly span of local wall-clock time, `FR 16:00 -> MO 08:00`. Deny spans
//! beat allow spans; with any allow span, a target rolls only inside one. Spans are
//! compared on the local clock, so a span keeps its local hours across daylight-saving
//! changes (Europe/Berlin's `FR 16:00 -> MO 08:00` is 15:00-07:00 UTC in winter and
//! 14:00-06:00 UTC in summer). When a span's boundary falls in a local hour that does not
//! exist (the spring gap) it takes effect at the first instant after the gap; in a
//! repeated hour (autumn), at the first of the two.

use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// A point in the local week: day and wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekTime {
    pub day: Weekday,
    pub time: NaiveTime,
}

impl WeekTime {
    /// Minutes since Monday 00:00 on the local clock.
    fn minute_of_week(self) -> i64 {
        i64::from(self.day.num_days_from_monday()) * 24 * 60
            + i64::from(self.time.num_seconds_from_midnight()) / 60
    }
}

/// `start -> end`, weekly; `end` before `start` wraps over the week's end (`FR -> MO`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: WeekTime,
    pub end: WeekTime,
    /// As written in the config, for messages.
    pub text: String,
}

const WEEK_MINUTES: i64 = 7 * 24 * 60;

impl Span {
    /// Parses `FR 16:00 -> MO 08:00` (also with `→`).
    pub fn parse(text: &str) -> Result<Span, String> {
        let (start, end) = text
            .split_once("->")
            .or_else(|| text.split_once('→'))
            .ok_or_else(|| format!("`{text}` is not a span: write `FR 16:00 -> MO 08:00`"))?;
        let span = Span {
            start: week_time(start.trim(), text)?,
            end: week_time(end.trim(), text)?,
            text: text.trim().to_string(),
        };
        if span.start == span.end {
            return Err(format!("`{text}` starts where it ends: it would be empty"));
        }
        Ok(span)
    }

    fn contains(&self, minute: i64) -> bool {
        let (start, end) = (self.start.minute_of_week(), self.end.minute_of_week());
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }
}

fn week_time(text: &str, span: &str) -> Result<WeekTime, String> {
    let (day, time) = text
        .split_once(' ')
        .ok_or_else(|| format!("`{span}`: `{text}` is not `DAY HH:MM` (e.g. `FR 16:00`)"))?;
    let day = match day.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        other => {
            return Err(format!(
                "`{span}`: `{other}` is not a day: use MO, TU, WE, TH, FR, SA or SU"
            ))
        }
    };
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .map_err(|_| format!("`{span}`: `{time}` is not a time: use HH:MM, 00:00 to 23:59"))?;
    Ok(WeekTime { day, time })
}

/// A target's windows, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub zone: Tz,
    pub allow: Vec<Span>,
    pub deny: Vec<Span>,
}

/// Whether a target may roll at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowVerdict {
    Open,
    Closed {
        /// Why, naming the span (or the allow spans it is outside of).
        because: String,
        /// When the windows next let it roll.
        opens_at: DateTime<Utc>,
    },
}

impl Windows {
    /// Builds and checks the windows: the zone is an IANA name, and they open at some
    /// time of the week.
    pub fn new(zone: &str, allow: Vec<Span>, deny: Vec<Span>) -> Result<Windows, String> {
        let zone: Tz = zone.parse().map_err(|_| {
            format!("`{zone}` is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)")
        })?;
        let windows = Windows { zone, allow, deny };
        let open_minutes = (0..WEEK_MINUTES)
            .filter(|m| windows.open_at_minute(*m))
            .count();
        if open_minutes == 0 {
            return Err(
                "these windows never open: every minute of the week is denied or outside every allow span"
                    .into(),
            );
        }
        Ok(windows)
    }

    /// On the local clock: used only to check that the windows open at all.
    fn open_at_minute(&self, minute: i64) -> bool {
        let denied = self.deny.iter().any(|s| s.contains(minute));
        let allowed = self.allow.is_empty() || self.allow.iter().any(|s| s.contains(minute));
        allowed && !denied
    }

    /// Whether a target may roll at `now`, and if not, why and until when.
    pub fn verdict(&self, now: DateTime<Utc>) -> WindowVerdict {
        if self.open_at(now) {
            return WindowVerdict::Open;
        }
        let because = match self.deny.iter().find(|s| self.in_span(s, now)) {
            Some(span) => format!("inside the deny window {} ({})", span.text, self.zone),
            None => format!(
                "outside every allow window ({}; {})",
                self.allow
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.zone
            ),
        };
        WindowVerdict::Closed {
            because,
            opens_at: self.opens_after(now),
        }
    }

    fn open_at(&self, at: DateTime<Utc>) -> bool {
        let denied = self.deny.iter().any(|s| self.in_span(s, at));
        let allowed = self.allow.is_empty() || self.allow.iter().any(|s| self.in_span(s, at));
        allowed && !denied
    }

    fn in_span(&self, span: &Span, at: DateTime<Utc>) -> bool {
        self.occurrences(span, at)
            .any(|(start, end)| start <= at && at < end)
    }

    /// The span's occurrences around `at`, as instants: each starts at its start's
    /// instant and lasts until its end's, so that the clock going back an hour in autumn
    /// neither reopens a deny span nor closes an allow span.
    fn occurrences(
        &self,
        span: &Span,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let today = at.with_timezone(&self.zone).date_naive();
        let length = Duration::minutes(
            (span.end.minute_of_week() - span.start.minute_of_week()).rem_euclid(WEEK_MINUTES),
        );
        let span = span.clone();
        (-8..=8).filter_map(move |offset| {
            let date = today + Duration::days(offset);
            if date.weekday() != span.start.day {
                return None;
            }
            let local_start = date.and_time(span.start.time);
            let local_end = local_start + length;
            Some((
                self.instant(local_start.date(), local_start.time())?,
                self.instant(local_end.date(), local_end.time())?,
            ))
        })
    }

    /// The first instant after `now` at which the windows are open: the earliest
    /// occurrence boundary (a deny span's end, an allow span's start) that is open.
    fn opens_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut candidates: Vec<DateTime<Utc>> = self
            .deny
            .iter()
            .flat_map(|s| self.occurrences(s, now).map(|(_, end)| end))
            .chain(
                self.allow
                    .iter()
                    .flat_map(|s| self.occurrences(s, now).map(|(start, _)| start)),
            )
            .filter(|at| *at > now)
            .collect();
        candidates.sort();
        candidates
            .into_iter()
            .find(|at| self.open_at(*at))
            // Windows::new checked that they open within a week.
            .unwrap_or(now + Duration::hours(1))
    }

    /// The instant of a local date and time: the earlier of a repeated hour, the first
    /// instant after a skipped one.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        let local = date.and_time(time);
        for minutes in 0..=180 {
            match self
                .zone
                .from_local_datetime(&(local + Duration::minutes(minutes)))
            {
                LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
                LocalResult::Ambiguous(earlier, _) => return Some(earlier.with_timezone(&Utc)),
                LocalResult::None => continue,
            }
        }
        None
    }
}

impl fmt::Display for Windows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |spans: &[Span]| {
            spans
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "{}: allow [{}], deny [{}]",
            self.zone,
            list(&self.allow),
            list(&self.deny)
        )
    }
}

#[cfg(test)]
mod tests;
