//! The business's connected calendar (issue 19): its state, connecting Google (the consent
//! URL; Google's callback is [`crate::http::calendar_google`]) or Cal.com
//! ([`super::calendar_calcom`]), choosing calendars, and disconnecting. No answer ever
//! carries a token or key.

use std::collections::BTreeMap;

use anyhow::Context;
use axum::extract::State;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::oauth_state::{self, ReturnTo};
use crate::clients::google_oauth::{CalendarEntry, GoogleError, GoogleOAuth};
use crate::config::Config;
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, Result};
use crate::http::extract::{AppJson, AppQuery, CustomerUser};
use crate::http::portal::calendar_calcom::CalComEventType;
use crate::secrets::SecretKey;

/// Most calendars whose busy times may count.
const MAX_BUSY_CALENDARS: usize = 50;

/// The connected calendar's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_calendar_connection, update_calendar_connection, delete_calendar_connection))
        .routes(routes!(connect_google_calendar))
        .routes(routes!(list_google_calendars))
        .merge(super::calendar_calcom::router())
}

/// The business's calendar connection, as the portal shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarConnection {
    /// `google`, `calcom`, or null when no calendar is connected.
    #[schema(value_type = Option<String>, example = "google")]
    pub provider: Option<String>,
    /// `not_connected`, `connected`, `needs_reconnect` (connect again: the access was
    /// revoked or expired) or `error`.
    #[schema(example = "connected")]
    pub status: String,
    /// The calendars chosen (Google).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendars: Option<ChosenCalendars>,
    /// Which Cal.com event type each service is booked as, by service name (Cal.com).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!({"Haircut": 1234}))]
    pub event_types: Option<BTreeMap<String, i64>>,
    /// The last problem with the connection, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_at: Option<DateTime<Utc>>,
    /// For people, after a change: says when connecting replaced another calendar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Which Google calendars are used.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChosenCalendars {
    /// Where bookings are written (`primary` is the account's main calendar).
    pub write_calendar_id: Option<String>,
    /// The calendars whose busy times block bookings.
    pub busy_calendar_ids: Vec<String>,
}

