//! Cal.com API v2: checking a business's API key, reading an event type's free slots, and
//! booking, moving and cancelling (issue 19). A thin typed client over the same
//! reqwest/rustls stack as the other clients; Cal.com has no maintained Rust SDK. The API key
//! is passed per call (each business has its own) and never appears in an error or a log.
//!
//! Each endpoint is versioned by a `cal-api-version` header; without the right value Cal.com
//! answers with an older version of the endpoint, so each request names its own.
//!
//! Reference pages:
//! - authentication and versions: <https://cal.com/docs/api-reference/v2/introduction>
//! - `GET /v2/me`: <https://cal.com/docs/api-reference/v2/me/get-my-profile>
//! - `GET /v2/slots`: <https://cal.com/docs/api-reference/v2/slots/get-available-time-slots-for-an-event-type>
//! - `POST /v2/bookings`: <https://cal.com/docs/api-reference/v2/bookings/create-a-booking>
//! - `POST /v2/bookings/{uid}/reschedule`: <https://cal.com/docs/api-reference/v2/bookings/reschedule-a-booking>
//! - `POST /v2/bookings/{uid}/cancel`: <https://cal.com/docs/api-reference/v2/bookings/cancel-a-booking>

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::http_client;

/// The `cal-api-version` of `GET /v2/slots` (the slots endpoint's current version).
pub const SLOTS_API_VERSION: &str = "2024-09-04";
/// The `cal-api-version` of the bookings endpoints (create, reschedule, cancel). Cal.com's
/// reference and its published booking recipes name 2026-02-25; 2024-08-13 is the previous
/// version with the same request shape.
pub const BOOKINGS_API_VERSION: &str = "2026-02-25";
/// Longest a slots lookup may take: it runs while a caller waits on the line.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a booking, move, cancellation or key check may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Fragments of Cal.com's messages for a time that can no longer be booked: someone took
/// it, the host became busy, or it fell outside the booking window. Cal.com answers these
/// with 400 and an error code or sentence, e.g. `no_available_users_found_error` or "User
/// either already has booking at this time or is not available".
const SLOT_GONE_MARKERS: &[&str] = &[
    "no_available_users_found",
    "already has booking",
    "already booked",
    "not available",
    "no longer available",
    "unavailable",
    "booking_time_out_of_bounds",
];

/// A failed Cal.com request. Its `Display` never includes the API key.
#[derive(Debug, thiserror::Error)]
pub enum CalComError {
    /// Cal.com refused the API key (401 or 403): it is wrong, revoked or expired.
    #[error("Cal.com refused the API key; check it in Cal.com's settings (Developer > API keys)")]
    BadKey,
    /// The booking or event type does not exist for this key (404).
    #[error("Cal.com: not found ({message})")]
    NotFound { message: String },
    /// The time can no longer be booked (taken meanwhile, or no longer available): offer
    /// fresh times. `message` is Cal.com's own.
    #[error("Cal.com: that time can no longer be booked ({message})")]
    SlotTaken { message: String },
    /// Cal.com answered with another error; `message` is Cal.com's own.
    #[error("Cal.com error ({status}): {message}")]
    Api { status: u16, message: String },
    /// Cal.com could not be reached in time, or answered something unreadable.
    #[error("Cal.com request failed: {0:#}")]
    Transport(anyhow::Error),
}

impl CalComError {
    /// Whether the request timed out or could not reach Cal.com.
    pub fn is_transport(&self) -> bool {
        matches!(self, CalComError::Transport(_))
    }

    /// Whether a cancellation failed only because there is nothing left to cancel: the
    /// booking is unknown (404), or Cal.com says it is cancelled already (a 400 "Can't cancel
    /// booking with uid=... because it has been cancelled already", also after a reschedule).
    pub fn is_already_cancelled(&self) -> bool {
        match self {
            CalComError::NotFound { .. } => true,
            CalComError::Api { status: 400 | 409, message } => {
                let message = message.to_lowercase();
                message.contains("cancelled already")
                    || message.contains("already cancelled")
                    || message.contains("canceled already")
                    || message.contains("already canceled")
            }
            _ => false,
        }
    }
}

/// Who an appointment is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// The caller's name.
    pub name: String,
    /// The caller's phone number, E.164.
    pub phone_number: String,
    /// The business's IANA time zone (Cal.com writes its confirmations in it).
    pub time_zone: String,
    /// The caller's email, when known; Cal.com event types that require one refuse a
    /// booking without it.
    pub email: Option<String>,
}

