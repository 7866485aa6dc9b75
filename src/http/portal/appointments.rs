//! The portal's diary: free slots of a day, appointments (list, add by hand, move, change,
//! cancel) and time off. Every route books through [`crate::booking::diary`], so the owner
//! is held to the same rules as a caller, and the database refuses a double booking.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::booking::diary::{BookingRequest, Diary, Slot};
use crate::booking::notices::{Audience, Change};
use crate::db::appointments::{self as db, AppointmentSource, AppointmentStatus, TimeOff};
use crate::db::customers::{self, Customer};
use crate::http::appointments::{Appointment, AppointmentList, TakenErrors, parse_instant, parse_range};
use crate::http::error::{AppError, AuthErrors, InputErrors, NotFound, Result};
use crate::http::extract::{AppJson, AppPath, AppQuery, CustomerUser, OptionalJson};
use crate::http::validate::{self, MAX_NAME_LEN, MAX_TEXT_LEN};
use crate::http::{AppState, outside_calendar};
use crate::jobs::appointments as notices;
use crate::receptionist::hours::time_zone;

/// Longest time off accepted in one range.
const MAX_TIME_OFF_DAYS: i64 = 366;

/// The portal's diary routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_availability))
        .routes(routes!(list_appointments, create_appointment))
        .routes(routes!(update_appointment))
        .routes(routes!(cancel_appointment))
        .routes(routes!(list_time_off, create_time_off))
        .routes(routes!(delete_time_off))
}