/// A stored connection.
pub(crate) struct ConnectionRow {
    pub provider: String,
    pub status: String,
    pub secret: Vec<u8>,
    pub write_calendar_id: Option<String>,
    pub busy_calendar_ids: serde_json::Value,
    pub calcom_event_types: serde_json::Value,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

impl From<Option<ConnectionRow>> for CalendarConnection {
    fn from(row: Option<ConnectionRow>) -> Self {
        let Some(row) = row else {
            return CalendarConnection {
                provider: None,
                status: "not_connected".into(),
                calendars: None,
                event_types: None,
                error: None,
                error_at: None,
                message: None,
            };
        };
        let calendars = (row.provider == "google").then(|| ChosenCalendars {
            write_calendar_id: row.write_calendar_id,
            busy_calendar_ids: serde_json::from_value(row.busy_calendar_ids).unwrap_or_default(),
        });
        let event_types = (row.provider == "calcom").then(|| {
            serde_json::from_value::<Vec<CalComEventType>>(row.calcom_event_types)
                .unwrap_or_default()
                .into_iter()
                .map(|mapped| (mapped.service, mapped.event_type_id))
                .collect()
        });
        CalendarConnection {
            provider: Some(row.provider),
            status: row.status,
            calendars,
            event_types,
            error: row.last_error,
            error_at: row.last_error_at,
            message: None,
        }
    }
}

pub(crate) async fn find(state: &AppState, customer_id: i64) -> Result<Option<ConnectionRow>> {
    Ok(sqlx::query_as!(
        ConnectionRow,
        "SELECT provider, status, secret, write_calendar_id, busy_calendar_ids, calcom_event_types, last_error, last_error_at
         FROM calendar_connections WHERE customer_id = $1",
        customer_id
    )
    .fetch_optional(&state.db)
    .await?)
}

/// The business's Google connection, or 404.
async fn find_google(state: &AppState, customer_id: i64) -> Result<ConnectionRow> {
    find(state, customer_id)
        .await?
        .filter(|row| row.provider == "google")
        .ok_or_else(|| AppError::NotFound("no Google calendar is connected".into()))
}

/// The key sealing tokens, or 503 naming the setting.
pub(crate) fn token_key(config: &Config) -> Result<&SecretKey> {
    config.calendar.token_key.as_deref().ok_or_else(|| {
        AppError::ServiceUnavailable(
            "connected calendars are not configured on this server (CALENDAR_TOKEN_KEY is not set)".into(),
        )
    })
}

/// The Google client, or 503 naming the settings.
pub(crate) fn google(state: &AppState) -> Result<&GoogleOAuth> {
    state.clients.google.as_ref().ok_or_else(|| {
        AppError::ServiceUnavailable(
            "Google Calendar is not configured on this server (GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set)"
                .into(),
        )
    })
}

/// Where Google sends the business back.
pub(crate) fn redirect_uri(config: &Config) -> String {
    format!("{}/api/calendar/google/callback", config.api_base_url)
}

/// A Google error as the portal sees it.
fn google_failure(error: GoogleError) -> AppError {
    match error {
        GoogleError::InvalidGrant => {
            AppError::Conflict("Google no longer accepts DeskRinger's access to this calendar: connect it again".into())
        }
        GoogleError::Api(message) => AppError::BadGateway(format!("Google Calendar answered: {message}")),
        GoogleError::Transport(error) => AppError::BadGateway(format!("Google Calendar could not be reached: {error}")),
    }
}

/// The account's calendars, with an access token got from the stored refresh token. A
/// refused refresh token marks the connection `needs_reconnect`.
async fn google_calendars(state: &AppState, customer_id: i64, row: &ConnectionRow) -> Result<Vec<CalendarEntry>> {
    let (key, google) = (token_key(&state.config)?, google(state)?);
    let refresh_token =
        SecretString::from(key.open_string(&row.secret).context("the stored Google token cannot be opened")?);
    let result = match google.refresh(refresh_token.expose_secret()).await {
        Ok(access) => google.list_calendars(access.access_token.expose_secret()).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(calendars) => Ok(calendars),
        Err(GoogleError::InvalidGrant) => {
            crate::jobs::calendar::needs_reconnect(&state.db, customer_id).await?;
            Err(google_failure(GoogleError::InvalidGrant))
        }
        Err(error) => {
            tracing::warn!(customer.id = customer_id, %error, "Google calendar call failed");
            Err(google_failure(error))
        }
    }
}

/// `GET /api/portal/calendar`.
#[utoipa::path(
    get,
    path = "/calendar",
    tag = "portal",
    summary = "The connected calendar",
    responses((status = 200, body = CalendarConnection), AuthErrors),
    security(("customer_token" = []))
)]
async fn get_calendar_connection(
    user: CustomerUser,
    State(state): State<AppState>,
) -> Result<AppJson<CalendarConnection>> {
    Ok(AppJson(find(&state, user.id).await?.into()))
}

/// Where to send the business to allow DeskRinger into its Google Calendar.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoogleAuthorization {
    /// Google's consent page; good for 10 minutes.
    pub authorize_url: String,
}

/// Where the business comes back to after Google's consent page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConnectGoogleQuery {
    /// `app` to come back to the web app (`/app/`); left out, the portal (`PORTAL_URL`).
    pub return_to: Option<String>,
}