/// The Cal.com client.
#[derive(Debug, Clone)]
pub struct CalCom {
    http: reqwest::Client,
    base_url: String,
    lookup_timeout: Duration,
}

/// `{"status": "success", "data": ...}`.
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

/// `{"start": "2026-12-08T09:00:00.000+00:00"}` (more fields with `format=range`).
#[derive(Deserialize)]
struct Slot {
    start: DateTime<chrono::FixedOffset>,
}

/// A booking (only what we use).
#[derive(Deserialize)]
struct Booking {
    uid: String,
}

/// Cal.com's error body: `{"status": "error", "error": {"code": "...", "message": "..."}}`;
/// some answers put `message` at the top level.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<ErrorDetail>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

impl CalCom {
    /// A client of the API at `base_url` (`https://api.cal.com`, or a mock server).
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: http_client(WRITE_TIMEOUT)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            lookup_timeout: LOOKUP_TIMEOUT,
        })
    }

    /// The same client with another limit for slots lookups than [`LOOKUP_TIMEOUT`].
    pub fn with_lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// `{base}/v2/` followed by `segments`, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, CalComError> {
        super::url_with_segments(&format!("{}/v2", self.base_url), segments)
            .map_err(|e| CalComError::Transport(anyhow::anyhow!("Cal.com: {e}")))
    }

    /// Sends `request` with the key and reads the JSON answer.
    async fn send<T: DeserializeOwned>(&self, key: &str, request: reqwest::RequestBuilder) -> Result<T, CalComError> {
        let started = Instant::now();
        let result = async {
            let response =
                request.bearer_auth(key).send().await.map_err(|e| CalComError::Transport(e.without_url().into()))?;
            read_answer(response, key).await
        }
        .await;
        crate::telemetry::record_external("calcom", started, result.is_ok());
        result
    }

    /// Checks `key` against Cal.com (`GET /v2/me`): `Ok` when Cal.com accepts it,
    /// [`CalComError::BadKey`] when it refuses it.
    #[tracing::instrument(skip_all)]
    pub async fn check_key(&self, key: &str) -> Result<(), CalComError> {
        let url = self.url(&["me"])?;
        let _: serde_json::Value = self.send(key, self.http.get(url)).await?;
        Ok(())
    }

    /// The start times free for event type `event_type_id` between `start` and `end`,
    /// computed by Cal.com in `time_zone`, sorted.
    #[tracing::instrument(skip_all, fields(event_type.id = event_type_id))]
    pub async fn slots(
        &self,
        key: &str,
        event_type_id: i64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<Vec<DateTime<Utc>>, CalComError> {
        let url = self.url(&["slots"])?;
        let query = [
            ("eventTypeId", event_type_id.to_string()),
            ("start", rfc3339(start)),
            ("end", rfc3339(end)),
            ("timeZone", time_zone.to_owned()),
        ];
        let request =
            self.http.get(url).query(&query).header("cal-api-version", SLOTS_API_VERSION).timeout(self.lookup_timeout);
        // `data` maps each day (`2026-12-08`) to its slots.
        let answer: Envelope<BTreeMap<String, Vec<Slot>>> = self.send(key, request).await?;
        let mut slots: Vec<DateTime<Utc>> =
            answer.data.into_values().flatten().map(|slot| slot.start.with_timezone(&Utc)).collect();
        slots.sort();
        slots.dedup();
        Ok(slots)
    }

    /// Books event type `event_type_id` at `start` for `attendee`; answers the booking's
    /// uid. A time gone meanwhile is [`CalComError::SlotTaken`].
    #[tracing::instrument(skip_all, fields(event_type.id = event_type_id))]
    pub async fn book(
        &self,
        key: &str,
        event_type_id: i64,
        start: DateTime<Utc>,
        attendee: &Attendee,
    ) -> Result<String, CalComError> {
        let mut person = json!({
            "name": attendee.name,
            "phoneNumber": attendee.phone_number,
            "timeZone": attendee.time_zone,
        });
        if let Some(email) = &attendee.email {
            person["email"] = json!(email);
        }
        let body = json!({ "start": rfc3339(start), "eventTypeId": event_type_id, "attendee": person });
        let url = self.url(&["bookings"])?;
        let request = self.http.post(url).header("cal-api-version", BOOKINGS_API_VERSION).json(&body);
        let booking: Envelope<Booking> = self.send(key, request).await?;
        Ok(booking.data.uid)
    }

    /// Moves booking `uid` to `new_start`; answers the uid to keep from now on. Cal.com
    /// moves a booking by cancelling it and creating a new one with its own uid (the old
    /// one points to it as `rescheduledToUid`), so the caller must store the answer.
    #[tracing::instrument(skip_all)]
    pub async fn reschedule(&self, key: &str, uid: &str, new_start: DateTime<Utc>) -> Result<String, CalComError> {
        let body = json!({ "start": rfc3339(new_start), "reschedulingReason": "Moved by phone" });
        let url = self.url(&["bookings", uid, "reschedule"])?;
        let request = self.http.post(url).header("cal-api-version", BOOKINGS_API_VERSION).json(&body);
        let booking: Envelope<Booking> = self.send(key, request).await?;
        Ok(booking.data.uid)
    }

    /// Cancels booking `uid`, telling Cal.com `reason`. A booking gone or cancelled already
    /// is an error for which [`CalComError::is_already_cancelled`] holds.
    #[tracing::instrument(skip_all)]
    pub async fn cancel(&self, key: &str, uid: &str, reason: &str) -> Result<(), CalComError> {
        let body = json!({ "cancellationReason": reason });
        let url = self.url(&["bookings", uid, "cancel"])?;
        let request = self.http.post(url).header("cal-api-version", BOOKINGS_API_VERSION).json(&body);
        let _: serde_json::Value = self.send(key, request).await?;
        Ok(())
    }
}

