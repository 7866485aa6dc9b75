//! A business's diary in PostgreSQL: free slots, and booking, moving and cancelling under
//! the rules of [`super::slots`]. The rules are checked here; the database's exclusion
//! constraint makes the last word: two bookings that both passed the check cannot both be
//! stored on one place, so a loser re-reads the diary and takes another place or fails with
//! fresh alternatives. Every path (a call, a text, the portal, an admin) books through here.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::settings::{BookingSettings, Service};
use super::slots::{self, Availability, Busy, RequestError, SlotRequest, TimeOff, Unavailable};
use crate::db::appointments::{self as db, AppointmentRow, AppointmentSource, NewAppointment};
use crate::db::customers::Customer;
use crate::profile::BusinessHours;
use crate::receptionist::hours::{start_of_local_day, time_zone};

/// How many alternatives a refused booking offers.
pub const ALTERNATIVES: usize = 3;
/// Days of the diary read at a time while searching for free starts.
const SEARCH_WINDOW_DAYS: u64 = 7;

/// The busy times of a calendar outside the diary (the business's Google Calendar) between
/// two instants, or why they cannot be known. Built above the diary, which only asks.
pub type OutsideBusy = std::sync::Arc<
    dyn Fn(
            DateTime<Utc>,
            DateTime<Utc>,
        ) -> futures_util::future::BoxFuture<'static, Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, String>>
        + Send
        + Sync,
>;

/// The starts a booking system outside the diary (Cal.com) offers for a service (by name)
/// between two instants, or why they cannot be known.
pub type OutsideSlots = std::sync::Arc<
    dyn Fn(
            String,
            DateTime<Utc>,
            DateTime<Utc>,
        ) -> futures_util::future::BoxFuture<'static, Result<Vec<DateTime<Utc>>, OutsideRefusal>>
        + Send
        + Sync,
>;

/// Books a service (by name) at a start for a caller (name, phone) in the outside booking
/// system; answers its booking's id.
pub type OutsideBook = std::sync::Arc<
    dyn Fn(
            String,
            DateTime<Utc>,
            String,
            Option<String>,
        ) -> futures_util::future::BoxFuture<'static, Result<String, OutsideRefusal>>
        + Send
        + Sync,
>;

/// Moves the outside booking with an id to a start; answers the id to keep from now on.
pub type OutsideMove = std::sync::Arc<
    dyn Fn(String, DateTime<Utc>) -> futures_util::future::BoxFuture<'static, Result<String, OutsideRefusal>>
        + Send
        + Sync,
>;

/// Why an outside booking system refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutsideRefusal {
    /// The time can no longer be booked there.
    Taken,
    /// It cannot be reached or refused for another reason (said for the owner).
    Failed(String),
}

/// What the diary asks of the outside world: a calendar's busy times (Google), or a booking
/// system that owns the free starts and takes every booking and move too (Cal.com). The
/// calls themselves are built in the HTTP layer, so that the diary knows no client.
#[derive(Clone, Default)]
pub struct OutsideCalendar {
    /// Busy times subtracted like time off.
    pub busy: Option<OutsideBusy>,
    /// Starts offered only when listed here (as well as free in the diary), and booked and
    /// moved there once the diary's row holds the place.
    pub bookings: Option<OutsideBookings>,
}

/// A booking system outside the diary (Cal.com): see [`OutsideCalendar::bookings`].
#[derive(Clone)]
pub struct OutsideBookings {
    /// Its free starts.
    pub slots: OutsideSlots,
    /// Books there.
    pub book: OutsideBook,
    /// Moves there.
    pub reschedule: OutsideMove,
}

impl OutsideCalendar {
    /// A calendar whose busy times count as time off.
    pub fn busy(busy: OutsideBusy) -> Self {
        OutsideCalendar { busy: Some(busy), bookings: None }
    }
}

/// Longest wait for an outside calendar's busy times: a caller is on the line.
const OUTSIDE_CALENDAR_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A free start, as the API and the receptionist give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Slot {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When the service ends.
    pub end: DateTime<Utc>,
    /// How it is said, in the business's time zone ("Tuesday 8 December at 3:00 pm").
    pub label: String,
}