/// `GET /api/portal/calendar/google/connect`.
#[utoipa::path(
    get,
    path = "/calendar/google/connect",
    tag = "portal",
    summary = "Start connecting Google Calendar",
    description = "Open `authorize_url` in the browser within 10 minutes. Google sends the business back to \
                   `/api/calendar/google/callback`, which redirects to the portal with `?calendar=connected` \
                   or `?calendar=error&reason=...`; with `return_to=app`, to \
                   `/app/?calendar=connected#/appointments` (or `/app/?calendar=error&reason=...#/appointments`).",
    params(ConnectGoogleQuery),
    responses((status = 200, body = GoogleAuthorization), AuthErrors, InputErrors,
        (status = 503, description = "Google Calendar or CALENDAR_TOKEN_KEY is not configured", body = ErrorBody)),
    security(("customer_token" = []))
)]
async fn connect_google_calendar(
    user: CustomerUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ConnectGoogleQuery>,
) -> Result<AppJson<GoogleAuthorization>> {
    // Only a place of the server's own, never a URL from the client (no open redirect).
    let return_to = match query.return_to.as_deref() {
        None => ReturnTo::Portal,
        Some(value) => ReturnTo::parse(value)
            .ok_or_else(|| AppError::invalid_field("return_to", "must be `app`, or left out for the portal"))?,
    };
    token_key(&state.config)?;
    let google = google(&state)?;
    let expires = Utc::now() + oauth_state::STATE_LIFETIME;
    let signed = oauth_state::sign_returning(state.config.jwt_secret_bytes(), user.id, expires, return_to);
    Ok(AppJson(GoogleAuthorization { authorize_url: google.authorize_url(&redirect_uri(&state.config), &signed) }))
}

/// One calendar of the Google account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoogleCalendar {
    /// Google's id.
    pub id: String,
    /// Its title.
    pub summary: String,
    /// Whether it is the account's main calendar.
    pub primary: bool,
}

/// The Google account's calendars.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoogleCalendars {
    /// Every calendar the account sees.
    pub calendars: Vec<GoogleCalendar>,
}

/// `GET /api/portal/calendar/google/calendars`.
#[utoipa::path(
    get,
    path = "/calendar/google/calendars",
    tag = "portal",
    summary = "The connected Google account's calendars",
    responses((status = 200, body = GoogleCalendars), AuthErrors,
        (status = 404, description = "No Google calendar is connected", body = ErrorBody),
        (status = 409, description = "Google refused the stored access: connect again", body = ErrorBody),
        (status = 502, description = "Google failed", body = ErrorBody),
        (status = 503, description = "Google Calendar is not configured", body = ErrorBody)),
    security(("customer_token" = []))
)]
async fn list_google_calendars(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<GoogleCalendars>> {
    let row = find_google(&state, user.id).await?;
    let calendars = google_calendars(&state, user.id, &row).await?;
    Ok(AppJson(GoogleCalendars {
        calendars: calendars
            .into_iter()
            .map(|c| GoogleCalendar { id: c.id, summary: c.summary, primary: c.primary })
            .collect(),
    }))
}

/// Which calendars to use; a field left out keeps its value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCalendarConnection {
    /// Where bookings are written: an id from the account's calendar list, or `primary`.
    pub write_calendar_id: Option<String>,
    /// The calendars whose busy times block bookings (ids from the list, or `primary`).
    pub busy_calendar_ids: Option<Vec<String>>,
}

