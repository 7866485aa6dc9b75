//! Google Calendar API v3: the free/busy lookup and the event writes that a connected
//! Google Calendar needs (issue 19). A thin typed client over the same reqwest/rustls stack as
//! the other clients (see the README for why not google-calendar3); it takes an OAuth access
//! token per call and knows nothing of refreshing it: [`CalendarError::Unauthorized`] tells
//! the caller to refresh and try again.
//!
//! Reference pages:
//! - freeBusy.query: <https://developers.google.com/calendar/api/v3/reference/freebusy/query>
//! - events.insert: <https://developers.google.com/calendar/api/v3/reference/events/insert>
//! - events.patch: <https://developers.google.com/calendar/api/v3/reference/events/patch>
//! - events.delete: <https://developers.google.com/calendar/api/v3/reference/events/delete>
//! - extended properties: <https://developers.google.com/calendar/api/guides/extended-properties>
//! - errors: <https://developers.google.com/calendar/api/guides/errors>

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http_client;

/// Longest a free/busy lookup may take: it runs while a caller waits on the line, and a
/// calendar slower than this counts as unreachable (the receptionist then takes details).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest an event write may take: writes run in the job queue, not during a call.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The private extended property that carries the appointment's id on its event.
pub const APPOINTMENT_ID_PROPERTY: &str = "deskringer_appointment_id";

/// A failed Google Calendar request. Its `Display` never includes the access token.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// Google refused the access token (401): refresh it and try again.
    #[error("Google Calendar refused the access token (401); it must be refreshed")]
    Unauthorized,
    /// The calendar or event does not exist, or this account cannot see it (404).
    #[error("Google Calendar: not found ({message})")]
    NotFound { message: String },
    /// Google answered with an error; `message` is Google's own. For free/busy, a calendar
    /// that Google could not read (its `errors` in the answer) is reported here with
    /// status 200, so that it is never mistaken for a free calendar.
    #[error("Google Calendar error ({status}): {message}")]
    Api { status: u16, message: String },
    /// Google could not be reached in time, or answered something unreadable.
    #[error("Google Calendar request failed: {0:#}")]
    Transport(anyhow::Error),
}

impl CalendarError {
    /// Whether the request timed out or could not reach Google (a call in progress then
    /// takes details instead of booking).
    pub fn is_transport(&self) -> bool {
        matches!(self, CalendarError::Transport(_))
    }
}

/// A busy time: its start and end.
pub type BusyRange = (DateTime<Utc>, DateTime<Utc>);

/// An event to write for an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The title: the service and the caller's name.
    pub summary: String,
    /// The caller's phone and notes.
    pub description: String,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// The business's IANA time zone (`Europe/London`), so the event shows in it.
    pub time_zone: String,
    /// The appointment's id, kept in the event's private extended properties.
    pub appointment_id: i64,
}

/// The Google Calendar client.
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    http: reqwest::Client,
    base_url: String,
    lookup_timeout: Duration,
}

