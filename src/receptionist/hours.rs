//! Whether a business is open at a given moment, in its own time zone, from its weekly
//! hours. (Holiday hours are free text for the model to read, not dates to compute with.) Overnight hours (18:00-02:00) stay open past midnight.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;

use crate::profile::{BusinessHours, DayHours};

/// The business's local time and whether it is open then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStatus {
    /// Local date and time at the business.
    pub local: NaiveDateTime,
    /// Whether the business is open.
    pub open: bool,
    /// The weekly hours that apply today, for the prompt.
    pub today: Option<DayHours>,
}

impl LocalStatus {
    /// A sentence for the prompt: "It is Monday 24 November 2026, 14:05 local time. The business is open now."
    pub fn describe(&self) -> String {
        format!(
            "It is {} local time. The business is {} now.",
            self.local.format("%A %-d %B %Y, %H:%M"),
            if self.open { "open" } else { "closed" }
        )
    }
}

/// The instant a local day starts in `zone` (the first valid local time on days a clock
/// change skips midnight).
pub fn start_of_local_day(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    (0..4)
        .filter_map(|hour| date.and_hms_opt(hour, 0, 0))
        .find_map(|local| zone.from_local_datetime(&local).earliest())
        .map_or_else(|| date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(), |t| t.with_timezone(&Utc))
}

/// Parses an IANA zone, falling back to New York (the default) for an unknown name.
pub fn time_zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::America::New_York)
}

/// Computes whether the business is open at `now`.
pub fn status_at(hours: Option<&BusinessHours>, zone: Tz, now: DateTime<Utc>) -> LocalStatus {
    let local = now.with_timezone(&zone).naive_local();
    let (date, time) = (local.date(), local.time());
    let today = hours.and_then(|hours| day_hours(hours, date)).cloned();
    let yesterday = hours.and_then(|hours| day_hours(hours, date - Duration::days(1)));

    let open_today = today.as_ref().and_then(|day| day.open_close).is_some_and(|(open, close)| {
        if open.0 < close.0 {
            open.0 <= time && time < close.0
        } else {
            // Overnight: open from `open` until midnight, the rest is checked as yesterday's.
            open.0 <= time
        }
    });
    let open_from_yesterday = yesterday
        .as_ref()
        .and_then(|day| day.open_close)
        .is_some_and(|(open, close)| close.0 < open.0 && time < close.0);

    LocalStatus { local, open: open_today || open_from_yesterday, today }
}

/// The weekly hours that apply on `date` (its weekday's); `None` when that day is not given.
/// A day whose hours run past midnight is still `date`'s: the hours belong to the day they
/// open on.
pub fn day_hours(hours: &BusinessHours, date: NaiveDate) -> Option<&DayHours> {
    let day = match date.weekday() {
        Weekday::Mon => &hours.monday,
        Weekday::Tue => &hours.tuesday,
        Weekday::Wed => &hours.wednesday,
        Weekday::Thu => &hours.thursday,
        Weekday::Fri => &hours.friday,
        Weekday::Sat => &hours.saturday,
        Weekday::Sun => &hours.sunday,
    };
    day.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn hours() -> BusinessHours {
        serde_json::from_value(json!({
            "monday": {"open": "09:00", "close": "17:00"},
            "friday": {"open": "18:00", "close": "02:00"},
            "sunday": {"closed": true}
        }))
        .unwrap()
    }

    fn at(zone: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
    }

    const NY: Tz = chrono_tz::America::New_York;
    const TOKYO: Tz = chrono_tz::Asia::Tokyo;

    #[test]
    fn open_during_the_day_and_closed_outside_it() {
        // 2026-11-23 is a Monday.
        assert!(status_at(Some(&hours()), NY, at(NY, 2026, 11, 23, 9, 0)).open);
        assert!(status_at(Some(&hours()), NY, at(NY, 2026, 11, 23, 16, 59)).open);
        assert!(!status_at(Some(&hours()), NY, at(NY, 2026, 11, 23, 17, 0)).open);
        assert!(!status_at(Some(&hours()), NY, at(NY, 2026, 11, 23, 8, 59)).open);
    }

    #[test]
    fn the_same_instant_differs_by_time_zone() {
        // Monday 14:00 in New York is Tuesday 04:00 in Tokyo (Tuesday has no hours).
        let instant = at(NY, 2026, 11, 23, 14, 0);
        assert!(status_at(Some(&hours()), NY, instant).open);
        let tokyo = status_at(Some(&hours()), TOKYO, instant);
        assert!(!tokyo.open);
        assert_eq!(tokyo.local.format("%A %H:%M").to_string(), "Tuesday 04:00");
    }

    #[test]
    fn overnight_hours_run_past_midnight() {
        // Friday 2026-11-27 18:00 to Saturday 02:00.
        assert!(!status_at(Some(&hours()), NY, at(NY, 2026, 11, 27, 17, 59)).open);
        assert!(status_at(Some(&hours()), NY, at(NY, 2026, 11, 27, 23, 30)).open);
        assert!(status_at(Some(&hours()), NY, at(NY, 2026, 11, 28, 1, 59)).open);
        assert!(!status_at(Some(&hours()), NY, at(NY, 2026, 11, 28, 2, 0)).open);
    }

    #[test]
    fn closed_and_missing_days_are_closed() {
        assert!(!status_at(Some(&hours()), NY, at(NY, 2026, 11, 29, 12, 0)).open, "Sunday is closed");
        assert!(!status_at(Some(&hours()), NY, at(NY, 2026, 11, 25, 12, 0)).open, "Wednesday is not given");
        assert!(!status_at(None, NY, at(NY, 2026, 11, 23, 12, 0)).open, "no hours at all");
    }

    #[test]
    fn a_local_day_starts_at_local_midnight_or_the_first_valid_time() {
        let nov_24 = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(start_of_local_day(NY, nov_24).to_rfc3339(), "2026-11-24T05:00:00+00:00");
        assert_eq!(start_of_local_day(TOKYO, nov_24).to_rfc3339(), "2026-11-23T15:00:00+00:00");
        // Sao Paulo's clocks jumped from 00:00 to 01:00 on 2018-11-04.
        let skipped = NaiveDate::from_ymd_opt(2018, 11, 4).unwrap();
        assert_eq!(
            start_of_local_day(chrono_tz::America::Sao_Paulo, skipped).to_rfc3339(),
            "2018-11-04T03:00:00+00:00"
        );
    }

    #[test]
    fn the_description_names_local_time_and_state() {
        let status = status_at(Some(&hours()), NY, at(NY, 2026, 11, 23, 14, 5));
        assert_eq!(status.describe(), "It is Monday 23 November 2026, 14:05 local time. The business is open now.");
    }
}