/// RFC 3339 in UTC with milliseconds and a `Z`, as Cal.com's examples write it.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The JSON of a 2xx answer, or the error Cal.com's status and message make. `key` is cut
/// out of any message, should Cal.com ever quote it.
async fn read_answer<T: DeserializeOwned>(response: reqwest::Response, key: &str) -> Result<T, CalComError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| CalComError::Transport(e.without_url().into()))?;
    if !status.is_success() {
        let message = error_message(&body).unwrap_or_else(|| format!("HTTP {status}"));
        let message = if key.is_empty() { message } else { message.replace(key, "[redacted]") };
        return Err(match status.as_u16() {
            401 | 403 => CalComError::BadKey,
            404 => CalComError::NotFound { message },
            400 | 409 if slot_gone(&message) => CalComError::SlotTaken { message },
            status => CalComError::Api { status, message },
        });
    }
    serde_json::from_slice(&body).map_err(|e| CalComError::Transport(anyhow::anyhow!("unreadable Cal.com answer: {e}")))
}

/// Cal.com's message (and code, when it has one) from an error body, cut to keep logs
/// readable.
fn error_message(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let (code, message) = match parsed.error {
        Some(detail) => (detail.code, detail.message.or(parsed.message)),
        None => (None, parsed.message),
    };
    // A validation failure's message may be a list of sentences.
    let message = match message? {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    let text = match code {
        Some(code) if !message.contains(&code) => format!("{code}: {message}"),
        _ => message,
    };
    Some(text.chars().take(500).collect())
}

/// Whether Cal.com's message says the time can no longer be booked.
fn slot_gone(message: &str) -> bool {
    let message = message.to_lowercase();
    SLOT_GONE_MARKERS.iter().any(|marker| message.contains(marker))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const KEY: &str = "cal_live_0123456789abcdef";

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 8, hour, minute, 0).unwrap()
    }

    fn ann() -> Attendee {
        Attendee {
            name: "Ann Smith".into(),
            phone_number: "+14155550123".into(),
            time_zone: "America/Los_Angeles".into(),
            email: None,
        }
    }

    async fn client(server: &MockServer) -> CalCom {
        CalCom::new(&server.uri()).unwrap()
    }

    #[tokio::test]
    async fn check_key_accepts_a_key_cal_com_knows() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/me"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "status": "success",
                "data": {"id": 123, "username": "annsalon", "email": "owner@example.com", "timeZone": "America/Los_Angeles"},
            })))
            .expect(1)
            .mount(&server)
            .await;

        // Act + Assert
        client(&server).await.check_key(KEY).await.unwrap();
    }

    #[tokio::test]
    async fn check_key_reports_a_refused_key_as_bad_key_without_showing_it() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/me"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "status": "error",
                "error": {"code": "UnauthorizedException", "message": format!("Invalid API key {KEY}")},
            })))
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.check_key(KEY).await.unwrap_err();

        // Assert
        assert!(matches!(error, CalComError::BadKey));
        assert!(!error.to_string().contains(KEY));
        assert!(!format!("{error:?}").contains(KEY));
    }

    #[tokio::test]
    async fn slots_asks_for_the_event_type_in_the_business_time_zone_and_reads_every_day() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/slots"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("cal-api-version", "2024-09-04"))
            .and(query_param("eventTypeId", "1234"))
            .and(query_param("start", "2026-12-08T00:00:00.000Z"))
            .and(query_param("end", "2026-12-10T00:00:00.000Z"))
            .and(query_param("timeZone", "America/Los_Angeles"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "status": "success",
                "data": {
                    "2026-12-09": [{"start": "2026-12-09T09:00:00.000-08:00"}],
                    "2026-12-08": [
                        {"start": "2026-12-08T09:00:00.000-08:00"},
                        {"start": "2026-12-08T09:30:00.000-08:00"},
                    ],
                },
            })))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let slots = client(&server)
            .await
            .slots(KEY, 1234, at(0, 0), at(0, 0) + chrono::Duration::days(2), "America/Los_Angeles")
            .await
            .unwrap();

        // Assert: in UTC, sorted across days.
        let next_day = Utc.with_ymd_and_hms(2026, 12, 9, 17, 0, 0).unwrap();
        assert_eq!(slots, vec![at(17, 0), at(17, 30), next_day]);
    }

    #[tokio::test]
    async fn a_slow_slots_lookup_times_out_as_a_transport_error() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/slots"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_delay(Duration::from_secs(2))
                    .set_body_json(json!({"status": "success", "data": {}})),
            )
            .mount(&server)
            .await;
        let cal = client(&server).await.with_lookup_timeout(Duration::from_millis(100));

        // Act
        let error = cal.slots(KEY, 1, at(0, 0), at(23, 0), "UTC").await.unwrap_err();

        // Assert
        assert!(error.is_transport(), "{error}");
    }

    #[tokio::test]
    async fn book_sends_the_attendee_and_answers_the_booking_uid() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("cal-api-version", BOOKINGS_API_VERSION))
            .and(body_json(json!({
                "start": "2026-12-08T17:00:00.000Z",
                "eventTypeId": 1234,
                "attendee": {"name": "Ann Smith", "phoneNumber": "+14155550123", "timeZone": "America/Los_Angeles"},
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "status": "success",
                "data": {
                    "id": 987,
                    "uid": "bk_3f9a1c",
                    "title": "Haircut between Ann's Salon and Ann Smith",
                    "status": "accepted",
                    "start": "2026-12-08T17:00:00.000Z",
                    "end": "2026-12-08T17:30:00.000Z",
                    "duration": 30,
                    "eventTypeId": 1234,
                    "attendees": [{"name": "Ann Smith", "timeZone": "America/Los_Angeles", "phoneNumber": "+14155550123"}],
                },
            })))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let uid = client(&server).await.book(KEY, 1234, at(17, 0), &ann()).await.unwrap();

        // Assert
        assert_eq!(uid, "bk_3f9a1c");
    }

    #[tokio::test]
    async fn book_sends_the_email_when_there_is_one() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings"))
            .and(body_json(json!({
                "start": "2026-12-08T17:00:00.000Z",
                "eventTypeId": 1234,
                "attendee": {
                    "name": "Ann Smith",
                    "phoneNumber": "+14155550123",
                    "timeZone": "America/Los_Angeles",
                    "email": "ann@example.com",
                },
            })))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(json!({"status": "success", "data": {"uid": "bk_1"}})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let attendee = Attendee { email: Some("ann@example.com".into()), ..ann() };

        // Act + Assert
        assert_eq!(client(&server).await.book(KEY, 1234, at(17, 0), &attendee).await.unwrap(), "bk_1");
    }

    #[tokio::test]
    async fn a_time_taken_meanwhile_is_slot_taken() {
        // Arrange: both ways Cal.com words it.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error",
                "timestamp": "2026-12-07T13:50:00.000Z",
                "path": "/v2/bookings",
                "error": {
                    "code": "BadRequestException",
                    "message": "User either already has booking at this time or is not available",
                },
            })))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error",
                "error": {"code": "BadRequestException", "message": "no_available_users_found_error"},
            })))
            .mount(&server)
            .await;
        let cal = client(&server).await;

        // Act
        let first = cal.book(KEY, 1234, at(17, 0), &ann()).await.unwrap_err();
        let second = cal.book(KEY, 1234, at(17, 0), &ann()).await.unwrap_err();

        // Assert
        assert!(matches!(&first, CalComError::SlotTaken { message } if message.contains("already has booking")));
        assert!(matches!(&second, CalComError::SlotTaken { .. }), "{second}");
    }

    #[tokio::test]
    async fn another_bad_request_is_an_api_error_with_cal_com_s_message() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error",
                "error": {"code": "BadRequestException", "message": "Missing attendee email"},
            })))
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.book(KEY, 1234, at(17, 0), &ann()).await.unwrap_err();

        // Assert
        assert!(matches!(&error, CalComError::Api { status: 400, .. }));
        assert!(error.to_string().contains("Missing attendee email"), "{error}");
    }

    #[tokio::test]
    async fn reschedule_answers_the_new_booking_uid() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings/bk_3f9a1c/reschedule"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("cal-api-version", BOOKINGS_API_VERSION))
            .and(body_json(json!({"start": "2026-12-08T19:00:00.000Z", "reschedulingReason": "Moved by phone"})))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "status": "success",
                "data": {
                    "id": 988,
                    "uid": "bk_77e0d2",
                    "status": "accepted",
                    "start": "2026-12-08T19:00:00.000Z",
                    "rescheduledFromUid": "bk_3f9a1c",
                },
            })))
            .expect(1)
            .mount(&server)
            .await;

        // Act
        let uid = client(&server).await.reschedule(KEY, "bk_3f9a1c", at(19, 0)).await.unwrap();

        // Assert
        assert_eq!(uid, "bk_77e0d2");
    }

    #[tokio::test]
    async fn cancel_sends_the_reason() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings/bk_3f9a1c/cancel"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("cal-api-version", BOOKINGS_API_VERSION))
            .and(body_json(json!({"cancellationReason": "Cancelled by the caller"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "status": "success",
                "data": {"id": 987, "uid": "bk_3f9a1c", "status": "cancelled"},
            })))
            .expect(1)
            .mount(&server)
            .await;

        // Act + Assert
        client(&server).await.cancel(KEY, "bk_3f9a1c", "Cancelled by the caller").await.unwrap();
    }

    #[tokio::test]
    async fn a_missing_booking_is_not_found() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings/nope/cancel"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({
                "status": "error",
                "error": {"code": "NotFoundException", "message": "Booking with uid=nope was not found in the database"},
            })))
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.cancel(KEY, "nope", "x").await.unwrap_err();

        // Assert
        assert!(matches!(error, CalComError::NotFound { .. }));
    }

    #[tokio::test]
    async fn a_booking_cancelled_already_is_told_apart_from_other_refusals() {
        // Arrange: Cal.com's wording for a booking cancelled earlier (by hand, or by a move).
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings/bk_done/cancel"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error",
                "error": {"code": "BadRequestException",
                          "message": "Can't cancel booking with uid=bk_done because it has been cancelled already."},
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings/bk_other/cancel"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "status": "error",
                "error": {"code": "BadRequestException", "message": "Cancellation reason is required"},
            })))
            .mount(&server)
            .await;
        let cal = client(&server).await;

        // Act
        let done = cal.cancel(KEY, "bk_done", "x").await.unwrap_err();
        let other = cal.cancel(KEY, "bk_other", "x").await.unwrap_err();
        let missing = CalComError::NotFound { message: "Booking with uid=nope was not found".into() };

        // Assert
        assert!(done.is_already_cancelled(), "{done}");
        assert!(missing.is_already_cancelled());
        assert!(!other.is_already_cancelled(), "{other}");
        assert!(!CalComError::Api { status: 500, message: "cancelled already".into() }.is_already_cancelled());
    }

    #[tokio::test]
    async fn an_error_never_shows_the_key_even_when_cal_com_quotes_it() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/bookings"))
            .respond_with(ResponseTemplate::new(500).set_body_json(json!({
                "status": "error",
                "error": {"code": "InternalServerErrorException", "message": format!("failed for key {KEY}")},
            })))
            .mount(&server)
            .await;

        // Act
        let error = client(&server).await.book(KEY, 1234, at(17, 0), &ann()).await.unwrap_err();

        // Assert
        assert!(matches!(&error, CalComError::Api { status: 500, .. }));
        assert!(!error.to_string().contains(KEY), "{error}");
        assert!(!format!("{error:?}").contains(KEY));
    }
}
