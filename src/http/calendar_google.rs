//! `GET /api/calendar/google/callback`: where Google sends a business back after its
//! consent page. There is no login here: the signed, one-use `state` names the business
//! (see [`crate::auth::oauth_state`]). Every outcome redirects to the portal with
//! `?calendar=connected` or `?calendar=error&reason=...` (or to the web app, when the state
//! says the business started there); nothing is stored unless the state is good and Google
//! gave a refresh token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::oauth_state::{self, ReturnTo};
use crate::http::AppState;
use crate::http::error::Result;
use crate::http::extract::{AppJson, AppQuery};
use crate::http::portal::calendar::{google, redirect_uri, token_key};

/// The callback's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(google_calendar_callback))
}

/// What Google adds to the redirect URI.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    /// The authorization code (on consent).
    pub code: Option<String>,
    /// The state the server signed.
    pub state: Option<String>,
    /// Google's error code (`access_denied` when the business said no).
    pub error: Option<String>,
}

/// The outcome, answered as JSON when `PORTAL_URL` is not set.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallbackOutcome {
    /// `connected` or `error`.
    pub calendar: &'static str,
    /// Why it failed: `invalid_state` (bad, expired or already used: start again),
    /// `denied`, `not_configured`, `google_error` or `no_refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// `GET /api/calendar/google/callback`.
#[utoipa::path(
    get,
    path = "/api/calendar/google/callback",
    tag = "portal",
    summary = "Google's return from the consent page",
    description = "No token: the signed `state` (10 minutes, one use) names the business. Redirects (302) to \
                   `PORTAL_URL?calendar=connected` or `PORTAL_URL?calendar=error&reason=...`; without \
                   PORTAL_URL it answers the outcome as JSON. A state made with `return_to=app` redirects to \
                   `{API_BASE_URL}/app/?calendar=connected#/appointments` (or `?calendar=error&reason=...`) instead.",
    params(CallbackQuery),
    responses((status = 302, description = "Back to the portal, with the outcome in the query"),
        (status = 200, description = "Connected (PORTAL_URL is not set)", body = CallbackOutcome),
        (status = 400, description = "Not connected (PORTAL_URL is not set)", body = CallbackOutcome))
)]
async fn google_calendar_callback(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<CallbackQuery>,
) -> Result<Response> {
    let (return_to, connected) = connect(&state, query).await?;
    let outcome = match connected {
        Ok(customer_id) => {
            tracing::info!(customer.id = customer_id, "Google calendar connected");
            CallbackOutcome { calendar: "connected", reason: None }
        }
        Err(reason) => {
            tracing::info!(reason, "Google calendar not connected");
            CallbackOutcome { calendar: "error", reason: Some(reason) }
        }
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("calendar", outcome.calendar);
    if let Some(reason) = outcome.reason {
        query.append_pair("reason", reason);
    }
    let query = query.finish();
    let location = match (return_to, &state.config.portal_url) {
        // The web app routes by its fragment; its page reads the query.
        (ReturnTo::App, _) => format!("{}/app/?{query}#/appointments", state.config.api_base_url.trim_end_matches('/')),
        (ReturnTo::Portal, Some(portal)) => {
            let separator = if portal.contains('?') { '&' } else { '?' };
            format!("{portal}{separator}{query}")
        }
        (ReturnTo::Portal, None) if outcome.reason.is_none() => return Ok(AppJson(outcome).into_response()),
        (ReturnTo::Portal, None) => return Ok((StatusCode::BAD_REQUEST, AppJson(outcome)).into_response()),
    };
    Ok((StatusCode::FOUND, [(LOCATION, location)]).into_response())
}

/// Checks the state, exchanges the code and stores the sealed refresh token: where the
/// business goes back to (the portal when the state is not good), and the business
/// connected, or why not.
async fn connect(state: &AppState, query: CallbackQuery) -> Result<(ReturnTo, Result<i64, &'static str>)> {
    let Some(signed) =
        query.state.as_deref().and_then(|s| oauth_state::verify(state.config.jwt_secret_bytes(), s, Utc::now()))
    else {
        return Ok((ReturnTo::Portal, Err("invalid_state")));
    };
    let return_to = signed.return_to;
    Ok((return_to, store_connection(state, query, signed).await?))
}

/// [`connect`] once the state is known to be this server's and current.
async fn store_connection(
    state: &AppState,
    query: CallbackQuery,
    signed: oauth_state::OAuthState,
) -> Result<Result<i64, &'static str>> {
    // Used once: a replayed callback (a reloaded page, a leaked URL) finds its nonce taken.
    // States live 10 minutes, so older nonces can go.
    sqlx::query!("DELETE FROM oauth_states WHERE used_at < now() - interval '1 hour'").execute(&state.db).await?;
    let fresh = sqlx::query!("INSERT INTO oauth_states (nonce) VALUES ($1) ON CONFLICT DO NOTHING", signed.nonce)
        .execute(&state.db)
        .await?
        .rows_affected()
        == 1;
    if !fresh {
        return Ok(Err("invalid_state"));
    }
    if query.error.is_some() {
        return Ok(Err("denied"));
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else { return Ok(Err("denied")) };
    let (Ok(key), Ok(google)) = (token_key(&state.config), google(state)) else { return Ok(Err("not_configured")) };
    let tokens = match google.exchange_code(&code, &redirect_uri(&state.config)).await {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::warn!(customer.id = signed.customer_id, %error, "Google code exchange failed");
            return Ok(Err("google_error"));
        }
    };
    let Some(refresh_token) = tokens.refresh_token else { return Ok(Err("no_refresh_token")) };
    let sealed = key.seal(refresh_token.expose_secret().as_bytes()).map_err(anyhow::Error::from)?;
    // A business deleted meanwhile inserts nothing.
    let stored = sqlx::query!(
        r#"INSERT INTO calendar_connections (customer_id, provider, status, secret, write_calendar_id, busy_calendar_ids)
           SELECT id, 'google', 'connected', $2, 'primary', '["primary"]' FROM customers WHERE id = $1
           ON CONFLICT (customer_id) DO UPDATE
           SET provider = 'google', status = 'connected', secret = EXCLUDED.secret,
               write_calendar_id = 'primary', busy_calendar_ids = '["primary"]', calcom_event_types = '[]',
               last_error = NULL, last_error_at = NULL, reconnect_emailed_at = NULL, updated_at = now()"#,
        signed.customer_id,
        sealed
    )
    .execute(&state.db)
    .await?
    .rows_affected();
    if stored == 0 {
        return Ok(Err("invalid_state"));
    }
    // The diary may hold appointments the calendar has not seen (booked before connecting, or
    // while the old grant was refused): they are written now, through the queue.
    let queued = crate::jobs::calendar::queue_unwritten(&state.db, signed.customer_id).await?;
    if queued > 0 {
        tracing::info!(customer.id = signed.customer_id, queued, "calendar writes queued for the diary so far");
    }
    Ok(Ok(signed.customer_id))
}