async fn business(state: &AppState, user: &CustomerUser) -> Result<Customer> {
    customers::find(&state.db, user.id).await?.ok_or(AppError::Unauthorized("invalid or expired token"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AvailabilityQuery {
    /// A service's name.
    service: Option<String>,
    /// The business's local date, `YYYY-MM-DD`.
    date: Option<String>,
}

/// The free starts of a service on a day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayAvailability {
    /// The local date asked for.
    pub date: NaiveDate,
    /// The business's time zone, in which the labels are written.
    pub timezone: String,
    /// The service's name as the business wrote it.
    pub service: String,
    /// Free starts, earliest first.
    pub slots: Vec<Slot>,
}

/// `GET /api/portal/availability`: the free starts of a service on a local day.
#[utoipa::path(
    get,
    path = "/availability",
    tag = "portal",
    summary = "Free appointment times of a day",
    params(AvailabilityQuery),
    responses((status = 200, body = DayAvailability), TakenErrors, AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn get_availability(
    user: CustomerUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<AvailabilityQuery>,
) -> Result<AppJson<DayAvailability>> {
    let customer = business(&state, &user).await?;
    let diary = Diary::of(&customer)?.with_outside_calendar(outside_calendar::for_business(&state, customer.id).await?);
    let service = required(query.service.as_deref(), "service")?;
    let service = diary.service(service)?.name.clone();
    let date = parse_date("date", required(query.date.as_deref(), "date")?)?;
    let slots = diary.free_on(&state.db, &service, date, Utc::now()).await?;
    Ok(AppJson(DayAvailability { date, timezone: customer.timezone, service, slots }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// From this local date (`YYYY-MM-DD`) or instant (RFC 3339); default now.
    from: Option<String>,
    /// Until this local date (exclusive) or instant; default 30 days after `from`.
    to: Option<String>,
    /// `booked` (default), `cancelled` or `all`.
    status: Option<String>,
    /// Only the appointments this call booked (a call's page shows what it booked).
    call_id: Option<i64>,
}

/// `GET /api/portal/appointments`: the business's appointments in a range, in order.
#[utoipa::path(
    get,
    path = "/appointments",
    tag = "portal",
    summary = "The business's appointments",
    params(ListQuery),
    responses((status = 200, body = AppointmentList), AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn list_appointments(
    user: CustomerUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<AppJson<AppointmentList>> {
    let customer = business(&state, &user).await?;
    let zone = time_zone(&customer.timezone);
    let (from, to) = parse_range(query.from.as_deref(), query.to.as_deref(), zone, Utc::now())?;
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("" | "booked") => Some(AppointmentStatus::Booked),
        Some("cancelled") => Some(AppointmentStatus::Cancelled),
        Some("all") => None,
        Some(_) => return Err(AppError::invalid_field("status", "must be one of: booked, cancelled, all")),
    };
    let rows = db::list(&state.db, customer.id, from, to, status, query.call_id).await?;
    Ok(AppJson(AppointmentList::from(rows)))
}

/// An appointment the owner adds by hand.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateAppointment {
    /// A service's name.
    pub service: String,
    /// RFC 3339 (`2026-12-08T15:00:00-05:00`) or the business's local time
    /// (`2026-12-08T15:00`).
    pub starts_at: String,
    /// Who it is for.
    pub caller_name: String,
    /// Their phone, E.164 (`""` for none).
    #[serde(default)]
    pub caller_phone: Option<String>,
    /// Notes (`""` for none).
    #[serde(default)]
    pub notes: Option<String>,
}

/// `POST /api/portal/appointments`: adds an appointment under the diary's rules.
#[utoipa::path(
    post,
    path = "/appointments",
    tag = "portal",
    summary = "Add an appointment",
    request_body = CreateAppointment,
    responses((status = 201, body = Appointment), TakenErrors, AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn create_appointment(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(body): AppJson<CreateAppointment>,
) -> Result<(StatusCode, AppJson<Appointment>)> {
    let customer = business(&state, &user).await?;
    let diary = Diary::of(&customer)?.with_outside_calendar(outside_calendar::for_business(&state, customer.id).await?);
    let request = BookingRequest {
        service: diary.service(&body.service)?.name.clone(),
        starts_at: parse_instant("starts_at", &body.starts_at, diary.zone())?,
        caller_name: validate::required_text("caller_name", &body.caller_name, MAX_NAME_LEN)?,
        caller_phone: optional_phone("caller_phone", body.caller_phone.as_deref())?,
        notes: optional_text("notes", body.notes.as_deref())?,
        source: AppointmentSource::Portal,
        call_id: None,
    };
    let appointment = diary.book(&state.db, &request, Utc::now()).await?;
    // The caller gets the confirmation and reminder a phone booking would; the owner made it.
    let audience = Audience { caller: true, owner: false };
    notices::appointment_changed(&state.db, &appointment, Change::Booked, audience).await?;
    tracing::info!(customer.id = customer.id, appointment.id = appointment.id, "appointment added in the portal");
    Ok((StatusCode::CREATED, AppJson(appointment.into())))
}

/// A change to an appointment: a move, a new name, new notes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateAppointment {
    /// The new start (a move), as for a new appointment.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// The new name.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// The new notes (`""` clears them).
    #[serde(default)]
    pub notes: Option<String>,
}

/// `PATCH /api/portal/appointments/{id}`: moves an appointment (atomically: the old time
/// stands if the new one is refused) and changes its name or notes.
#[utoipa::path(
    patch,
    path = "/appointments/{id}",
    tag = "portal",
    summary = "Move or change an appointment",
    params(("id" = i64, Path, description = "Appointment id")),
    request_body = UpdateAppointment,
    responses((status = 200, body = Appointment), TakenErrors, NotFound, AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn update_appointment(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<UpdateAppointment>,
) -> Result<AppJson<Appointment>> {
    let customer = business(&state, &user).await?;
    let mut appointment = db::find(&state.db, customer.id, id).await?.ok_or_else(no_such_appointment)?;
    let zone = time_zone(&customer.timezone);
    // Everything is checked before anything is written.
    let starts_at = body.starts_at.as_deref().map(|raw| parse_instant("starts_at", raw, zone)).transpose()?;
    let caller_name =
        body.caller_name.as_deref().map(|raw| validate::required_text("caller_name", raw, MAX_NAME_LEN)).transpose()?;
    let notes = body.notes.as_deref().map(|raw| optional_text("notes", Some(raw))).transpose()?;
    if let Some(starts_at) = starts_at.filter(|start| *start != appointment.starts_at) {
        let diary =
            Diary::of(&customer)?.with_outside_calendar(outside_calendar::for_business(&state, customer.id).await?);
        appointment = diary.reschedule(&state.db, &appointment, starts_at, Utc::now()).await?;
        let audience = Audience { caller: true, owner: false };
        notices::appointment_changed(&state.db, &appointment, Change::Moved, audience).await?;
    }
    if caller_name.is_some() || notes.is_some() {
        let name = caller_name.unwrap_or_else(|| appointment.caller_name.clone());
        let notes = notes.unwrap_or_else(|| appointment.notes.clone());
        appointment = db::update_details(&state.db, appointment.id, &name, notes.as_deref())
            .await?
            .ok_or_else(no_such_appointment)?;
    }
    Ok(AppJson(appointment.into()))
}

/// Whether the caller is told of a cancellation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CancelAppointment {
    /// Text the caller that it is cancelled (default false).
    #[serde(default)]
    pub notify_caller: Option<bool>,
}

/// `POST /api/portal/appointments/{id}/cancel`.
#[utoipa::path(
    post,
    path = "/appointments/{id}/cancel",
    tag = "portal",
    summary = "Cancel an appointment",
    params(("id" = i64, Path, description = "Appointment id")),
    request_body(content = CancelAppointment, description = "May be left out"),
    responses((status = 200, body = Appointment), (status = 409, description = "Already cancelled", body = crate::http::error::ErrorBody), NotFound, AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn cancel_appointment(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    OptionalJson(body): OptionalJson<CancelAppointment>,
) -> Result<AppJson<Appointment>> {
    let customer = business(&state, &user).await?;
    let appointment = db::find(&state.db, customer.id, id).await?.ok_or_else(no_such_appointment)?;
    let cancelled = db::cancel(&state.db, appointment.id)
        .await?
        .ok_or_else(|| AppError::Conflict("that appointment is already cancelled".into()))?;
    let audience = Audience { caller: body.notify_caller == Some(true), owner: false };
    notices::appointment_changed(&state.db, &cancelled, Change::Cancelled, audience).await?;
    Ok(AppJson(cancelled.into()))
}

/// The business's time off.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeOffList {
    /// Ranges that have not ended, soonest first.
    pub time_off: Vec<TimeOff>,
}

/// `GET /api/portal/time-off`: ranges the business is closed that have not ended yet.
#[utoipa::path(
    get,
    path = "/time-off",
    tag = "portal",
    summary = "Time off",
    responses((status = 200, body = TimeOffList), AuthErrors),
    security(("customer_token" = []))
)]
async fn list_time_off(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<TimeOffList>> {
    let far = Utc::now() + chrono::Duration::days(3650);
    let time_off = db::time_off_between(&state.db, user.id, Utc::now(), far).await?;
    Ok(AppJson(TimeOffList { time_off }))
}

/// A range the business is closed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateTimeOff {
    /// The start: RFC 3339, the business's local time (`2026-12-24T12:00`) or a local date
    /// (`2026-12-24`, from the start of that day).
    pub starts_at: String,
    /// The end, as `starts_at`; a local date means the end of that day.
    pub ends_at: String,
    /// What it is ("Christmas").
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/portal/time-off`: the business is closed in a range (existing appointments
/// in it stand; new ones are not offered).
#[utoipa::path(
    post,
    path = "/time-off",
    tag = "portal",
    summary = "Add time off",
    request_body = CreateTimeOff,
    responses((status = 201, body = TimeOff), AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn create_time_off(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(body): AppJson<CreateTimeOff>,
) -> Result<(StatusCode, AppJson<TimeOff>)> {
    let customer = business(&state, &user).await?;
    let zone = time_zone(&customer.timezone);
    let starts_at = parse_range_end("starts_at", &body.starts_at, zone, false)?;
    let ends_at = parse_range_end("ends_at", &body.ends_at, zone, true)?;
    if ends_at <= starts_at {
        return Err(AppError::invalid_field("ends_at", "must be after starts_at"));
    }
    if ends_at <= Utc::now() {
        return Err(AppError::invalid_field("ends_at", "is in the past"));
    }
    if ends_at - starts_at > chrono::Duration::days(MAX_TIME_OFF_DAYS) {
        return Err(AppError::invalid_field("ends_at", format!("time off can last at most {MAX_TIME_OFF_DAYS} days")));
    }
    let note = optional_text("note", body.note.as_deref())?;
    let time_off = sqlx::query_as!(
        TimeOff,
        "INSERT INTO time_off (customer_id, starts_at, ends_at, note) VALUES ($1, $2, $3, $4)
         RETURNING id, starts_at, ends_at, note, created_at",
        customer.id,
        starts_at,
        ends_at,
        note
    )
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, AppJson(time_off)))
}

/// What was removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeOffRemoved {
    pub message: String,
}

/// `DELETE /api/portal/time-off/{id}`.
#[utoipa::path(
    delete,
    path = "/time-off/{id}",
    tag = "portal",
    summary = "Remove time off",
    params(("id" = i64, Path, description = "Time off id")),
    responses((status = 200, body = TimeOffRemoved), NotFound, AuthErrors, InputErrors),
    security(("customer_token" = []))
)]
async fn delete_time_off(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<TimeOffRemoved>> {
    let removed = sqlx::query!("DELETE FROM time_off WHERE id = $1 AND customer_id = $2", id, user.id)
        .execute(&state.db)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(AppError::NotFound("no such time off".into()));
    }
    Ok(AppJson(TimeOffRemoved { message: "Time off removed".into() }))
}

fn no_such_appointment() -> AppError {
    AppError::NotFound("no such appointment".into())
}

fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str> {
    value.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| AppError::invalid_field(field, "is required"))
}

fn parse_date(field: &str, raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid_field(field, "must be a date as YYYY-MM-DD, like 2026-12-08"))
}

/// A range's start or end: an instant, a local time, or a local date (its start, or for an
/// end the start of the next day).
fn parse_range_end(field: &str, raw: &str, zone: Tz, end: bool) -> Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        let day = if end { date.succ_opt().unwrap_or(date) } else { date };
        return Ok(crate::receptionist::hours::start_of_local_day(zone, day));
    }
    parse_instant(field, raw, zone)
}

fn optional_text(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    match raw {
        None => Ok(None),
        Some(raw) => validate::optional_text(field, raw, MAX_TEXT_LEN),
    }
}

fn optional_phone(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => validate::e164(field, raw).map(Some),
    }
}
