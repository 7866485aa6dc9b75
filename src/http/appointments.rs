//! What the portal's and the admin's appointment routes share: the appointment as the API
//! shows it, the 409 answer with alternatives, the conversion of the diary's refusals, and
//! reading times as a business types them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::booking::diary::{BookingError, Slot};
use crate::booking::slots::resolve_local_time;
use crate::db::appointments::{AppointmentRow, AppointmentSource, AppointmentStatus};
use crate::http::error::{AppError, Result};
use crate::receptionist::hours::start_of_local_day;

/// The longest range an appointment list covers.
const MAX_RANGE_DAYS: i64 = 366;
/// The range an appointment list covers when none is given.
const DEFAULT_RANGE_DAYS: i64 = 30;

/// An appointment as the API shows it (the row's place and blocked time stay inside).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Appointment {
    pub id: i64,
    pub customer_id: i64,
    /// The call that booked it, if a call did.
    pub call_id: Option<i64>,
    pub service: String,
    pub minutes: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub caller_name: String,
    pub caller_phone: Option<String>,
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    pub source: AppointmentSource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl From<AppointmentRow> for Appointment {
    fn from(row: AppointmentRow) -> Self {
        Appointment {
            id: row.id,
            customer_id: row.customer_id,
            call_id: row.call_id,
            service: row.service,
            minutes: row.minutes,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            caller_name: row.caller_name,
            caller_phone: row.caller_phone,
            notes: row.notes,
            status: row.status,
            source: row.source,
            created_at: row.created_at,
            updated_at: row.updated_at,
            cancelled_at: row.cancelled_at,
        }
    }
}

/// Appointments in a range, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppointmentList {
    pub appointments: Vec<Appointment>,
    pub total: usize,
}

impl From<Vec<AppointmentRow>> for AppointmentList {
    fn from(rows: Vec<AppointmentRow>) -> Self {
        let appointments: Vec<Appointment> = rows.into_iter().map(Appointment::from).collect();
        AppointmentList { total: appointments.len(), appointments }
    }
}

/// 409: the time is taken; here are the nearest free starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TakenBody {
    /// What happened.
    pub error: String,
    /// Free starts near the one asked for.
    pub slots: Vec<Slot>,
}

/// 409: taken (with alternatives), or the diary cannot take it (no services, a cancelled
/// appointment), with `slots` empty.
#[derive(utoipa::IntoResponses)]
pub enum TakenErrors {
    /// Every place is taken at that time (`slots` has alternatives), or the business has no
    /// services to book or the appointment is cancelled (`slots` empty).
    #[response(status = 409)]
    Taken(#[to_schema] TakenBody),
}

/// A refused booking: answered `409 {error, slots}`, with the nearest free starts when the
/// time was taken (and an empty list when the diary cannot take it at all), so every 409
/// of the diary's routes has one shape.
#[derive(Debug)]
pub struct SlotTaken {
    /// What happened.
    pub message: String,
    /// The nearest free starts.
    pub alternatives: Vec<Slot>,
}

impl SlotTaken {
    /// The time is taken; `alternatives` are free.
    pub fn taken(alternatives: Vec<Slot>) -> Self {
        let message = if alternatives.is_empty() {
            "that time is already taken, and nothing else is free nearby"
        } else {
            "that time is already taken; these are free"
        };
        SlotTaken { message: message.to_owned(), alternatives }
    }

    /// The diary refuses for another reason (`message`), with nothing to offer.
    pub fn refused(message: String) -> Self {
        SlotTaken { message, alternatives: Vec::new() }
    }
}

impl IntoResponse for SlotTaken {
    fn into_response(self) -> Response {
        (StatusCode::CONFLICT, Json(TakenBody { error: self.message, slots: self.alternatives })).into_response()
    }
}

impl From<BookingError> for AppError {
    fn from(error: BookingError) -> Self {
        match error {
            BookingError::NotSetUp | BookingError::Cancelled => AppError::Taken(SlotTaken::refused(error.to_string())),
            BookingError::UnknownService(_) => AppError::invalid_field("service", error.to_string()),
            BookingError::BadRequest(_) => AppError::invalid_field("date", error.to_string()),
            BookingError::NotBookable(_) => AppError::invalid_field("starts_at", error.to_string()),
            BookingError::Taken { alternatives } => AppError::Taken(SlotTaken::taken(alternatives)),
            BookingError::NotFound => AppError::NotFound(error.to_string()),
            BookingError::CalendarUnavailable(_) => AppError::BadGateway(format!(
                "{error}: no time can be confirmed until it answers; try again, or reconnect it in the portal"
            )),
            BookingError::Db(error) => AppError::Sqlx(error),
        }
    }
}

/// An instant as a business types it: RFC 3339 (`2026-12-08T15:00:00-05:00`, `...Z`), or
/// its own local time (`2026-12-08T15:00` or `2026-12-08 15:00`, what a browser's
/// date-and-time field sends), in `zone`.
pub fn parse_instant(field: &str, raw: &str, zone: Tz) -> Result<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
        return Ok(instant.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok());
    let Some(local) = local else {
        return Err(AppError::invalid_field(
            field,
            "must be a date and time, like 2026-12-08T15:00 (the business's local time) or 2026-12-08T15:00:00-05:00",
        ));
    };
    let time = local.time().format("%H:%M").to_string();
    resolve_local_time(local.date(), &time, zone).map_err(|error| AppError::invalid_field(field, error))
}

/// A list's `[from, to)`: each a local date (its start) or an instant; `from` defaults to
/// `now`, `to` to 30 days after `from`; at most a year apart.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let bound = |field: &str, raw: &str| -> Result<DateTime<Utc>> {
        match NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
            Ok(date) => Ok(start_of_local_day(zone, date)),
            Err(_) => parse_instant(field, raw, zone),
        }
    };
    let from = match from.map(str::trim).filter(|raw| !raw.is_empty()) {
        Some(raw) => bound("from", raw)?,
        None => now,
    };
    let to = match to.map(str::trim).filter(|raw| !raw.is_empty()) {
        Some(raw) => bound("to", raw)?,
        None => from + chrono::Duration::days(DEFAULT_RANGE_DAYS),
    };
    if to <= from {
        return Err(AppError::invalid_field("to", "must be after from"));
    }
    if to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(AppError::invalid_field("to", format!("a list covers at most {MAX_RANGE_DAYS} days")));
    }
    Ok((from, to))
}
