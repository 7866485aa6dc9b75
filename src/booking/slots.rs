//! Free appointment times: a business's weekly hours, minus its time off and what is already
//! booked, within its notice and horizon. Plain functions of their inputs (no clock, no
//! database), so each rule is tested alone.
//!
//! The rules, in the business's own time zone:
//! - **Grid.** Candidate starts are on the slot-step grid of each opening, in local
//!   wall-clock time: open 09:00, step 30 gives 09:00, 09:30, ...
//! - **Opening.** A service fits wholly inside one opening: it starts at or after the open and
//!   ends, in real elapsed minutes, at or before the close. A day whose close is earlier than
//!   its open (18:00-02:00) runs into the next day, and its candidates belong to the day it
//!   opened (Friday's 01:00 is a Friday slot).
//! - **Clock changes.** A local time the clocks skip is never offered. A local time that
//!   occurs twice means its earlier instant, so a label is never ambiguous (the repeated hour
//!   offers nothing the second time round). An open or close that falls in a skipped hour is
//!   the moment the clocks jump.
//! - **Notice.** A start is at least `min_notice_minutes` after now.
//! - **Horizon.** The bookable days are the business's local today and the
//!   `horizon_days - 1` days after it; an opening counts as the day it opened.
//! - **Time off.** A start whose `[start, end)` overlaps a closed range is not offered.
//! - **Capacity and buffer.** Appointments sit on numbered places `1..=capacity` (chairs,
//!   staff), as the database stores them. Two appointments conflict when each starts before
//!   the other ends plus the buffer; a start is free when some place has no conflicting
//!   appointment, and a new booking takes the lowest such place ([`free_place`]).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::settings::BookingSettings;
use crate::profile::{BusinessHours, ClockTime};
use crate::receptionist::hours::day_hours;

/// The booking rules availability follows (from [`BookingSettings::rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Minutes between candidate starts, counted from each opening.
    pub slot_step_minutes: u32,
    /// Least time between now and a start.
    pub min_notice_minutes: u32,
    /// Bookable local days, today included.
    pub horizon_days: u32,
    /// How many appointments may overlap: the places `1..=capacity`.
    pub capacity: u16,
    /// Minutes kept free after each appointment.
    pub buffer_minutes: u32,
}

impl Default for Rules {
    fn default() -> Self {
        BookingSettings::default().rules()
    }
}

/// A range the business is closed (time off), `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOff {
    /// When the closure starts.
    pub start: DateTime<Utc>,
    /// When the business opens again.
    pub end: DateTime<Utc>,
}

/// An appointment already booked, `[start, end)`, on its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends (without the buffer).
    pub end: DateTime<Utc>,
    /// The place (chair, member of staff) it holds, from 1.
    pub place: u16,
}

/// One day's opening, in local wall-clock time and as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningPeriod {
    /// The local day it opens on; its candidates belong to this day.
    pub day: NaiveDate,
    /// Local opening time.
    pub open_local: NaiveDateTime,
    /// Local closing time (on the next day for hours that run past midnight).
    pub close_local: NaiveDateTime,
    /// The instant it opens.
    pub opens: DateTime<Utc>,
    /// The instant it closes.
    pub closes: DateTime<Utc>,
}

/// The opening that begins on local `day`, if the business opens that day.
pub fn opening_period(hours: &BusinessHours, zone: Tz, day: NaiveDate) -> Option<OpeningPeriod> {
    let (open, close) = day_hours(hours, day)?.open_close?;
    let close_day = match close.0.cmp(&open.0) {
        std::cmp::Ordering::Greater => day,
        std::cmp::Ordering::Less => day.succ_opt()?,
        // The profile refuses equal times; a hand-built one is not an opening.
        std::cmp::Ordering::Equal => return None,
    };
    let open_local = day.and_time(open.0);
    let close_local = close_day.and_time(close.0);
    let (opens, closes) = (boundary(zone, open_local), boundary(zone, close_local));
    (opens < closes).then_some(OpeningPeriod { day, open_local, close_local, opens, closes })
}

/// What a caller asks for: a local day and, on it, a window of start times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotRequest {
    /// The business's local date; `None` for "as soon as possible" (from now).
    pub date: Option<NaiveDate>,
    /// The earliest start wanted, local time.
    pub earliest: Option<NaiveTime>,
    /// The latest start wanted, local time (a start, not an end).
    pub latest: Option<NaiveTime>,
}

/// Why a [`SlotRequest`] cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The date is before the business's today.
    #[error("that date has passed; today is {}", .today.format("%A %-d %B %Y"))]
    DateInPast {
        /// The business's local today.
        today: NaiveDate,
    },
    /// The date is after the last bookable day.
    #[error("bookings can only be made up to {}", .last_day.format("%A %-d %B %Y"))]
    BeyondHorizon {
        /// The last bookable local day.
        last_day: NaiveDate,
    },
    /// `earliest` is later than `latest`.
    #[error("the earliest time is after the latest time")]
    EarliestAfterLatest,
}

/// Why a given start cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The start is in the past.
    #[error("that time has already passed")]
    Past,
    /// The start is within the business's notice.
    #[error("that is too soon: bookings need at least {notice_minutes} minutes' notice")]
    TooSoon {
        /// The notice the business asks for.
        notice_minutes: u32,
    },
    /// The start's day is after the last bookable day.
    #[error("bookings can only be made up to {}", .last_day.format("%A %-d %B %Y"))]
    BeyondHorizon {
        /// The last bookable local day.
        last_day: NaiveDate,
    },
    /// The appointment would not fit wholly inside an opening.
    #[error("the business is not open for the whole of that time")]
    OutsideHours,
    /// The appointment would overlap time off.
    #[error("the business is closed then")]
    TimeOff,
    /// Every place is taken (with the buffers) for some of that time.
    #[error("that time is already taken")]
    Taken,
}