/// `{"start": "...", "end": "..."}` in a free/busy answer.
#[derive(Deserialize)]
struct Busy {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// `{"domain": "global", "reason": "notFound"}` for a calendar Google could not read.
#[derive(Deserialize)]
struct CalendarProblem {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct FreeBusyCalendar {
    #[serde(default)]
    busy: Vec<Busy>,
    #[serde(default)]
    errors: Vec<CalendarProblem>,
}

#[derive(Deserialize)]
struct FreeBusyAnswer {
    #[serde(default)]
    calendars: std::collections::HashMap<String, FreeBusyCalendar>,
}

#[derive(Deserialize)]
struct EventAnswer {
    id: String,
}

/// Google's error body: `{"error": {"code": 401, "message": "...", "status": "..."}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// `{"dateTime": "...", "timeZone": "..."}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventTime<'a> {
    date_time: String,
    time_zone: &'a str,
}

impl<'a> EventTime<'a> {
    fn new(at: DateTime<Utc>, time_zone: &'a str) -> Self {
        Self { date_time: rfc3339(at), time_zone }
    }
}

impl GoogleCalendar {
    /// A client of the API at `base_url` (`https://www.googleapis.com`, or a mock server).
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: http_client(WRITE_TIMEOUT)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            lookup_timeout: LOOKUP_TIMEOUT,
        })
    }

    /// The same client with another limit for free/busy lookups than [`LOOKUP_TIMEOUT`].
    pub fn with_lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// `{base}/calendar/v3/` followed by `segments`, each percent-encoded (calendar ids are
    /// email addresses and may hold `#`).
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, CalendarError> {
        super::url_with_segments(&format!("{}/calendar/v3", self.base_url), segments)
            .map_err(|e| CalendarError::Transport(anyhow::anyhow!("Google Calendar: {e}")))
    }

    /// Sends `request` with the token and reads the JSON answer (an empty one reads as
    /// JSON `null`).
    async fn send<T: DeserializeOwned>(
        &self,
        token: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CalendarError> {
        let started = Instant::now();
        let result = async {
            // The URL names calendar ids (email addresses): keep it out of the error text.
            let response = request
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| CalendarError::Transport(e.without_url().into()))?;
            read_answer(response, token).await
        }
        .await;
        crate::telemetry::record_external("google_calendar", started, result.is_ok());
        result
    }

    /// The busy times of `calendar_ids` between `time_min` and `time_max`, all calendars
    /// merged, sorted by start (overlaps are kept; the caller subtracts them). A calendar
    /// Google could not read is an error, never "free".
    #[tracing::instrument(skip_all, fields(calendars = calendar_ids.len()))]
    pub async fn free_busy(
        &self,
        token: &str,
        calendar_ids: &[&str],
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    ) -> Result<Vec<BusyRange>, CalendarError> {
        let body = json!({
            "timeMin": rfc3339(time_min),
            "timeMax": rfc3339(time_max),
            "items": calendar_ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        let url = self.url(&["freeBusy"])?;
        let request = self.http.post(url).timeout(self.lookup_timeout).json(&body);
        let answer: FreeBusyAnswer = self.send(token, request).await?;
        let mut busy = Vec::new();
        for id in calendar_ids {
            let Some(calendar) = answer.calendars.get(*id) else {
                return Err(CalendarError::Api {
                    status: 200,
                    message: "a calendar is missing from the free/busy answer".into(),
                });
            };
            if let Some(problem) = calendar.errors.first() {
                let reason = problem.reason.as_deref().unwrap_or("unknown");
                return Err(CalendarError::Api {
                    status: 200,
                    message: format!("Google could not read a calendar's busy times ({reason})"),
                });
            }
            busy.extend(calendar.busy.iter().map(|b| (b.start, b.end)));
        }
        busy.sort();
        Ok(busy)
    }

    /// Writes `event` to `calendar_id`; answers the new event's id.
    #[tracing::instrument(skip_all, fields(appointment.id = event.appointment_id))]
    pub async fn insert_event(
        &self,
        token: &str,
        calendar_id: &str,
        event: &NewEvent,
    ) -> Result<String, CalendarError> {
        let body = json!({
            "summary": event.summary,
            "description": event.description,
            "start": EventTime::new(event.start, &event.time_zone),
            "end": EventTime::new(event.end, &event.time_zone),
            "extendedProperties": {
                "private": { APPOINTMENT_ID_PROPERTY: event.appointment_id.to_string() },
            },
        });
        let url = self.url(&["calendars", calendar_id, "events"])?;
        let created: EventAnswer = self.send(token, self.http.post(url).json(&body)).await?;
        Ok(created.id)
    }

    /// Moves event `event_id` to `start`..`end` (shown in `time_zone`); its other fields
    /// stay as they are (a patch, not an update).
    #[tracing::instrument(skip_all)]
    pub async fn patch_event(
        &self,
        token: &str,
        calendar_id: &str,
        event_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<(), CalendarError> {
        let body = json!({
            "start": EventTime::new(start, time_zone),
            "end": EventTime::new(end, time_zone),
        });
        let url = self.url(&["calendars", calendar_id, "events", event_id])?;
        let _: serde_json::Value = self.send(token, self.http.patch(url).json(&body)).await?;
        Ok(())
    }

    /// Deletes event `event_id`. An event already gone (404, or 410 for one deleted
    /// before) counts as deleted, so a retried job does not fail forever.
    #[tracing::instrument(skip_all)]
    pub async fn delete_event(&self, token: &str, calendar_id: &str, event_id: &str) -> Result<(), CalendarError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id])?;
        match self.send::<serde_json::Value>(token, self.http.delete(url)).await {
            Ok(_) | Err(CalendarError::NotFound { .. }) | Err(CalendarError::Api { status: 410, .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// RFC 3339 in UTC with a `Z`, as Google's examples write it.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The JSON of a 2xx answer, or the error Google's status and message make. `secret` is
/// cut out of any message, should Google ever quote it.
async fn read_answer<T: DeserializeOwned>(response: reqwest::Response, secret: &str) -> Result<T, CalendarError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| CalendarError::Transport(e.without_url().into()))?;
    if !status.is_success() {
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .and_then(|b| b.error.message)
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = redact(&message, secret);
        return Err(match status.as_u16() {
            401 => CalendarError::Unauthorized,
            404 => CalendarError::NotFound { message },
            status => CalendarError::Api { status, message },
        });
    }
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body)
        .map_err(|e| CalendarError::Transport(anyhow::anyhow!("unreadable Google Calendar answer: {e}")))
}

/// `message` without `secret` in it.
fn redact(message: &str, secret: &str) -> String {
    if secret.is_empty() { message.to_owned() } else { message.replace(secret, "[redacted]") }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const TOKEN: &str = "ya29.secret-access-token";

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 8, hour, minute, 0).unwrap()
    }

    async fn client(server: &MockServer) -> GoogleCalendar {
        GoogleCalendar::new(&server.uri()).unwrap()
    }

    #[tokio::test]
    async fn free_busy_merges_the_busy_times_of_every_calendar() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/freeBusy"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_json(json!({
                "timeMin": "2026-12-08T00:00:00Z",
                "timeMax": "2026-12-09T00:00:00Z",
                "items": [{"id": "primary"}, {"id": "team@example.com"}],
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "kind": "calendar#freeBusy",
                "timeMin": "2026-12-08T00:00:00.000Z",
                "timeMax": "2026-12-09T00:00:00.000Z",
                "calendars": {
                    "primary": {"busy": [{"start": "2026-12-08T14:00:00Z", "end": "2026-12-08T15:00:00Z"}]},
                    "team@example.com": {"busy": [
                        {"start": "2026-12-08T10:00:00+01:00", "end": "2026-12-08T10:30:00+01:00"}
                    ]},
                },
            })))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let busy = client(&server)
            .await
            .free_busy(TOKEN, &["primary", "team@example.com"], at(0, 0), at(0, 0) + chrono::Duration::days(1))
            .await
            .unwrap();

        // Assert: both calendars, in UTC, sorted by start.
        assert_eq!(busy, vec![(at(9, 0), at(9, 30)), (at(14, 0), at(15, 0))]);
    }

    #[tokio::test]
    async fn a_calendar_google_cannot_read_is_an_error_not_free() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/freeBusy"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "calendars": {
                    "primary": {"busy": []},
                    "gone@example.com": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []},
                },
            })))
            .mount(&server)
            .await;

        // Act
        let error = client(&server)
            .await
            .free_busy(TOKEN, &["primary", "gone@example.com"], at(0, 0), at(23, 0))
            .await
            .unwrap_err();

        // Assert
        assert!(matches!(&error, CalendarError::Api { status: 200, message } if message.contains("notFound")));
    }

    #[tokio::test]
    async fn a_refused_token_is_unauthorized_and_never_shown() {
        // Arrange: Google's 401 body, here quoting the token.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/freeBusy"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "error": {"code": 401, "message": format!("Invalid Credentials {TOKEN}"), "status": "UNAUTHENTICATED"},
            })))
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.free_busy(TOKEN, &["primary"], at(0, 0), at(23, 0)).await.unwrap_err();

        // Assert
        assert!(matches!(error, CalendarError::Unauthorized));
        assert!(!error.to_string().contains(TOKEN));
        assert!(!format!("{error:?}").contains(TOKEN));
    }

    #[tokio::test]
    async fn an_api_error_carries_googles_message_without_the_token() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/calendars/primary/events"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "error": {"code": 403, "message": format!("Rate Limit Exceeded for {TOKEN}")},
            })))
            .mount(&server)
            .await;
        let event = NewEvent {
            summary: "Haircut - Ann".into(),
            description: String::new(),
            start: at(9, 0),
            end: at(9, 30),
            time_zone: "UTC".into(),
            appointment_id: 1,
        };

        // Act
        let error = client(&server).await.insert_event(TOKEN, "primary", &event).await.unwrap_err();

        // Assert
        assert!(matches!(&error, CalendarError::Api { status: 403, .. }));
        let shown = error.to_string();
        assert!(shown.contains("Rate Limit Exceeded"), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
    }

    #[tokio::test]
    async fn a_slow_free_busy_times_out_as_a_transport_error() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/freeBusy"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)).set_body_json(json!({})))
            .mount(&server)
            .await;
        let google = client(&server).await.with_lookup_timeout(Duration::from_millis(100));

        // Act
        let started = Instant::now();
        let error = google.free_busy(TOKEN, &["primary"], at(0, 0), at(23, 0)).await.unwrap_err();

        // Assert
        assert!(error.is_transport(), "{error}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn insert_event_writes_the_event_in_the_business_time_zone_with_the_appointment_id() {
        // Arrange: the calendar id's `#` is percent-encoded in the path (else it would end it).
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/calendar/v3/calendars/team%23shop@example.com/events"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_json(json!({
                "summary": "Haircut - Ann Smith",
                "description": "Phone: +447700900123\nNotes: short back and sides",
                "start": {"dateTime": "2026-12-08T09:00:00Z", "timeZone": "Europe/London"},
                "end": {"dateTime": "2026-12-08T09:30:00Z", "timeZone": "Europe/London"},
                "extendedProperties": {"private": {"deskringer_appointment_id": "42"}},
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "kind": "calendar#event",
                "id": "7cbh8rpc10lrc0ckih9tafss99",
                "status": "confirmed",
                "htmlLink": "https://www.google.com/calendar/event?eid=N2NiaDhycGMxMGxyYzBja2loOXRhZnNzOTk",
            })))
            .expect(1)
            .mount(&server)
            .await;
        let event = NewEvent {
            summary: "Haircut - Ann Smith".into(),
            description: "Phone: +447700900123\nNotes: short back and sides".into(),
            start: at(9, 0),
            end: at(9, 30),
            time_zone: "Europe/London".into(),
            appointment_id: 42,
        };

        // Act
        let id = client(&server).await.insert_event(TOKEN, "team#shop@example.com", &event).await.unwrap();

        // Assert
        assert_eq!(id, "7cbh8rpc10lrc0ckih9tafss99");
    }

    #[tokio::test]
    async fn patch_event_sends_only_the_new_times() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("PATCH"))
            .and(path("/calendar/v3/calendars/primary/events/evt123"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_json(json!({
                "start": {"dateTime": "2026-12-08T11:00:00Z", "timeZone": "America/New_York"},
                "end": {"dateTime": "2026-12-08T11:45:00Z", "timeZone": "America/New_York"},
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "evt123"})))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let moved = client(&server)
            .await
            .patch_event(TOKEN, "primary", "evt123", at(11, 0), at(11, 45), "America/New_York")
            .await;

        // Assert
        moved.unwrap();
    }

    #[tokio::test]
    async fn patching_a_missing_event_is_not_found() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("PATCH"))
            .and(path("/calendar/v3/calendars/primary/events/gone"))
            .respond_with(
                ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404, "message": "Not Found"}})),
            )
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.patch_event(TOKEN, "primary", "gone", at(9, 0), at(10, 0), "UTC").await;

        // Assert
        assert!(matches!(error, Err(CalendarError::NotFound { .. })));
    }

    #[tokio::test]
    async fn delete_event_deletes_and_treats_an_event_already_gone_as_deleted() {
        // Arrange: 204 for the first, 410 (deleted before) and 404 for the others.
        let server = MockServer::start().await;
        for (event, status) in [("evt1", 204), ("evt2", 410), ("evt3", 404)] {
            Mock::given(method("DELETE"))
                .and(path(format!("/calendar/v3/calendars/primary/events/{event}")))
                .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
                .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                    "error": {"code": status, "message": "Resource has been deleted"},
                })))
                .expect(1)
                .mount(&server)
                .await;
        }
        let google = client(&server).await;

        // Act + Assert
        for event in ["evt1", "evt2", "evt3"] {
            google.delete_event(TOKEN, "primary", event).await.unwrap();
        }
    }

    #[tokio::test]
    async fn delete_event_reports_other_errors() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("DELETE"))
            .and(path("/calendar/v3/calendars/primary/events/evt1"))
            .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.delete_event(TOKEN, "primary", "evt1").await.unwrap_err();

        // Assert
        assert!(matches!(error, CalendarError::Api { status: 500, .. }));
    }
}