/// Why the diary refused.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// The business takes no bookings (no services defined).
    #[error("this business does not take bookings yet: no services are defined")]
    NotSetUp,
    /// No such service.
    #[error("there is no service called \"{0}\"")]
    UnknownService(String),
    /// The requested day or window cannot be searched.
    #[error("{0}")]
    BadRequest(#[from] RequestError),
    /// The start breaks a rule other than being taken.
    #[error("{0}")]
    NotBookable(Unavailable),
    /// Every place is taken then; here are the nearest free starts.
    #[error("that time is already taken")]
    Taken {
        /// Free starts near the one asked for.
        alternatives: Vec<Slot>,
    },
    /// No such appointment for this business.
    #[error("no such appointment")]
    NotFound,
    /// The appointment is cancelled and cannot be moved.
    #[error("that appointment is cancelled")]
    Cancelled,
    /// The business's connected calendar cannot be read, so no time can be confirmed.
    #[error("the connected calendar cannot be reached ({0})")]
    CalendarUnavailable(String),
    /// The database failed.
    #[error("database error")]
    Db(#[from] sqlx::Error),
}

/// A new appointment as asked for.
#[derive(Debug, Clone)]
pub struct BookingRequest {
    /// The service's name (any case).
    pub service: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Who it is for.
    pub caller_name: String,
    /// The caller's phone (E.164), if known.
    pub caller_phone: Option<String>,
    /// Anything the caller or the owner added.
    pub notes: Option<String>,
    /// Who books it.
    pub source: AppointmentSource,
    /// The call that books it.
    pub call_id: Option<i64>,
}

/// One business's diary: its hours, time zone and booking rules, and the busy times of its
/// connected calendar when it has one.
#[derive(Clone)]
pub struct Diary {
    customer_id: i64,
    zone: Tz,
    hours: BusinessHours,
    settings: BookingSettings,
    outside: Option<OutsideCalendar>,
}

impl std::fmt::Debug for Diary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diary")
            .field("customer_id", &self.customer_id)
            .field("zone", &self.zone)
            .field("outside_calendar", &self.outside.is_some())
            .finish()
    }
}

impl Diary {
    /// The diary of `customer`, or [`BookingError::NotSetUp`] when it has no services.
    pub fn of(customer: &Customer) -> Result<Self, BookingError> {
        let settings = customer.booking.as_ref().and_then(|booking| booking.parse()).unwrap_or_default();
        if settings.services.is_empty() {
            return Err(BookingError::NotSetUp);
        }
        let hours = customer.business_hours.as_ref().and_then(|hours| hours.parse()).unwrap_or_default();
        Ok(Diary { customer_id: customer.id, zone: time_zone(&customer.timezone), hours, settings, outside: None })
    }

    /// The same diary, whose free times also leave out what `calendar` says is busy; when it
    /// cannot be read, nothing is offered or booked ([`BookingError::CalendarUnavailable`]).
    pub fn with_outside_calendar(mut self, calendar: Option<OutsideCalendar>) -> Self {
        self.outside = calendar;
        self
    }

    /// The business's time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The booking rules.
    pub fn settings(&self) -> &BookingSettings {
        &self.settings
    }

    /// The service called `name` (any case).
    pub fn service(&self, name: &str) -> Result<&Service, BookingError> {
        self.settings.service(name).ok_or_else(|| BookingError::UnknownService(name.trim().to_owned()))
    }

    /// A slot for a start of `service`.
    pub fn slot(&self, service: &Service, start: DateTime<Utc>) -> Slot {
        Slot { start, end: start + minutes(service.minutes), label: slots::label(start, self.zone) }
    }

