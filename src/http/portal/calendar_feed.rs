//! The business's private calendar feed: its URL (the token is made on first use) and
//! rotating it, which retires the old URL at once. The feed itself is
//! [`crate::http::calendar_feed`].

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::calendar_feed::{feed_url, new_token};
use crate::http::error::{AppError, AuthErrors, Result};
use crate::http::extract::{AppJson, CustomerUser};

/// The calendar feed's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_calendar_feed_url)).routes(routes!(rotate_calendar_feed))
}

/// Where a calendar app subscribes to the business's diary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarFeed {
    /// `{API_BASE_URL}/api/calendar/{token}.ics`. Anyone holding it can read the diary.
    pub url: String,
}

const ACCOUNT_GONE: AppError = AppError::Unauthorized("invalid or expired token");

/// `GET /api/portal/calendar-feed`: the feed's URL, made on first use and the same after.
#[utoipa::path(
    get,
    path = "/calendar-feed",
    tag = "portal",
    summary = "The private calendar feed's URL",
    description = "Paste it into Google, Apple or Outlook calendar as a calendar to subscribe to by URL. \
                   The first call makes it; later calls answer the same URL until it is rotated.",
    responses((status = 200, body = CalendarFeed), AuthErrors),
    security(("customer_token" = []))
)]
async fn get_calendar_feed_url(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<CalendarFeed>> {
    let existing = sqlx::query_scalar!("SELECT calendar_feed_token FROM customers WHERE id = $1", user.id)
        .fetch_optional(&state.db)
        .await?
        .ok_or(ACCOUNT_GONE)?;
    let token = match existing {
        Some(token) => token,
        // Two first calls at once agree on one token: the second keeps the first's.
        None => sqlx::query_scalar!(
            r#"UPDATE customers SET calendar_feed_token = COALESCE(calendar_feed_token, $2) WHERE id = $1
               RETURNING calendar_feed_token AS "calendar_feed_token!""#,
            user.id,
            new_token()
        )
        .fetch_optional(&state.db)
        .await?
        .ok_or(ACCOUNT_GONE)?,
    };
    Ok(AppJson(CalendarFeed { url: feed_url(&state.config, &token) }))
}

/// `POST /api/portal/calendar-feed/rotate`: a new URL; the old one answers 404 from now on.
#[utoipa::path(
    post,
    path = "/calendar-feed/rotate",
    tag = "portal",
    summary = "Replace the calendar feed's URL",
    description = "For a URL that has leaked: calendars subscribed to the old URL stop updating and must \
                   subscribe to the new one.",
    responses((status = 200, body = CalendarFeed), AuthErrors),
    security(("customer_token" = []))
)]
async fn rotate_calendar_feed(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<CalendarFeed>> {
    let token = sqlx::query_scalar!(
        r#"UPDATE customers SET calendar_feed_token = $2 WHERE id = $1
           RETURNING calendar_feed_token AS "calendar_feed_token!""#,
        user.id,
        new_token()
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(ACCOUNT_GONE)?;
    tracing::info!(customer.id = user.id, "calendar feed rotated");
    Ok(AppJson(CalendarFeed { url: feed_url(&state.config, &token) }))
}
