//! `GET /api/calendar/{token}.ics`: a business's private calendar feed, so its owner
//! subscribes once in Google, Apple or Outlook calendar and sees the diary there.
//!
//! No login: calendar apps fetch the URL on their own schedule and cannot send a token, so
//! the unguessable token in the path is the proof. The business gets and rotates it in the
//! portal (`/api/portal/calendar-feed`); a rotated or unknown token answers 404.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::db::appointments::{AppointmentSource, AppointmentStatus};
use crate::http::AppState;
use crate::http::error::{AppError, NotFound, Result};
use crate::http::extract::{AppPath, is_cancelled};

/// Random bytes in a feed token: 256 bits, so a feed can be neither guessed nor enumerated.
const TOKEN_BYTES: usize = 32;
/// What follows the token in the feed's last path segment.
const FEED_SUFFIX: &str = ".ics";
/// Longest token looked up; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 128;
/// How far back the feed reaches: recent history stays visible in the calendar app.
const PAST_DAYS: i64 = 30;
/// How far ahead the feed reaches: beyond the longest booking horizon (365 days).
const FUTURE_DAYS: i64 = 366;
/// Most appointments in one feed (the earliest of the window), so a very busy diary still
/// answers in one modest response.
const MAX_EVENTS: i64 = 5_000;
/// How often calendar apps that honour it (Apple, Outlook) are asked to fetch again.
const REFRESH_HOURS: i64 = 1;

/// The public feed's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_calendar_feed))
}

/// A new feed token: 32 random bytes from the operating system's CSPRNG, base64url
/// (43 characters, safe in a URL path).
pub fn new_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The feed's public URL for `token`.
pub fn feed_url(config: &Config, token: &str) -> String {
    format!("{}/api/calendar/{token}{FEED_SUFFIX}", config.api_base_url)
}

#[derive(FromRow)]
struct FeedBusiness {
    id: i64,
    business_name: String,
    subscription_status: String,
}

/// What the feed shows of an appointment.
#[derive(Debug, Clone, FromRow)]
struct FeedAppointment {
    id: i64,
    service: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    caller_name: String,
    caller_phone: Option<String>,
    notes: Option<String>,
    status: AppointmentStatus,
    source: AppointmentSource,
    sequence: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// `GET /api/calendar/{token}.ics`: the business's appointments from 30 days ago to a year
/// ahead as iCalendar, cancelled ones included (`STATUS:CANCELLED`) so subscribed apps
/// drop them.
#[utoipa::path(
    get,
    path = "/api/calendar/{feed}",
    tag = "portal",
    summary = "The private calendar feed (iCalendar)",
    description = "The URL is `/api/calendar/{token}.ics`, as `GET /api/portal/calendar-feed` gives it; no login, \
                   the token is the proof. Appointments from 30 days ago to a year ahead (at most 5,000), one \
                   VEVENT each with a stable UID, UTC times, `STATUS:CANCELLED` for cancelled ones and a \
                   `SEQUENCE` that rises when one is moved or changed. 404 for an unknown or rotated token.",
    params(("feed" = String, Path, description = "The feed token followed by `.ics`")),
    responses(
        (status = 200, description = "RFC 5545 iCalendar; not cached", content_type = "text/calendar", body = String),
        NotFound
    )
)]
async fn get_calendar_feed(State(state): State<AppState>, AppPath(feed): AppPath<String>) -> Result<Response> {
    let no_such_feed = || AppError::NotFound("no such calendar feed".into());
    // axum cannot match `{token}.ics` within one segment: the segment is taken whole.
    let token = feed
        .strip_suffix(FEED_SUFFIX)
        .filter(|token| !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .ok_or_else(no_such_feed)?;
    let business = sqlx::query_as!(
        FeedBusiness,
        "SELECT id, business_name, subscription_status FROM customers WHERE calendar_feed_token = $1",
        token
    )
    .fetch_optional(&state.db)
    .await?
    // A business that has left DeskRinger no longer publishes its diary.
    .filter(|business| !is_cancelled(&business.subscription_status))
    .ok_or_else(no_such_feed)?;

    let now = Utc::now();
    let appointments = sqlx::query_as!(
        FeedAppointment,
        r#"SELECT id, service, starts_at, ends_at, caller_name, caller_phone, notes,
                  status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                  sequence, created_at, updated_at
           FROM appointments
           WHERE customer_id = $1 AND starts_at >= $2 AND starts_at < $3
           ORDER BY starts_at, id LIMIT $4"#,
        business.id,
        now - Duration::days(PAST_DAYS),
        now + Duration::days(FUTURE_DAYS),
        MAX_EVENTS
    )
    .fetch_all(&state.db)
    .await?;
    tracing::debug!(customer.id = business.id, events = appointments.len(), "calendar feed served");

    let body = render(&business.business_name, &uid_domain(&state.config), &appointments, now);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    // The diary is private and changes all the time: no shared or stale copies.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    Ok(response)
}

/// The right-hand side of every event's UID: the API's host name.
fn uid_domain(config: &Config) -> String {
    reqwest::Url::parse(&config.api_base_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "deskringer".to_owned())
}

/// The feed as iCalendar text. The crate escapes TEXT values (`\`, `,`, `;`, newlines) and
/// folds lines at 75 octets.
fn render(business_name: &str, uid_domain: &str, appointments: &[FeedAppointment], now: DateTime<Utc>) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("PRODID", "-//DeskRinger//Appointments//EN"))
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        // Not `Calendar::name`: it also writes `NAME` without escaping the text.
        .append_property(Property::new("X-WR-CALNAME", plain_text(business_name)))
        .ttl(&Duration::hours(REFRESH_HOURS));
    for appointment in appointments {
        calendar.push(event(appointment, uid_domain, now));
    }
    calendar.to_string()
}