/// A business's diary at one moment: computes free starts for its services.
///
/// Built once per question from the appointments and time off near the dates asked about
/// (more do no harm): they are indexed so that each candidate costs a few binary searches.
#[derive(Debug)]
pub struct Availability<'a> {
    hours: &'a BusinessHours,
    zone: Tz,
    rules: Rules,
    now: DateTime<Utc>,
    today: NaiveDate,
    last_day: NaiveDate,
    /// `now` plus the notice.
    earliest_start: DateTime<Utc>,
    time_off: Spans,
    /// The appointments on each place; index 0 is place 1.
    places: Vec<Spans>,
    /// When set (sorted), the only starts that may be offered or booked: those an outside
    /// booking system (Cal.com) lists.
    allowed: Option<Vec<DateTime<Utc>>>,
}

impl<'a> Availability<'a> {
    /// The diary of a business with `hours` in `zone`, following `rules`, seen at `now`.
    /// Appointments on a place above the capacity (booked before it was lowered) stand but
    /// block no place that can still be booked.
    pub fn new(
        hours: &'a BusinessHours,
        zone: Tz,
        rules: Rules,
        now: DateTime<Utc>,
        time_off: &[TimeOff],
        busy: &[Busy],
    ) -> Self {
        let today = now.with_timezone(&zone).date_naive();
        let last_day = today + chrono::Days::new(u64::from(rules.horizon_days)) - chrono::Days::new(1);
        let mut per_place = vec![Vec::new(); usize::from(rules.capacity)];
        for appointment in busy {
            if let Some(place) = usize::from(appointment.place).checked_sub(1).and_then(|i| per_place.get_mut(i)) {
                place.push((appointment.start, appointment.end));
            }
        }
        Availability {
            hours,
            zone,
            rules,
            now,
            today,
            last_day,
            earliest_start: now + minutes(rules.min_notice_minutes),
            time_off: Spans::new(time_off.iter().map(|t| (t.start, t.end)).collect()),
            places: per_place.into_iter().map(Spans::new).collect(),
            allowed: None,
        }
    }

    /// The same diary offering a start only when it is also in `starts` (when given): an
    /// outside booking system's free starts. A start left out counts as taken.
    pub fn only_at(mut self, starts: Option<Vec<DateTime<Utc>>>) -> Self {
        self.allowed = starts.map(|mut starts| {
            starts.sort_unstable();
            starts
        });
        self
    }

    fn allowed(&self, start: DateTime<Utc>) -> bool {
        self.allowed.as_ref().is_none_or(|starts| starts.binary_search(&start).is_ok())
    }

    /// The business's local date at `now`.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The last bookable local day.
    pub fn last_day(&self) -> NaiveDate {
        self.last_day
    }

    /// The free starts of a `minutes`-long service in the opening that begins on local
    /// `day`, earliest first (empty when the day is closed, full, past or beyond the horizon).
    pub fn free_starts(&self, day: NaiveDate, minutes: u32) -> Vec<DateTime<Utc>> {
        let mut starts = Vec::new();
        self.each_free(day, minutes, |_, start| starts.push(start));
        starts
    }