/// `PUT /api/portal/calendar`.
#[utoipa::path(
    put,
    path = "/calendar",
    tag = "portal",
    summary = "Choose the calendars used",
    request_body = UpdateCalendarConnection,
    responses((status = 200, body = CalendarConnection), AuthErrors, InputErrors,
        (status = 404, description = "No Google calendar is connected", body = ErrorBody),
        (status = 409, description = "Google refused the stored access: connect again", body = ErrorBody),
        (status = 502, description = "Google failed", body = ErrorBody)),
    security(("customer_token" = []))
)]
async fn update_calendar_connection(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(update): AppJson<UpdateCalendarConnection>,
) -> Result<AppJson<CalendarConnection>> {
    if let Some(busy) = &update.busy_calendar_ids {
        if busy.is_empty() {
            return Err(AppError::invalid_field("busy_calendar_ids", "must name at least one calendar"));
        }
        if busy.len() > MAX_BUSY_CALENDARS {
            return Err(AppError::invalid_field(
                "busy_calendar_ids",
                format!("may name at most {MAX_BUSY_CALENDARS} calendars"),
            ));
        }
    }
    let row = find_google(&state, user.id).await?;
    if update.write_calendar_id.is_none() && update.busy_calendar_ids.is_none() {
        return Ok(AppJson(Some(row).into()));
    }
    let calendars = google_calendars(&state, user.id, &row).await?;
    let known = |id: &str| id == "primary" || calendars.iter().any(|c| c.id == id);
    if let Some(id) = update.write_calendar_id.as_deref().filter(|id| !known(id)) {
        return Err(AppError::invalid_field(
            "write_calendar_id",
            format!("`{id}` is not one of this Google account's calendars"),
        ));
    }
    if let Some(id) = update.busy_calendar_ids.iter().flatten().find(|id| !known(id)) {
        return Err(AppError::invalid_field(
            "busy_calendar_ids",
            format!("`{id}` is not one of this Google account's calendars"),
        ));
    }
    // Bookings are written there, so it must be a calendar the account may write to.
    let read_only = |id: &str| calendars.iter().any(|c| c.id == id && !c.can_write());
    if let Some(id) = update.write_calendar_id.as_deref().filter(|id| read_only(id)) {
        return Err(AppError::invalid_field(
            "write_calendar_id",
            format!("`{id}` is read-only for this Google account: choose a calendar it can add events to"),
        ));
    }
    let busy = update.busy_calendar_ids.map(|ids| {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<String> = ids.into_iter().filter(|id| seen.insert(id.clone())).collect();
        serde_json::json!(ids)
    });
    let row = sqlx::query_as!(
        ConnectionRow,
        "UPDATE calendar_connections
         SET write_calendar_id = COALESCE($2, write_calendar_id),
             busy_calendar_ids = COALESCE($3, busy_calendar_ids), updated_at = now()
         WHERE customer_id = $1
         RETURNING provider, status, secret, write_calendar_id, busy_calendar_ids, calcom_event_types, last_error, last_error_at",
        user.id,
        update.write_calendar_id,
        busy
    )
    .fetch_optional(&state.db)
    .await?;
    Ok(AppJson(row.into()))
}

/// What to tell the business when Google could not be told of a disconnection.
pub(crate) const GOOGLE_NOT_TOLD: &str =
    "Google could not be told: remove DeskRinger at https://myaccount.google.com/permissions";

/// Revokes DeskRinger's access at Google with the sealed refresh token `secret`; `false`
/// (logged) when Google could not be told, so the caller can say so.
pub(crate) async fn revoke_google(state: &AppState, customer_id: i64, secret: &[u8]) -> bool {
    let revoked = match (state.config.calendar.token_key.as_deref(), state.clients.google.as_ref()) {
        (Some(key), Some(google)) => match key.open_string(secret) {
            Ok(token) => google.revoke(&token).await.map_err(|error| error.to_string()),
            Err(error) => Err(error.to_string()),
        },
        _ => Err("Google Calendar is not configured on this server".to_owned()),
    };
    if let Err(error) = &revoked {
        tracing::warn!(customer.id = customer_id, %error, "Google access not revoked");
    }
    revoked.is_ok()
}

/// What became of a disconnection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disconnected {
    /// For people; says when Google could not be told.
    pub message: String,
}

/// `DELETE /api/portal/calendar`.
#[utoipa::path(
    delete,
    path = "/calendar",
    tag = "portal",
    summary = "Disconnect the calendar",
    description = "Revokes DeskRinger's access at Google and forgets the stored token. When Google cannot be \
                   reached the token is forgotten all the same, and the message says so.",
    responses((status = 200, body = Disconnected), AuthErrors,
        (status = 404, description = "No calendar is connected", body = ErrorBody)),
    security(("customer_token" = []))
)]
async fn delete_calendar_connection(
    user: CustomerUser,
    State(state): State<AppState>,
) -> Result<AppJson<Disconnected>> {
    let row = find(&state, user.id).await?.ok_or_else(|| AppError::NotFound("no calendar is connected".into()))?;
    let mut message = "the calendar is disconnected".to_owned();
    // Cal.com keys are the business's own to revoke: there is no call to make.
    if row.provider == "google" && !revoke_google(&state, user.id, &row.secret).await {
        message = format!("the calendar is disconnected, but {GOOGLE_NOT_TOLD}");
    }
    sqlx::query!("DELETE FROM calendar_connections WHERE customer_id = $1", user.id).execute(&state.db).await?;
    tracing::info!(customer.id = user.id, "calendar disconnected");
    Ok(AppJson(Disconnected { message }))
}
