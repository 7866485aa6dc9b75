//! A business's connected calendar as the diary sees it.
//!
//! Google Calendar: busy times read live (the diary subtracts them from what it offers and
//! re-checks them at every booking and move), never from a stale copy. An access token is got
//! from the sealed refresh token once per diary and kept for its life (one request, or one
//! call's tools).
//!
//! Cal.com (issue 19): a mapped service's free starts are Cal.com's slots for its event type
//! (the diary offers a start only when Cal.com lists it and the diary has a free place, so
//! the database still forbids double booking), and each booking and move is made at Cal.com
//! right after the diary's row holds the place. The Cal.com calls are built here, as hooks,
//! so that the diary stays free of HTTP clients.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::booking::diary::{OutsideBookings, OutsideCalendar, OutsideRefusal};
use crate::clients::calcom::{Attendee, CalCom, CalComError};
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
    let Some(row) = row else { return calcom_for_business(state, customer_id).await };
    let unreadable = |reason: &'static str| -> OutsideCalendar {
        OutsideCalendar::busy(Arc::new(move |_, _| Box::pin(async move { Err(reason.to_owned()) })))
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
    Ok(Some(OutsideCalendar::busy(Arc::new(move |from, to| {
        let lookup = lookup.clone();
        Box::pin(async move { lookup.busy(from, to).await })
    }))))
}

/// The business's Cal.com connection as diary hooks, if it has one.
async fn calcom_for_business(state: &AppState, customer_id: i64) -> sqlx::Result<Option<OutsideCalendar>> {
    let row = sqlx::query!(
        "SELECT c.status, c.secret, c.calcom_event_types, cu.timezone
         FROM calendar_connections c JOIN customers cu ON cu.id = c.customer_id
         WHERE c.customer_id = $1 AND c.provider = 'calcom'",
        customer_id
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let key = if row.status != "connected" {
        Err("it needs reconnecting in the portal")
    } else if let Some(key) = state.config.calendar.token_key.as_ref() {
        key.open_string(&row.secret).map_err(|_| "its stored access cannot be opened")
    } else {
        Err("this server is not configured for Cal.com")
    };
    let event_types: Vec<crate::http::portal::calendar_calcom::CalComEventType> =
        serde_json::from_value(row.calcom_event_types).unwrap_or_default();
    let lookup = Arc::new(CalComLookup {
        calcom: state.clients.calcom.clone(),
        key: key.map(SecretString::from),
        event_types: event_types.into_iter().map(|t| (t.service.to_lowercase(), t.event_type_id)).collect(),
        time_zone: crate::receptionist::hours::time_zone(&row.timezone).name().to_owned(),
    });
    let (slots, book, reschedule) = (lookup.clone(), lookup.clone(), lookup);
    Ok(Some(OutsideCalendar {
        busy: None,
        bookings: Some(OutsideBookings {
            slots: Arc::new(move |service, from, to| {
                let lookup = slots.clone();
                Box::pin(async move { lookup.slots(&service, from, to).await })
            }),
            book: Arc::new(move |service, start, name, phone| {
                let lookup = book.clone();
                Box::pin(async move { lookup.book(&service, start, name, phone).await })
            }),
            reschedule: Arc::new(move |uid, start| {
                let lookup = reschedule.clone();
                Box::pin(async move { lookup.reschedule(&uid, start).await })
            }),
        }),
    }))
}

/// What one diary needs to use a business's Cal.com account.
struct CalComLookup {
    calcom: CalCom,
    /// The API key, or why it cannot be used.
    key: Result<SecretString, &'static str>,
    /// Each mapped service (lowercased name) and its event type.
    event_types: Vec<(String, i64)>,
    /// The business's IANA time zone.
    time_zone: String,
}

impl CalComLookup {
    fn key(&self) -> Result<&str, OutsideRefusal> {
        self.key.as_ref().map(|key| key.expose_secret()).map_err(|reason| OutsideRefusal::Failed((*reason).to_owned()))
    }

    fn event_type(&self, service: &str) -> Result<i64, OutsideRefusal> {
        let name = service.trim().to_lowercase();
        self.event_types.iter().find(|(mapped, _)| *mapped == name).map(|&(_, id)| id).ok_or_else(|| {
            OutsideRefusal::Failed(format!("the service \"{}\" is not mapped to a Cal.com event type", service.trim()))
        })
    }

    async fn slots(
        &self,
        service: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, OutsideRefusal> {
        let event_type = self.event_type(service)?;
        self.calcom.slots(self.key()?, event_type, from, to, &self.time_zone).await.map_err(refusal)
    }

    async fn book(
        &self,
        service: &str,
        start: DateTime<Utc>,
        name: String,
        phone: Option<String>,
    ) -> Result<String, OutsideRefusal> {
        let event_type = self.event_type(service)?;
        let attendee =
            Attendee { name, phone_number: phone.unwrap_or_default(), time_zone: self.time_zone.clone(), email: None };
        self.calcom.book(self.key()?, event_type, start, &attendee).await.map_err(refusal)
    }

    async fn reschedule(&self, uid: &str, start: DateTime<Utc>) -> Result<String, OutsideRefusal> {
        self.calcom.reschedule(self.key()?, uid, start).await.map_err(refusal)
    }
}

/// A Cal.com failure as the diary sees it, in words for the owner (never the key).
fn refusal(error: CalComError) -> OutsideRefusal {
    match error {
        CalComError::SlotTaken { .. } => OutsideRefusal::Taken,
        error if error.is_transport() => OutsideRefusal::Failed("Cal.com did not answer in time".into()),
        CalComError::BadKey => OutsideRefusal::Failed("Cal.com refused the API key; it needs reconnecting".into()),
        error => {
            tracing::warn!(%error, "Cal.com request failed");
            OutsideRefusal::Failed("Cal.com refused the request".into())
        }
    }
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