    /// At most `limit` free starts nearest to `wanted`, earliest first.
    ///
    /// Nearest means: on the requested day (today when no date is given) first, then day by
    /// day forward to the horizon, filling up to `limit`; within a day, starts inside the
    /// `earliest`..=`latest` window first, then those closest to it. Without a date the
    /// search starts from now, so an opening that began yesterday and runs past midnight
    /// counts as today's.
    pub fn nearest(
        &self,
        minutes: u32,
        wanted: &SlotRequest,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>, RequestError> {
        if let (Some(earliest), Some(latest)) = (wanted.earliest, wanted.latest)
            && earliest > latest
        {
            return Err(RequestError::EarliestAfterLatest);
        }
        let requested = wanted.date.unwrap_or(self.today);
        if requested < self.today {
            return Err(RequestError::DateInPast { today: self.today });
        }
        if requested > self.last_day {
            return Err(RequestError::BeyondHorizon { last_day: self.last_day });
        }
        // The window in minutes after the day's midnight (an overnight start after midnight
        // is past 24:00 of its day).
        let from = wanted.earliest.map_or(0, minute_of_day);
        let to = wanted.latest.map_or(i64::MAX, minute_of_day);

        let mut chosen = Vec::with_capacity(limit);
        let mut found = Vec::new();
        let mut day = requested;
        while chosen.len() < limit && day <= self.last_day {
            found.clear();
            let midnight = day.and_time(NaiveTime::MIN);
            let mut rank = |local: NaiveDateTime, start: DateTime<Utc>| {
                let at = (local - midnight).num_minutes();
                found.push(((from - at).max(at.saturating_sub(to)).max(0), start));
            };
            if day == requested
                && wanted.date.is_none()
                && let Some(yesterday) = day.pred_opt()
            {
                self.each_free(yesterday, minutes, &mut rank);
            }
            self.each_free(day, minutes, &mut rank);
            found.sort_unstable();
            chosen.extend(found.iter().take(limit - chosen.len()).map(|&(_, start)| start));
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        chosen.sort_unstable();
        Ok(chosen)
    }

    /// Whether a `minutes`-long appointment can start at `start` (any minute, not only the
    /// grid: the owner may book by hand), and if so the place it takes.
    pub fn check(&self, start: DateTime<Utc>, minutes: u32) -> Result<u16, Unavailable> {
        if start < self.now {
            return Err(Unavailable::Past);
        }
        if start < self.earliest_start {
            return Err(Unavailable::TooSoon { notice_minutes: self.rules.min_notice_minutes });
        }
        let end = start + self::minutes(minutes);
        let local_day = start.with_timezone(&self.zone).date_naive();
        let period = [Some(local_day), local_day.pred_opt()]
            .into_iter()
            .flatten()
            .filter_map(|day| opening_period(self.hours, self.zone, day))
            .find(|period| period.opens <= start && end <= period.closes);
        let day = period.map_or(local_day, |period| period.day);
        if day > self.last_day {
            return Err(Unavailable::BeyondHorizon { last_day: self.last_day });
        }
        if period.is_none() {
            return Err(Unavailable::OutsideHours);
        }
        if self.time_off.overlaps(start, end) {
            return Err(Unavailable::TimeOff);
        }
        if !self.allowed(start) {
            return Err(Unavailable::Taken);
        }
        self.free_place(start, end).ok_or(Unavailable::Taken)
    }

    /// The lowest place with no appointment conflicting with `[start, end)` (buffers
    /// included), or `None` when every place has one.
    pub fn free_place(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<u16> {
        let buffer = minutes(self.rules.buffer_minutes);
        let (after, before) = (start - buffer, end + buffer);
        let free = self.places.iter().position(|place| !place.overlaps(after, before))?;
        u16::try_from(free + 1).ok()
    }

    /// Calls `found(local start, start)` for each free start in the opening of `day`, in order.
    fn each_free(&self, day: NaiveDate, minutes: u32, mut found: impl FnMut(NaiveDateTime, DateTime<Utc>)) {
        if day > self.last_day {
            return;
        }
        let Some(period) = opening_period(self.hours, self.zone, day) else { return };
        let length = self::minutes(minutes);
        if period.closes < self.earliest_start + length {
            return;
        }
        let step = self::minutes(self.rules.slot_step_minutes.max(1));
        let mut local = period.open_local;
        while local < period.close_local {
            if let Some(start) = instant(self.zone, local) {
                let end = start + length;
                let fits = period.opens <= start && end <= period.closes && self.earliest_start <= start;
                if fits
                    && self.allowed(start)
                    && !self.time_off.overlaps(start, end)
                    && self.free_place(start, end).is_some()
                {
                    found(local, start);
                }
            }
            local += step;
        }
    }
}

/// The lowest place in `1..=capacity` where `[start, end)` conflicts with no appointment in
/// `busy` (each blocking its `[start, end + buffer)`, and the new one needing its own buffer
/// after it): the place a new booking takes. `None` when every place is taken.
pub fn free_place(
    capacity: u16,
    buffer_minutes: u32,
    busy: &[Busy],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<u16> {
    let buffer = minutes(buffer_minutes);
    let mut taken = vec![false; usize::from(capacity)];
    for appointment in busy.iter().filter(|b| b.start < end + buffer && start < b.end + buffer) {
        if let Some(slot) = usize::from(appointment.place).checked_sub(1).and_then(|i| taken.get_mut(i)) {
            *slot = true;
        }
    }
    let free = taken.iter().position(|taken| !taken)?;
    u16::try_from(free + 1).ok()
}

/// How a start is said: "Tuesday 8 December at 3:00 pm" in the business's local time
/// (no leading zero, lower-case am/pm; noon is "12:00 pm", midnight "12:00 am").
pub fn label(start: DateTime<Utc>, zone: Tz) -> String {
    start.with_timezone(&zone).format("%A %-d %B at %-I:%M %P").to_string()
}

/// Why a local date and time name no instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    /// The text is not `HH:MM`.
    #[error("{0}")]
    NotATime(String),
    /// The clocks skip that time on that day (they go forward).
    #[error(
        "{} does not exist on {} in {zone}: the clocks go forward then; choose another time",
        .time.format("%H:%M"),
        .date.format("%A %-d %B %Y")
    )]
    Skipped {
        /// The date asked for.
        date: NaiveDate,
        /// The time asked for.
        time: NaiveTime,
        /// The business's time zone.
        zone: Tz,
    },
}

/// The instant a business means by a local date and `HH:MM` time in `zone` (for a start the
/// owner types in). A time that occurs twice (the clocks go back) is its earlier instant, as
/// for offered slots; a time the clocks skip is an error.
pub fn resolve_local_time(date: NaiveDate, time: &str, zone: Tz) -> Result<DateTime<Utc>, LocalTimeError> {
    let ClockTime(time) = ClockTime::parse(time).map_err(LocalTimeError::NotATime)?;
    instant(zone, date.and_time(time)).ok_or(LocalTimeError::Skipped { date, time, zone })
}

/// The instant of a local wall-clock time: the earlier one when it occurs twice, `None` when
/// the clocks skip it.
fn instant(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

/// The instant of an opening or closing time; one the clocks skip is the moment they jump
/// (the first local minute after it that exists).
fn boundary(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Gaps are an hour or so; a whole skipped day (Samoa, 2011) is the longest there is.
    (0..=26 * 60).find_map(|minute| instant(zone, local + Duration::minutes(minute))).unwrap_or_else(|| local.and_utc())
}

fn minutes(n: u32) -> Duration {
    Duration::minutes(i64::from(n))
}

fn minute_of_day(time: NaiveTime) -> i64 {
    (time - NaiveTime::MIN).num_minutes()
}

/// Ranges `[start, end)` sorted by start, with the latest end so far, so "does any range
/// overlap `(after, before)`" is one binary search, however the ranges overlap each other.
#[derive(Debug, Default)]
struct Spans {
    starts: Vec<DateTime<Utc>>,
    /// `latest_end[i]`: the latest end among the first `i + 1` ranges.
    latest_end: Vec<DateTime<Utc>>,
}

impl Spans {
    fn new(mut ranges: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> Self {
        ranges.sort_unstable_by_key(|&(start, _)| start);
        let mut latest = DateTime::<Utc>::MIN_UTC;
        let latest_end = ranges
            .iter()
            .map(|&(_, end)| {
                latest = latest.max(end);
                latest
            })
            .collect();
        Spans { starts: ranges.into_iter().map(|(start, _)| start).collect(), latest_end }
    }

    /// Whether some range starts before `before` and ends after `after`.
    fn overlaps(&self, after: DateTime<Utc>, before: DateTime<Utc>) -> bool {
        let starting_before = self.starts.partition_point(|&start| start < before);
        starting_before > 0 && self.latest_end[starting_before - 1] > after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Weekday};
    use serde_json::json;

    const NY: Tz = chrono_tz::America::New_York;
    const LONDON: Tz = chrono_tz::Europe::London;

    /// The same hours every day of the week.
    fn every_day(open: &str, close: &str) -> BusinessHours {
        let day = json!({"open": open, "close": close});
        serde_json::from_value(json!({
            "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
            "friday": day, "saturday": day, "sunday": day
        }))
        .unwrap()
    }

    fn hours(value: serde_json::Value) -> BusinessHours {
        serde_json::from_value(value).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    /// A local wall-clock time that exists once.
    fn local(zone: Tz, day: NaiveDate, hh_mm: &str) -> DateTime<Utc> {
        let time = NaiveTime::parse_from_str(hh_mm, "%H:%M").unwrap();
        zone.from_local_datetime(&day.and_time(time)).single().unwrap().with_timezone(&Utc)
    }

    /// Rules with no notice, a long horizon, one place and no buffer, so a test sets only
    /// the rule it is about.
    fn rules(step: u32) -> Rules {
        Rules { slot_step_minutes: step, min_notice_minutes: 0, horizon_days: 365, capacity: 1, buffer_minutes: 0 }
    }

    /// Starts as local `HH:MM` (with the UTC offset when `offset` is set), for readable asserts.
    fn times(starts: &[DateTime<Utc>], zone: Tz) -> Vec<String> {
        starts.iter().map(|s| s.with_timezone(&zone).format("%H:%M").to_string()).collect()
    }

    fn instants(starts: &[DateTime<Utc>]) -> Vec<String> {
        starts.iter().map(|s| s.format("%m-%dT%H:%MZ").to_string()).collect()
    }

    // A Monday, far from any clock change.
    fn monday() -> NaiveDate {
        date(2026, 6, 15)
    }

    /// Midnight UTC well before `monday()`: no notice or horizon gets in the way.
    fn long_before() -> DateTime<Utc> {
        utc("2026-06-01T00:00:00Z")
    }

    #[test]
    fn candidates_are_on_the_step_grid_from_the_opening() {
        let h = every_day("09:10", "11:00");
        let a = Availability::new(&h, NY, rules(20), long_before(), &[], &[]);
        assert_eq!(times(&a.free_starts(monday(), 20), NY), ["09:10", "09:30", "09:50", "10:10", "10:30"]);
        let a = Availability::new(&h, NY, rules(60), long_before(), &[], &[]);
        assert_eq!(times(&a.free_starts(monday(), 20), NY), ["09:10", "10:10"]);
    }

    #[test]
    fn a_service_must_end_by_the_close() {
        let h = every_day("09:00", "12:00");
        let a = Availability::new(&h, NY, rules(30), long_before(), &[], &[]);
        assert_eq!(times(&a.free_starts(monday(), 90), NY), ["09:00", "09:30", "10:00", "10:30"]);
        assert_eq!(times(&a.free_starts(monday(), 180), NY), ["09:00"]);
        assert!(a.free_starts(monday(), 181).is_empty());
    }

    #[test]
    fn closed_and_missing_days_offer_nothing() {
        let h = hours(json!({"monday": {"closed": true}, "tuesday": {"open": "09:00", "close": "10:00"}}));
        let a = Availability::new(&h, NY, rules(30), long_before(), &[], &[]);
        assert!(a.free_starts(monday(), 30).is_empty(), "Monday is closed");
        assert_eq!(times(&a.free_starts(date(2026, 6, 16), 30), NY), ["09:00", "09:30"]);
        assert!(a.free_starts(date(2026, 6, 17), 30).is_empty(), "Wednesday is not given");
        let none = BusinessHours::default();
        assert!(Availability::new(&none, NY, rules(30), long_before(), &[], &[]).free_starts(monday(), 30).is_empty());
    }

    #[test]
    fn overnight_hours_run_into_the_next_day_and_belong_to_the_day_they_open() {
        // Friday 18:00 to Saturday 02:00; Saturday's own opening is 10:00-12:00.
        let friday = date(2026, 6, 19);
        let h = hours(json!({
            "friday": {"open": "22:00", "close": "02:00"},
            "saturday": {"open": "10:00", "close": "12:00"}
        }));
        let a = Availability::new(&h, NY, rules(60), long_before(), &[], &[]);
        let starts = a.free_starts(friday, 60);
        assert_eq!(times(&starts, NY), ["22:00", "23:00", "00:00", "01:00"]);
        assert_eq!(starts[3].with_timezone(&NY).date_naive(), date(2026, 6, 20), "01:00 is on Saturday's date");
        assert_eq!(times(&a.free_starts(date(2026, 6, 20), 60), NY), ["10:00", "11:00"], "Saturday's own opening only");
    }

    #[test]
    fn spring_forward_in_new_york_skips_the_missing_hour() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT. Open 00:00-04:00 is three real hours.
        let day = date(2026, 3, 8);
        let h = every_day("00:00", "04:00");
        let a = Availability::new(&h, NY, rules(30), utc("2026-03-01T00:00:00Z"), &[], &[]);
        let starts = a.free_starts(day, 60);
        assert_eq!(times(&starts, NY), ["00:00", "00:30", "01:00", "01:30", "03:00"]);
        assert_eq!(
            instants(&starts),
            ["03-08T05:00Z", "03-08T05:30Z", "03-08T06:00Z", "03-08T06:30Z", "03-08T07:00Z"],
            "01:30 EST lasts until 03:30 EDT, 03:00 EDT until the 04:00 close"
        );
    }

    #[test]
    fn fall_back_in_new_york_offers_the_repeated_hour_once_at_its_earlier_instant() {
        // 2026-11-01: 02:00 EDT becomes 01:00 EST. Open 00:00-04:00 is five real hours.
        let day = date(2026, 11, 1);
        let h = every_day("00:00", "04:00");
        let a = Availability::new(&h, NY, rules(30), utc("2026-10-25T00:00:00Z"), &[], &[]);
        let starts = a.free_starts(day, 60);
        assert_eq!(times(&starts, NY), ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00"]);
        assert_eq!(
            instants(&starts),
            [
                "11-01T04:00Z",
                "11-01T04:30Z",
                "11-01T05:00Z", // 01:00 EDT; 01:00 EST (06:00Z) is not offered
                "11-01T05:30Z",
                "11-01T07:00Z",
                "11-01T07:30Z",
                "11-01T08:00Z",
            ]
        );
    }

    #[test]
    fn a_service_lasts_real_minutes_across_a_clock_change() {
        // Open 00:00-02:00 on the fall-back day is three real hours: an hour starting 01:30 EDT
        // ends at 01:30 EST, before the 02:00 close, though 01:30 + 1h reads 02:30.
        let h = every_day("00:00", "02:00");
        let a = Availability::new(&h, NY, rules(30), utc("2026-10-25T00:00:00Z"), &[], &[]);
        assert_eq!(times(&a.free_starts(date(2026, 11, 1), 60), NY), ["00:00", "00:30", "01:00", "01:30"]);
        // Open 00:00-03:30 on the spring-forward day is two and a half real hours: 01:30 EST
        // plus an hour is 03:30 EDT, the close.
        let h = every_day("00:00", "03:30");
        let a = Availability::new(&h, NY, rules(30), utc("2026-03-01T00:00:00Z"), &[], &[]);
        assert_eq!(times(&a.free_starts(date(2026, 3, 8), 60), NY), ["00:00", "00:30", "01:00", "01:30"]);
    }

    #[test]
    fn an_opening_in_a_skipped_hour_starts_when_the_clocks_jump() {
        let h = every_day("02:30", "05:00");
        let a = Availability::new(&h, NY, rules(30), utc("2026-03-01T00:00:00Z"), &[], &[]);
        let period = opening_period(&every_day("02:30", "05:00"), NY, date(2026, 3, 8)).unwrap();
        assert_eq!(period.opens, utc("2026-03-08T07:00:00Z"), "03:00 EDT");
        assert_eq!(times(&a.free_starts(date(2026, 3, 8), 60), NY), ["03:00", "03:30", "04:00"]);
    }

    #[test]
    fn overnight_hours_across_both_london_changes() {
        // Saturday 22:00 to Sunday 03:00. On 2026-03-29 01:00 GMT becomes 02:00 BST (four real
        // hours); on 2026-10-25 02:00 BST becomes 01:00 GMT (six real hours).
        let h = hours(json!({"saturday": {"open": "22:00", "close": "03:00"}}));
        let spring = Availability::new(&h, LONDON, rules(60), utc("2026-03-20T00:00:00Z"), &[], &[]);
        let starts = spring.free_starts(date(2026, 3, 28), 60);
        assert_eq!(times(&starts, LONDON), ["22:00", "23:00", "00:00", "02:00"]);
        assert_eq!(instants(&starts), ["03-28T22:00Z", "03-28T23:00Z", "03-29T00:00Z", "03-29T01:00Z"]);

        let autumn = Availability::new(&h, LONDON, rules(60), utc("2026-10-20T00:00:00Z"), &[], &[]);
        let starts = autumn.free_starts(date(2026, 10, 24), 60);
        assert_eq!(times(&starts, LONDON), ["22:00", "23:00", "00:00", "01:00", "02:00"]);
        assert_eq!(
            instants(&starts),
            ["10-24T21:00Z", "10-24T22:00Z", "10-24T23:00Z", "10-25T00:00Z", "10-25T02:00Z"],
            "01:00 is offered once, as BST; 02:00 GMT lasts until the 03:00 close"
        );
    }

    #[test]
    fn the_date_is_the_business_local_date_across_the_date_line() {
        // At 12:00 UTC on Monday 1 June it is already Tuesday 2 June, 02:00, at Kiritimati (UTC+14)
        // and still Monday 1 June, 01:00, at Pago Pago (UTC-11).
        let now = utc("2026-06-01T12:00:00Z");
        assert_eq!(date(2026, 6, 2).weekday(), Weekday::Tue);
        let h = hours(
            json!({"monday": {"open": "09:00", "close": "10:00"}, "tuesday": {"open": "09:00", "close": "10:00"}}),
        );

        let kiritimati = chrono_tz::Pacific::Kiritimati;
        let a = Availability::new(&h, kiritimati, rules(30), now, &[], &[]);
        assert_eq!(a.today(), date(2026, 6, 2));
        let soonest = a.nearest(30, &SlotRequest::default(), 3).unwrap();
        assert_eq!(
            instants(&soonest),
            ["06-01T19:00Z", "06-01T19:30Z", "06-07T19:00Z"],
            "Tuesday 09:00 there, then next Monday"
        );
        assert_eq!(
            a.nearest(30, &SlotRequest { date: Some(date(2026, 6, 1)), ..Default::default() }, 3),
            Err(RequestError::DateInPast { today: date(2026, 6, 2) }),
            "1 June is over at the business, though not in UTC"
        );

        let pago_pago = chrono_tz::Pacific::Pago_Pago;
        let a = Availability::new(&h, pago_pago, rules(30), now, &[], &[]);
        assert_eq!(a.today(), date(2026, 6, 1));
        let first_june = a.nearest(30, &SlotRequest { date: Some(date(2026, 6, 1)), ..Default::default() }, 2).unwrap();
        assert_eq!(instants(&first_june), ["06-01T20:00Z", "06-01T20:30Z"]);

        // In Auckland (UTC+12) a day's morning slots are the previous UTC day.
        let auckland = chrono_tz::Pacific::Auckland;
        let a = Availability::new(&h, auckland, rules(30), long_before(), &[], &[]);
        assert_eq!(instants(&a.free_starts(monday(), 30)), ["06-14T21:00Z", "06-14T21:30Z"]);
    }

    #[test]
    fn minimum_notice_hides_starts_too_soon() {
        let h = every_day("09:00", "12:00");
        let now = local(NY, monday(), "09:10");
        let mut r = rules(30);
        r.min_notice_minutes = 60;
        let a = Availability::new(&h, NY, r, now, &[], &[]);
        assert_eq!(times(&a.free_starts(monday(), 30), NY), ["10:30", "11:00", "11:30"], "10:10 at the earliest");
        r.min_notice_minutes = 0;
        let a = Availability::new(&h, NY, r, now, &[], &[]);
        assert_eq!(times(&a.free_starts(monday(), 30), NY)[0], "09:30", "09:00 has passed");
        assert_eq!(a.check(local(NY, monday(), "09:00"), 30), Err(Unavailable::Past));
        r.min_notice_minutes = 60;
        let a = Availability::new(&h, NY, r, now, &[], &[]);
        assert_eq!(a.check(local(NY, monday(), "10:00"), 30), Err(Unavailable::TooSoon { notice_minutes: 60 }));
        assert_eq!(a.check(local(NY, monday(), "10:10"), 30), Ok(1), "exactly the notice is enough");
    }

    #[test]
    fn the_horizon_counts_local_days_from_today() {
        let h = every_day("09:00", "10:00");
        let now = local(NY, monday(), "23:00");
        let mut r = rules(30);
        r.horizon_days = 2;
        let a = Availability::new(&h, NY, r, now, &[], &[]);
        assert_eq!(a.last_day(), date(2026, 6, 16), "today and tomorrow");
        assert_eq!(a.free_starts(date(2026, 6, 16), 30).len(), 2);
        assert!(a.free_starts(date(2026, 6, 17), 30).is_empty());
        assert_eq!(
            a.nearest(30, &SlotRequest { date: Some(date(2026, 6, 17)), ..Default::default() }, 3),
            Err(RequestError::BeyondHorizon { last_day: date(2026, 6, 16) })
        );
        assert_eq!(
            a.check(local(NY, date(2026, 6, 17), "09:00"), 30),
            Err(Unavailable::BeyondHorizon { last_day: date(2026, 6, 16) })
        );
        assert_eq!(a.nearest(30, &SlotRequest::default(), 5).unwrap().len(), 2, "only tomorrow is left");
    }

    #[test]
    fn the_last_days_overnight_opening_is_within_the_horizon() {
        let h = every_day("22:00", "02:00");
        let mut r = rules(60);
        r.horizon_days = 1;
        let a = Availability::new(&h, NY, r, local(NY, monday(), "12:00"), &[], &[]);
        assert_eq!(times(&a.free_starts(monday(), 60), NY), ["22:00", "23:00", "00:00", "01:00"]);
        assert_eq!(a.check(local(NY, date(2026, 6, 16), "01:00"), 60), Ok(1), "Monday's opening, after midnight");
    }

    #[test]
    fn time_off_blocks_the_starts_it_overlaps() {
        let h = every_day("09:00", "13:00");
        let off = [TimeOff { start: local(NY, monday(), "10:15"), end: local(NY, monday(), "11:00") }];
        let a = Availability::new(&h, NY, rules(30), long_before(), &off, &[]);
        assert_eq!(times(&a.free_starts(monday(), 60), NY), ["09:00", "11:00", "11:30", "12:00"]);
        assert_eq!(a.check(local(NY, monday(), "10:30"), 15), Err(Unavailable::TimeOff));
        assert_eq!(a.check(local(NY, monday(), "11:00"), 15), Ok(1), "the time off ends as it starts");
        let whole_week = [TimeOff { start: long_before(), end: utc("2026-07-01T00:00:00Z") }];
        let a = Availability::new(&h, NY, rules(30), long_before(), &whole_week, &[]);
        assert!(a.free_starts(monday(), 30).is_empty());
    }

    #[test]
    fn with_one_place_a_booking_blocks_the_starts_it_overlaps() {
        let h = every_day("09:00", "12:00");
        let busy = [Busy { start: local(NY, monday(), "10:00"), end: local(NY, monday(), "11:00"), place: 1 }];
        let a = Availability::new(&h, NY, rules(30), long_before(), &[], &busy);
        assert_eq!(times(&a.free_starts(monday(), 60), NY), ["09:00", "11:00"]);
        assert_eq!(a.check(local(NY, monday(), "10:30"), 30), Err(Unavailable::Taken));
    }

    #[test]
    fn the_buffer_follows_each_booking_and_the_new_one() {
        let h = every_day("09:00", "12:00");
        let busy = [Busy { start: local(NY, monday(), "10:00"), end: local(NY, monday(), "11:00"), place: 1 }];
        let mut r = rules(15);
        r.buffer_minutes = 15;
        let a = Availability::new(&h, NY, r, long_before(), &[], &busy);
        // 09:15 + 30 min + 15 min buffer ends at 10:00; 11:00 is inside the booking's buffer.
        assert_eq!(times(&a.free_starts(monday(), 30), NY), ["09:00", "09:15", "11:15", "11:30"]);
    }

    #[test]
    fn capacity_two_takes_a_second_booking_on_the_other_place() {
        let h = every_day("09:00", "12:00");
        let busy = [Busy { start: local(NY, monday(), "10:00"), end: local(NY, monday(), "11:00"), place: 1 }];
        let mut r = rules(30);
        r.capacity = 2;
        let a = Availability::new(&h, NY, r, long_before(), &[], &busy);
        assert_eq!(a.free_starts(monday(), 60).len(), 5, "every start still has place 2");
        assert_eq!(a.check(local(NY, monday(), "10:00"), 60), Ok(2));
        let full = [busy[0], Busy { place: 2, ..busy[0] }];
        let a = Availability::new(&h, NY, r, long_before(), &[], &full);
        assert_eq!(times(&a.free_starts(monday(), 60), NY), ["09:00", "11:00"]);
    }

    #[test]
    fn a_start_is_free_only_when_one_place_is_free_for_all_of_it() {
        // A (09:00-10:00) and B (10:00-11:00) never overlap each other, so at most one is
        // running at any moment of 09:30-10:30. On different places, neither place is free
        // for the whole hour (the database holds each place's bookings apart), so 09:30 is
        // not offered; on the same place, place 2 is free and it is.
        let h = every_day("09:00", "12:00");
        let (a_start, a_end) = (local(NY, monday(), "09:00"), local(NY, monday(), "10:00"));
        let (b_start, b_end) = (local(NY, monday(), "10:00"), local(NY, monday(), "11:00"));
        let mut r = rules(30);
        r.capacity = 2;
        let apart = [Busy { start: a_start, end: a_end, place: 1 }, Busy { start: b_start, end: b_end, place: 2 }];
        let together = [apart[0], Busy { place: 1, ..apart[1] }];
        let half_past_nine = local(NY, monday(), "09:30");

        let a = Availability::new(&h, NY, r, long_before(), &[], &apart);
        assert_eq!(a.check(half_past_nine, 60), Err(Unavailable::Taken));
        assert!(!a.free_starts(monday(), 60).contains(&half_past_nine));
        assert_eq!(free_place(2, 0, &apart, half_past_nine, half_past_nine + Duration::hours(1)), None);

        let a = Availability::new(&h, NY, r, long_before(), &[], &together);
        assert_eq!(a.check(half_past_nine, 60), Ok(2));
        assert!(a.free_starts(monday(), 60).contains(&half_past_nine));
    }

    #[test]
    fn free_place_picks_the_lowest_free_place() {
        let at = |hh_mm| local(NY, monday(), hh_mm);
        let busy = [
            Busy { start: at("10:00"), end: at("11:00"), place: 1 },
            Busy { start: at("10:30"), end: at("11:30"), place: 3 },
            Busy { start: at("08:00"), end: at("09:00"), place: 2 },
        ];
        assert_eq!(free_place(3, 0, &busy, at("10:00"), at("10:30")), Some(2));
        assert_eq!(free_place(3, 0, &busy, at("09:00"), at("10:00")), Some(1), "back to back is no conflict");
        assert_eq!(free_place(3, 15, &busy, at("09:00"), at("10:00")), Some(3), "with a buffer, 1 and 2 touch");
        assert_eq!(free_place(1, 0, &busy, at("10:15"), at("10:45")), None);
        assert_eq!(free_place(2, 0, &busy, at("10:45"), at("11:15")), Some(2), "place 3 is beyond the capacity");
        // The indexed diary agrees.
        let mut r = rules(30);
        r.capacity = 3;
        let h = BusinessHours::default();
        let a = Availability::new(&h, NY, r, long_before(), &[], &busy);
        assert_eq!(a.free_place(at("10:00"), at("10:30")), Some(2));
    }

    #[test]
    fn a_booking_on_a_place_above_the_capacity_blocks_no_bookable_place() {
        let h = every_day("09:00", "12:00");
        let busy = [Busy { start: local(NY, monday(), "10:00"), end: local(NY, monday(), "11:00"), place: 2 }];
        let a = Availability::new(&h, NY, rules(60), long_before(), &[], &busy);
        assert_eq!(a.check(local(NY, monday(), "10:00"), 60), Ok(1));
    }

    #[test]
    fn check_refuses_a_start_outside_the_opening() {
        let h = every_day("09:00", "12:00");
        let a = Availability::new(&h, NY, rules(30), long_before(), &[], &[]);
        assert_eq!(a.check(local(NY, monday(), "08:45"), 30), Err(Unavailable::OutsideHours));
        assert_eq!(a.check(local(NY, monday(), "11:45"), 30), Err(Unavailable::OutsideHours), "ends after the close");
        assert_eq!(a.check(local(NY, monday(), "11:30"), 30), Ok(1));
        assert_eq!(a.check(local(NY, monday(), "09:07"), 30), Ok(1), "a start off the grid, booked by hand");
        assert_eq!(Unavailable::OutsideHours.to_string(), "the business is not open for the whole of that time");
    }

    #[test]
    fn nearest_prefers_the_window_on_the_requested_day() {
        let h = every_day("09:00", "17:00");
        let a = Availability::new(&h, NY, rules(30), long_before(), &[], &[]);
        let on = |earliest: Option<&str>, latest: Option<&str>| {
            let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").unwrap();
            let wanted = SlotRequest { date: Some(monday()), earliest: earliest.map(time), latest: latest.map(time) };
            times(&a.nearest(60, &wanted, 3).unwrap(), NY)
        };
        assert_eq!(on(None, None), ["09:00", "09:30", "10:00"]);
        assert_eq!(on(Some("14:00"), None), ["14:00", "14:30", "15:00"]);
        assert_eq!(on(None, Some("11:00")), ["09:00", "09:30", "10:00"], "all before the latest are in the window");
        assert_eq!(on(Some("13:00"), Some("13:30")), ["12:30", "13:00", "13:30"]);
        assert_eq!(on(Some("18:00"), None), ["15:00", "15:30", "16:00"], "after closing: the latest starts");
        assert_eq!(
            a.nearest(
                60,
                &SlotRequest { earliest: on_time("15:00"), latest: on_time("14:00"), ..Default::default() },
                3
            ),
            Err(RequestError::EarliestAfterLatest)
        );
    }

    fn on_time(t: &str) -> Option<NaiveTime> {
        Some(NaiveTime::parse_from_str(t, "%H:%M").unwrap())
    }

    #[test]
    fn nearest_moves_forward_day_by_day_when_the_requested_day_is_full() {
        // Monday is fully booked, Tuesday closed, Wednesday has one free start, Thursday many.
        let h = hours(json!({
            "monday": {"open": "09:00", "close": "11:00"},
            "wednesday": {"open": "09:00", "close": "11:00"},
            "thursday": {"open": "09:00", "close": "11:00"}
        }));
        let wednesday = date(2026, 6, 17);
        let busy = [
            Busy { start: local(NY, monday(), "09:00"), end: local(NY, monday(), "11:00"), place: 1 },
            Busy { start: local(NY, wednesday, "09:00"), end: local(NY, wednesday, "10:00"), place: 1 },
        ];
        let a = Availability::new(&h, NY, rules(60), long_before(), &[], &busy);
        let wanted = SlotRequest { date: Some(monday()), earliest: on_time("10:00"), latest: None };
        let found = a.nearest(60, &wanted, 3).unwrap();
        let found: Vec<String> = found.iter().map(|s| s.with_timezone(&NY).format("%a %H:%M").to_string()).collect();
        assert_eq!(
            found,
            ["Wed 10:00", "Thu 09:00", "Thu 10:00"],
            "Wednesday's one start, then Thursday's; in time order"
        );
        assert!(a.nearest(60, &SlotRequest { date: Some(monday()), ..Default::default() }, 0).unwrap().is_empty());
    }

    #[test]
    fn nearest_without_a_date_starts_now_and_includes_last_nights_opening() {
        // 00:30 on Saturday: Friday's 22:00-02:00 opening is still running.
        let h = hours(
            json!({"friday": {"open": "22:00", "close": "02:00"}, "saturday": {"open": "10:00", "close": "12:00"}}),
        );
        let now = local(NY, date(2026, 6, 20), "00:30");
        let a = Availability::new(&h, NY, rules(30), now, &[], &[]);
        let soonest = a.nearest(30, &SlotRequest::default(), 3).unwrap();
        assert_eq!(times(&soonest, NY), ["00:30", "01:00", "01:30"]);
        let saturday = a.nearest(30, &SlotRequest { date: Some(date(2026, 6, 20)), ..Default::default() }, 3).unwrap();
        assert_eq!(times(&saturday, NY), ["10:00", "10:30", "11:00"], "a date asks for that day's openings");
    }

    #[test]
    fn labels_say_the_local_day_and_time() {
        assert_eq!(label(utc("2026-12-08T20:00:00Z"), NY), "Tuesday 8 December at 3:00 pm");
        assert_eq!(label(utc("2026-12-08T17:00:00Z"), NY), "Tuesday 8 December at 12:00 pm");
        assert_eq!(label(utc("2026-12-08T05:00:00Z"), NY), "Tuesday 8 December at 12:00 am");
        assert_eq!(label(utc("2026-06-15T08:05:00Z"), LONDON), "Monday 15 June at 9:05 am", "summer time");
        assert_eq!(label(utc("2026-06-01T19:00:00Z"), chrono_tz::Pacific::Kiritimati), "Tuesday 2 June at 9:00 am");
    }

    #[test]
    fn resolve_local_time_gives_the_instant_or_says_why_not() {
        assert_eq!(resolve_local_time(monday(), "09:30", NY), Ok(utc("2026-06-15T13:30:00Z")));
        assert_eq!(
            resolve_local_time(date(2026, 11, 1), "01:30", NY),
            Ok(utc("2026-11-01T05:30:00Z")),
            "the earlier 01:30"
        );
        assert_eq!(resolve_local_time(date(2026, 10, 25), "01:30", LONDON), Ok(utc("2026-10-25T00:30:00Z")));
        let skipped = resolve_local_time(date(2026, 3, 8), "02:30", NY).unwrap_err();
        assert_eq!(
            skipped.to_string(),
            "02:30 does not exist on Sunday 8 March 2026 in America/New_York: the clocks go forward then; choose another time"
        );
        assert!(resolve_local_time(date(2026, 3, 29), "01:15", LONDON).is_err());
        let bad = resolve_local_time(monday(), "9.30", NY).unwrap_err();
        assert_eq!(bad, LocalTimeError::NotATime("`9.30` is not a time of day as HH:MM (for example 09:00)".into()));
    }

    /// A deterministic pseudo-random sequence (xorshift), so the large test needs no seed file.
    struct Sequence(u64);

    impl Sequence {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Free starts by brute force: every grid time, every appointment and time off scanned.
    fn free_starts_by_brute_force(
        a: &Availability,
        off: &[TimeOff],
        busy: &[Busy],
        day: NaiveDate,
        minutes: u32,
    ) -> Vec<DateTime<Utc>> {
        let (h, zone, r, now) = (a.hours, a.zone, a.rules, a.now);
        let Some((open, close)) = day_hours(h, day).and_then(|d| d.open_close) else { return vec![] };
        let close_local = if close < open { day.succ_opt().unwrap() } else { day }.and_time(close.0);
        let closes = zone.from_local_datetime(&close_local).earliest().unwrap().with_timezone(&Utc);
        let buffer = Duration::minutes(r.buffer_minutes.into());
        let mut starts = vec![];
        let mut t = day.and_time(open.0);
        while t < close_local {
            if let Some(start) = zone.from_local_datetime(&t).earliest().map(|s| s.with_timezone(&Utc)) {
                let end = start + Duration::minutes(minutes.into());
                let place_free =
                    |p: u16| !busy.iter().any(|b| b.place == p && b.start < end + buffer && start < b.end + buffer);
                if end <= closes
                    && start >= now + Duration::minutes(r.min_notice_minutes.into())
                    && !off.iter().any(|o| o.start < end && start < o.end)
                    && (1..=r.capacity).any(place_free)
                {
                    starts.push(start);
                }
            }
            t += Duration::minutes(r.slot_step_minutes.into());
        }
        starts
    }

    #[test]
    fn a_busy_diary_of_two_thousand_bookings_agrees_with_brute_force() {
        // 60 days, capacity 3, 2,000 appointments placed the way the database would (lowest
        // free place), some time off; every day's free starts match a full scan.
        let h = every_day("06:00", "22:00");
        let r =
            Rules { slot_step_minutes: 15, min_notice_minutes: 60, horizon_days: 60, capacity: 3, buffer_minutes: 10 };
        let now = local(NY, date(2026, 9, 1), "10:07");
        let first_day = date(2026, 9, 1);
        let mut sequence = Sequence(0x9E37_79B9_7F4A_7C15);
        let mut busy: Vec<Busy> = Vec::new();
        let mut tries = 0;
        while busy.len() < 2_000 {
            tries += 1;
            assert!(tries < 100_000, "the diary filled up before 2,000 bookings");
            let day = first_day + chrono::Days::new(sequence.below(60));
            let start = local(NY, day, "06:00") + Duration::minutes(15 * sequence.below(60) as i64);
            let end = start + Duration::minutes(15 * (1 + sequence.below(4)) as i64);
            if let Some(place) = free_place(r.capacity, r.buffer_minutes, &busy, start, end) {
                busy.push(Busy { start, end, place });
            }
        }
        let off: Vec<TimeOff> = (0..10)
            .map(|i| {
                let start = local(NY, first_day + chrono::Days::new(6 * i), "12:00");
                TimeOff { start, end: start + Duration::minutes(90 + 10 * i as i64) }
            })
            .collect();

        let a = Availability::new(&h, NY, r, now, &off, &busy);
        let mut offered = 0;
        for n in 0..61 {
            let day = first_day + chrono::Days::new(n);
            for minutes in [30, 90] {
                let expected = free_starts_by_brute_force(&a, &off, &busy, day, minutes);
                let expected = if day <= a.last_day() { expected } else { vec![] };
                assert_eq!(a.free_starts(day, minutes), expected, "{day} for {minutes} minutes");
                offered += expected.len();
            }
        }
        assert!((1_000..5_000).contains(&offered), "the test covers free and taken starts ({offered} free)");

        let wanted = SlotRequest { date: Some(date(2026, 9, 20)), earliest: on_time("13:00"), latest: None };
        let nearest = a.nearest(45, &wanted, 3).unwrap();
        assert_eq!(nearest.len(), 3);
        for start in &nearest {
            assert!(a.check(*start, 45).is_ok(), "{start} is bookable");
        }
    }
}