fn event(appointment: &FeedAppointment, uid_domain: &str, now: DateTime<Utc>) -> Event {
    let cancelled = appointment.status == AppointmentStatus::Cancelled;
    let mut summary = format!("{} - {}", appointment.service, appointment.caller_name);
    if cancelled {
        // Some apps show a cancelled event that is still in the feed as if it stood.
        summary.insert_str(0, "Cancelled: ");
    }
    let mut description = Vec::new();
    if let Some(phone) = appointment.caller_phone.as_deref().filter(|p| !p.is_empty()) {
        description.push(format!("Phone: {phone}"));
    }
    if let Some(notes) = appointment.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        description.push(format!("Notes: {notes}"));
    }
    description.push(format!("Booked {}", booked_by(appointment.source)));

    Event::new()
        .uid(&format!("appointment-{}@{uid_domain}", appointment.id))
        // With METHOD present, DTSTAMP is when this feed was made (RFC 5545 3.8.7.2).
        .timestamp(now)
        .starts(appointment.starts_at)
        .ends(appointment.ends_at)
        .summary(&plain_text(&summary))
        .description(&plain_text(&description.join("\n")))
        .status(if cancelled { EventStatus::Cancelled } else { EventStatus::Confirmed })
        .sequence(u32::try_from(appointment.sequence).unwrap_or(0))
        .created(appointment.created_at)
        .last_modified(appointment.updated_at)
        .done()
}

fn booked_by(source: AppointmentSource) -> &'static str {
    match source {
        AppointmentSource::Call => "by the receptionist on a call",
        AppointmentSource::Sms => "by text message",
        AppointmentSource::Portal => "in the portal",
        AppointmentSource::Admin => "by DeskRinger staff",
    }
}

/// Text an iCalendar TEXT value can carry: line breaks as `\n` (which the crate escapes)
/// and no other control characters, which RFC 5545 does not allow.
fn plain_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn appointment(id: i64, notes: &str) -> FeedAppointment {
        let starts_at = Utc.with_ymd_and_hms(2026, 12, 8, 15, 0, 0).unwrap();
        FeedAppointment {
            id,
            service: "Cut; wash, blow-dry".into(),
            starts_at,
            ends_at: starts_at + Duration::minutes(45),
            caller_name: "Ann \\ Lee".into(),
            caller_phone: Some("+14155550100".into()),
            notes: Some(notes.into()),
            status: AppointmentStatus::Booked,
            source: AppointmentSource::Call,
            sequence: 0,
            created_at: starts_at - Duration::days(2),
            updated_at: starts_at - Duration::days(1),
        }
    }

    #[test]
    fn text_is_escaped_and_long_lines_are_folded_at_75_octets() {
        let notes = format!("Line one\r\nline two; with, commas \u{7} and é {}", "très long ".repeat(30));
        let text = render("Bella; Hair, & Co", "api.example.com", &[appointment(7, &notes)], Utc::now());

        assert!(text.contains("\r\nX-WR-CALNAME:Bella\\; Hair\\, & Co\r\n"), "{text}");
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("SUMMARY:Cut\\; wash\\, blow-dry - Ann \\\\ Lee\r\n"), "{unfolded}");
        assert!(unfolded.contains("Notes: Line one\\nline two\\; with\\, commas  and é très long"), "{unfolded}");
        assert!(!text.contains('\u{7}'));
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert!(text.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
    }
}