    /// The free starts of `service` on local `day`.
    pub async fn free_on(
        &self,
        db: &sqlx::PgPool,
        service: &str,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<Slot>, BookingError> {
        let service = self.service(service)?;
        let (time_off, busy) = self.load(db, day, day, None).await?;
        let allowed = self.outside_starts(&service.name, day, day).await?;
        let availability = self.availability(now, &time_off, &busy).only_at(allowed);
        Ok(availability.free_starts(day, service.minutes).into_iter().map(|start| self.slot(service, start)).collect())
    }

    /// At most `limit` free starts of `service` nearest to `wanted`.
    pub async fn nearest(
        &self,
        db: &sqlx::PgPool,
        service: &str,
        wanted: &SlotRequest,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Slot>, BookingError> {
        let service = self.service(service)?.clone();
        self.nearest_excluding(db, &service, wanted, now, limit, None).await
    }

    async fn nearest_excluding(
        &self,
        db: &sqlx::PgPool,
        service: &Service,
        wanted: &SlotRequest,
        now: DateTime<Utc>,
        limit: usize,
        except: Option<i64>,
    ) -> Result<Vec<Slot>, BookingError> {
        let today = now.with_timezone(&self.zone).date_naive();
        let last = today + Days::new(u64::from(self.settings.horizon_days.max(1) - 1));
        // The search walks forward day by day until it has enough: read the diary a week at
        // a time (most answers need only the first), not the whole horizon.
        let mut from = wanted.date.unwrap_or(today).max(today);
        let mut request = *wanted;
        let mut found = Vec::with_capacity(limit);
        loop {
            let window_last = (from + Days::new(SEARCH_WINDOW_DAYS - 1)).min(last);
            let (time_off, busy) = self.load(db, from, window_last.max(from), except).await?;
            let allowed = self.outside_starts(&service.name, from, window_last.max(from)).await?;
            let mut rules = self.settings.rules();
            rules.horizon_days = u32::try_from((window_last - today).num_days() + 1).unwrap_or(1).max(1);
            let availability = Availability::new(&self.hours, self.zone, rules, now, &time_off, &busy).only_at(allowed);
            found.extend(availability.nearest(service.minutes, &request, limit - found.len())?);
            if found.len() >= limit || window_last >= last {
                break;
            }
            from = window_last + Days::new(1);
            request = SlotRequest { date: Some(from), earliest: None, latest: None };
        }
        Ok(found.into_iter().map(|start| self.slot(service, start)).collect())
    }

    /// Books `request`: the start must follow the rules and a place must be free; if the
    /// last place is taken meanwhile, the nearest alternatives come back with the refusal.
    pub async fn book(
        &self,
        db: &sqlx::PgPool,
        request: &BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<AppointmentRow, BookingError> {
        let service = self.service(&request.service)?.clone();
        let start = request.starts_at;
        let end = start + minutes(service.minutes);
        let new = NewAppointment {
            customer_id: self.customer_id,
            call_id: request.call_id,
            service: service.name.clone(),
            minutes: i32::try_from(service.minutes).unwrap_or(i32::MAX),
            starts_at: start,
            ends_at: end,
            blocks_until: end + minutes(self.settings.buffer_minutes),
            caller_name: request.caller_name.clone(),
            caller_phone: request.caller_phone.clone(),
            notes: request.notes.clone(),
            source: request.source,
        };
        // Each lost race means another booking took a place: at most `capacity` of them can.
        for _ in 0..=self.settings.capacity {
            let place = self.check(db, &service, start, now, None).await?;
            match db::insert(db, &new, place).await {
                Ok(appointment) => return self.book_outside(db, &service, appointment, now).await,
                Err(error) if is_overlap(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(self.taken(db, &service, start, now, None).await)
    }

    /// Moves `appointment` to `starts_at` in one statement: the new time is taken before the
    /// old one is released, and a refusal leaves the old one standing.
    pub async fn reschedule(
        &self,
        db: &sqlx::PgPool,
        appointment: &AppointmentRow,
        starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<AppointmentRow, BookingError> {
        if appointment.status != crate::db::appointments::AppointmentStatus::Booked {
            return Err(BookingError::Cancelled);
        }
        // Its own service, even if since renamed or removed: its length stands.
        let service = Service {
            name: appointment.service.clone(),
            minutes: u32::try_from(appointment.minutes).unwrap_or(1),
            price: None,
        };
        let end = starts_at + minutes(service.minutes);
        let blocks_until = end + minutes(self.settings.buffer_minutes);
        for _ in 0..=self.settings.capacity {
            let place = self.check(db, &service, starts_at, now, Some(appointment.id)).await?;
            match db::reschedule(db, appointment.id, starts_at, end, blocks_until, place).await {
                Ok(Some(moved)) => return self.move_outside(db, &service, appointment, moved, now).await,
                Ok(None) => return Err(BookingError::Cancelled),
                Err(error) if is_overlap(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(self.taken(db, &service, starts_at, now, Some(appointment.id)).await)
    }

    /// Whether `service` can start at `start` now, and on which place; a taken start comes
    /// back with alternatives.
    async fn check(
        &self,
        db: &sqlx::PgPool,
        service: &Service,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        except: Option<i64>,
    ) -> Result<i16, BookingError> {
        let day = start.with_timezone(&self.zone).date_naive();
        // The day before too: an overnight opening that began then may hold the start.
        let (time_off, busy) = self.load(db, day.pred_opt().unwrap_or(day), day, except).await?;
        let allowed = self.outside_starts(&service.name, day.pred_opt().unwrap_or(day), day).await?;
        match self.availability(now, &time_off, &busy).only_at(allowed).check(start, service.minutes) {
            Ok(place) => Ok(i16::try_from(place).unwrap_or(i16::MAX)),
            Err(Unavailable::Taken) => Err(self.taken(db, service, start, now, except).await),
            Err(other) => Err(BookingError::NotBookable(other)),
        }
    }

    /// The refusal for a taken start: the nearest free starts on its day and after.
    async fn taken(
        &self,
        db: &sqlx::PgPool,
        service: &Service,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        except: Option<i64>,
    ) -> BookingError {
        let local = start.with_timezone(&self.zone);
        let wanted = SlotRequest { date: Some(local.date_naive()), earliest: Some(local.time()), latest: None };
        match self.nearest_excluding(db, service, &wanted, now, ALTERNATIVES, except).await {
            Ok(alternatives) => BookingError::Taken { alternatives },
            Err(error @ (BookingError::Db(_) | BookingError::CalendarUnavailable(_))) => error,
            Err(_) => BookingError::Taken { alternatives: Vec::new() },
        }
    }

    /// Books `appointment`, just stored, in the outside booking system too (Cal.com). It is
    /// booked there only after the diary's row holds the place, so two callers never both get
    /// one place; if the outside system refuses, the row is deleted (nobody was told of it)
    /// and the caller hears fresh times, or that no time can be confirmed now.
    async fn book_outside(
        &self,
        db: &sqlx::PgPool,
        service: &Service,
        appointment: AppointmentRow,
        now: DateTime<Utc>,
    ) -> Result<AppointmentRow, BookingError> {
        let Some(bookings) = self.outside.as_ref().and_then(|outside| outside.bookings.as_ref()) else {
            return Ok(appointment);
        };
        let answer = (bookings.book)(
            service.name.clone(),
            appointment.starts_at,
            appointment.caller_name.clone(),
            appointment.caller_phone.clone(),
        )
        .await;
        match answer {
            Ok(uid) => {
                db::set_calcom_uid(db, appointment.id, &uid).await?;
                Ok(appointment)
            }
            Err(refusal) => {
                db::discard(db, appointment.id).await?;
                Err(match refusal {
                    OutsideRefusal::Taken => self.taken(db, service, appointment.starts_at, now, None).await,
                    OutsideRefusal::Failed(reason) => BookingError::CalendarUnavailable(reason),
                })
            }
        }
    }

    /// Moves `before`'s outside booking (Cal.com) to where `moved` now is, storing the new
    /// uid; if the outside system refuses, the diary's row goes back where it was.
    async fn move_outside(
        &self,
        db: &sqlx::PgPool,
        service: &Service,
        before: &AppointmentRow,
        moved: AppointmentRow,
        now: DateTime<Utc>,
    ) -> Result<AppointmentRow, BookingError> {
        let Some(bookings) = self.outside.as_ref().and_then(|outside| outside.bookings.as_ref()) else {
            return Ok(moved);
        };
        let Some(uid) = db::calcom_uid(db, moved.id).await? else { return Ok(moved) };
        match (bookings.reschedule)(uid, moved.starts_at).await {
            Ok(uid) => {
                db::set_calcom_uid(db, moved.id, &uid).await?;
                Ok(moved)
            }
            Err(refusal) => {
                let back =
                    db::reschedule(db, moved.id, before.starts_at, before.ends_at, before.blocks_until, before.place)
                        .await;
                if let Err(error) = back {
                    tracing::error!(appointment.id = moved.id, %error, "could not put back an appointment Cal.com refused to move");
                }
                Err(match refusal {
                    OutsideRefusal::Taken => self.taken(db, service, moved.starts_at, now, Some(moved.id)).await,
                    OutsideRefusal::Failed(reason) => BookingError::CalendarUnavailable(reason),
                })
            }
        }
    }

    /// The starts the outside booking system (Cal.com) offers for `service` around local days
    /// `first..=last`, or `None` when there is none; unknown -> no time can be confirmed.
    async fn outside_starts(
        &self,
        service: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Option<Vec<DateTime<Utc>>>, BookingError> {
        let Some(bookings) = self.outside.as_ref().and_then(|outside| outside.bookings.as_ref()) else {
            return Ok(None);
        };
        let from = start_of_local_day(self.zone, first.pred_opt().unwrap_or(first));
        let to = start_of_local_day(self.zone, last + Days::new(2));
        match tokio::time::timeout(OUTSIDE_CALENDAR_WAIT, (bookings.slots)(service.to_owned(), from, to)).await {
            Ok(Ok(starts)) => Ok(Some(starts)),
            Ok(Err(OutsideRefusal::Failed(reason))) => Err(BookingError::CalendarUnavailable(reason)),
            Ok(Err(OutsideRefusal::Taken)) => Ok(Some(Vec::new())),
            Err(_) => Err(BookingError::CalendarUnavailable("it did not answer in time".into())),
        }
    }

    /// Time off and appointments that can touch local days `first..=last` (a day of margin
    /// each side covers overnight hours, buffers and clock changes), and the outside
    /// calendar's busy times, which count as time off.
    async fn load(
        &self,
        db: &sqlx::PgPool,
        first: NaiveDate,
        last: NaiveDate,
        except: Option<i64>,
    ) -> Result<(Vec<TimeOff>, Vec<Busy>), BookingError> {
        let from = start_of_local_day(self.zone, first.pred_opt().unwrap_or(first));
        let to = start_of_local_day(self.zone, last + Days::new(2));
        let mut time_off: Vec<TimeOff> = db::time_off_between(db, self.customer_id, from, to)
            .await?
            .into_iter()
            .map(|off| TimeOff { start: off.starts_at, end: off.ends_at })
            .collect();
        if let Some(outside) = self.outside.as_ref().and_then(|outside| outside.busy.as_ref()) {
            let busy = match tokio::time::timeout(OUTSIDE_CALENDAR_WAIT, outside(from, to)).await {
                Ok(Ok(busy)) => busy,
                Ok(Err(reason)) => return Err(BookingError::CalendarUnavailable(reason)),
                Err(_) => return Err(BookingError::CalendarUnavailable("it did not answer in time".into())),
            };
            time_off.extend(busy.into_iter().map(|(start, end)| TimeOff { start, end }));
        }
        let busy = db::taken_between(db, self.customer_id, from, to, except)
            .await?
            .into_iter()
            .map(|taken| Busy {
                start: taken.starts_at,
                end: taken.blocks_until - minutes(self.settings.buffer_minutes),
                place: u16::try_from(taken.place).unwrap_or(0),
            })
            .collect();
        Ok((time_off, busy))
    }

    fn availability<'a>(&'a self, now: DateTime<Utc>, time_off: &[TimeOff], busy: &[Busy]) -> Availability<'a> {
        Availability::new(&self.hours, self.zone, self.settings.rules(), now, time_off, busy)
    }
}

/// Whether `error` is the exclusion constraint refusing an overlap.
fn is_overlap(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.constraint() == Some(db::NO_OVERLAP_CONSTRAINT))
}

fn minutes(n: u32) -> chrono::Duration {
    chrono::Duration::minutes(i64::from(n))
}
