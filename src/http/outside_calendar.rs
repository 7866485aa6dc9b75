//! A business's connected Google Calendar as the diary sees it: busy times read live (the
//! diary subtracts them from what it offers and re-checks them at every booking and move),
//! never from a stale copy. An access token is got from the sealed refresh token once per
//! diary and kept for its life (one request, or one call's tools).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::booking::diary::OutsideCalendar;
use crate::clients::google_calendar::CalendarError;
use crate::clients::google_oauth::GoogleError;
use crate::http::AppState;

/// The business's outside calendar, if it has one connected (Google); `None` otherwise.
/// A connection that needs reconnecting, or that this server cannot open, still answers:
/// with the reason, so the diary books nothing blind.
pub async fn for_business(state: &AppState, customer_id: i64) -> sqlx::Result<Option<OutsideCalendar>> {
    let row = sqlx::query!(
        "SELECT status, secret, busy_calendar_ids FROM calendar_connections
         WHERE customer_id = $1 AND provider = 'google'",
        customer_id
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let unreadable = |reason: &'static str| -> OutsideCalendar {
        Arc::new(move |_, _| Box::pin(async move { Err(reason.to_owned()) }))
    };
    if row.status != "connected" {
        return Ok(Some(unreadable("it needs reconnecting in the portal")));
    }
    let (Some(key), Some(google)) = (state.config.calendar.token_key.clone(), state.clients.google.clone()) else {
        return Ok(Some(unreadable("this server is not configured for Google Calendar")));
    };
    let Ok(refresh_token) = key.open_string(&row.secret) else {
        return Ok(Some(unreadable("its stored access cannot be opened")));
    };
    let calendars: Vec<String> = serde_json::from_value(row.busy_calendar_ids).unwrap_or_default();
    let calendars = if calendars.is_empty() { vec!["primary".to_owned()] } else { calendars };
    let lookup = Arc::new(GoogleLookup {
        db: state.db.clone(),
        customer_id,
        google,
        calendar_api: state.clients.google_calendar.clone(),
        refresh_token: SecretString::from(refresh_token),
        calendars,
        access_token: tokio::sync::Mutex::new(None),
    });
    Ok(Some(Arc::new(move |from, to| {
        let lookup = lookup.clone();
        Box::pin(async move { lookup.busy(from, to).await })
    })))
}

/// What one diary needs to read a business's Google busy times.
struct GoogleLookup {
    db: sqlx::PgPool,
    customer_id: i64,
    google: crate::clients::google_oauth::GoogleOAuth,
    calendar_api: crate::clients::google_calendar::GoogleCalendar,
    refresh_token: SecretString,
    calendars: Vec<String>,
    access_token: tokio::sync::Mutex<Option<SecretString>>,
}

impl GoogleLookup {
    async fn busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, String> {
        let token = self.access_token().await?;
        let ids: Vec<&str> = self.calendars.iter().map(String::as_str).collect();
        match self.calendar_api.free_busy(token.expose_secret(), &ids, from, to).await {
            Ok(busy) => Ok(busy),
            Err(CalendarError::Unauthorized) => {
                // The access token ended early: one fresh one, once.
                *self.access_token.lock().await = None;
                let token = self.access_token().await?;
                self.calendar_api
                    .free_busy(token.expose_secret(), &ids, from, to)
                    .await
                    .map_err(|error| describe(&error))
            }
            Err(error) => {
                tracing::warn!(customer.id = self.customer_id, %error, "Google free/busy failed");
                Err(describe(&error))
            }
        }
    }

    async fn access_token(&self) -> Result<SecretString, String> {
        let mut cached = self.access_token.lock().await;
        if let Some(token) = cached.as_ref() {
            return Ok(token.clone());
        }
        match self.google.refresh(self.refresh_token.expose_secret()).await {
            Ok(access) => {
                *cached = Some(access.access_token.clone());
                Ok(access.access_token)
            }
            Err(GoogleError::InvalidGrant) => {
                let _ = crate::jobs::calendar::needs_reconnect(&self.db, self.customer_id).await;
                Err("Google no longer accepts DeskRinger's access; it needs reconnecting in the portal".into())
            }
            Err(error) => {
                tracing::warn!(customer.id = self.customer_id, %error, "Google token refresh failed");
                Err("Google did not give access just now".into())
            }
        }
    }
}

/// A calendar failure in words for the owner (never a token).
fn describe(error: &CalendarError) -> String {
    if error.is_transport() {
        "Google Calendar did not answer in time".into()
    } else {
        "Google Calendar refused the request".into()
    }
}
