//! Connected calendars (issue 19): connecting Google end to end against a mock Google,
//! choosing calendars, disconnecting, the admin's list, and connecting Cal.com against a
//! mock Cal.com.

use axum::http::{Method, StatusCode, header};
use base64::Engine;
use chrono::Utc;
use deskringer::auth::{Role, oauth_state};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{CapturedLogs, Mocks, TestApp, TestResponse, keys};

const REFRESH_TOKEN: &str = "1//refresh-token-PLAINTEXT";
pub(crate) const ACCESS_TOKEN: &str = "ya29.access-token-PLAINTEXT";
const CLIENT_ID: &str = "client-id.apps.googleusercontent.com";
const PORTAL: &str = "https://portal.deskringer.test";

/// A business, its token, and a mock Google.
pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) google: MockServer,
    pub(crate) business: i64,
    pub(crate) token: String,
}

fn token_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

pub(crate) async fn setup_with(extra: &[(&str, &str)]) -> Setup {
    let google = MockServer::start().await;
    let mocks = Mocks::start().await;
    let key = token_key();
    let mut vars = vec![
        ("GOOGLE_CLIENT_ID", CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", "client-secret"),
        ("CALENDAR_TOKEN_KEY", key.as_str()),
    ];
    let uri = google.uri();
    for name in ["GOOGLE_OAUTH_URL", "GOOGLE_TOKEN_URL", "GOOGLE_CALENDAR_API_URL"] {
        vars.push((name, uri.as_str()));
    }
    vars.extend_from_slice(extra);
    let app = TestApp::spawn_with(mocks.config(false, false, &vars)).await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let token = app.token(Role::Customer, business);
    Setup { app, google, business, token }
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

/// Google's token endpoint answering a code exchange.
pub(crate) async fn mock_code_exchange(google: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains("client_secret=client-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "expires_in": 3599,
            "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/calendar.events"
        })))
        .mount(google)
        .await;
}

/// Google's token endpoint refreshing, and the calendar list.
pub(crate) async fn mock_calendar_list(google: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=1%2F%2Frefresh-token-PLAINTEXT"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"access_token": ACCESS_TOKEN, "expires_in": 3599})),
        )
        .mount(google)
        .await;
    Mock::given(method("GET"))
        .and(path("/calendar/v3/users/me/calendarList"))
        .and(has_header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [
            {"id": "owner@bella.test", "summary": "Bella", "primary": true, "accessRole": "owner"},
            {"id": "staff@group.calendar.google.com", "summary": "Staff rota", "accessRole": "writer"},
            {"id": "holidays@group.v.calendar.google.com", "summary": "Holidays", "accessRole": "reader"}
        ]})))
        .mount(google)
        .await;
}

impl Setup {
    /// The state the connect route signs, from its authorize URL.
    async fn connect_state(&self) -> (reqwest::Url, String) {
        self.connect_state_from("/api/portal/calendar/google/connect").await
    }

    /// [`Self::connect_state`], asked at `uri` (the connect route with a query).
    async fn connect_state_from(&self, uri: &str) -> (reqwest::Url, String) {
        let response = self.app.get(uri, &self.token).await;
        let body = response.assert_ok(StatusCode::OK);
        assert_eq!(keys(body), ["authorize_url"]);
        let url = reqwest::Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
        let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        (url, state)
    }

    async fn callback(&self, query: &str) -> TestResponse {
        self.app.call(Method::GET, &format!("/api/calendar/google/callback?{query}"), None, None).await
    }

    async fn stored_secret(&self) -> Option<Vec<u8>> {
        sqlx::query_scalar("SELECT secret FROM calendar_connections WHERE customer_id = $1")
            .bind(self.business)
            .fetch_optional(&self.app.db)
            .await
            .unwrap()
    }

    /// Connects through the real flow.
    async fn connect(&self) {
        mock_code_exchange(&self.google).await;
        let (_, state) = self.connect_state().await;
        let response = self.callback(&format!("code=the-code&state={}", urlencode(&state))).await;
        assert_eq!(response.status, StatusCode::FOUND, "{}", response.text);
    }
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn location(response: &TestResponse) -> &str {
    assert_eq!(response.status, StatusCode::FOUND, "{}", response.text);
    response.headers[header::LOCATION].to_str().unwrap()
}

fn assert_no_token(response: &TestResponse) {
    for secret in [REFRESH_TOKEN, ACCESS_TOKEN, "PLAINTEXT", "client-secret"] {
        assert!(!response.text.contains(secret), "{secret} in {}", response.text);
        let headers = format!("{:?}", response.headers);
        assert!(!headers.contains(secret), "{secret} in {headers}");
    }
}

#[tokio::test]
async fn connecting_google_stores_a_sealed_refresh_token_and_returns_to_the_portal() {
    // Arrange
    let s = setup().await;
    mock_code_exchange(&s.google).await;
    let before = s.app.get("/api/portal/calendar", &s.token).await;
    assert_eq!(before.assert_ok(StatusCode::OK), &json!({"provider": null, "status": "not_connected"}));

    // Act: the portal asks for the consent URL; Google sends the business back.
    let (url, state) = s.connect_state().await;
    let callback = s.callback(&format!("code=the-code&state={}", urlencode(&state))).await;

    // Assert: the consent URL asks for exactly what the receptionist needs.
    assert_eq!(
        format!("{}{}", url.origin().ascii_serialization(), url.path()),
        format!("{}/o/oauth2/v2/auth", s.google.uri())
    );
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], "https://deskringer.test/api/calendar/google/callback");
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    let mut scopes: Vec<&str> = params["scope"].split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/calendar.events.freebusy",
        ]
    );
    assert_eq!(location(&callback), format!("{PORTAL}?calendar=connected"));
    assert_no_token(&callback);
    let secret = s.stored_secret().await.expect("the connection is stored");
    assert!(!secret.windows(REFRESH_TOKEN.len()).any(|w| w == REFRESH_TOKEN.as_bytes()), "stored in plaintext");
    let key = deskringer::secrets::SecretKey::from_bytes(&[7u8; 32]).unwrap();
    assert_eq!(key.open_string(&secret).unwrap(), REFRESH_TOKEN);
    let after = s.app.get("/api/portal/calendar", &s.token).await;
    assert_eq!(
        after.assert_ok(StatusCode::OK),
        &json!({"provider": "google", "status": "connected",
                "calendars": {"write_calendar_id": "primary", "busy_calendar_ids": ["primary"]}})
    );
}

#[tokio::test]
async fn a_bad_expired_or_replayed_state_is_refused_and_nothing_is_stored() {
    // Arrange
    let s = setup().await;
    mock_code_exchange(&s.google).await;
    let secret = s.app.state.config.jwt_secret_bytes();
    let expired = oauth_state::sign(secret, s.business, Utc::now() - chrono::Duration::seconds(1));
    let foreign = oauth_state::sign(
        b"another-server-secret-another-server",
        s.business,
        Utc::now() + oauth_state::STATE_LIFETIME,
    );
    let (_, good) = s.connect_state().await;
    let tampered = good.replacen(&format!("{}.", s.business), &format!("{}.", s.business + 1), 1);

    // Act + Assert: none of these stores anything.
    for state in ["", "garbage", expired.as_str(), foreign.as_str(), tampered.as_str()] {
        let response = s.callback(&format!("code=the-code&state={}", urlencode(state))).await;
        assert_eq!(location(&response), format!("{PORTAL}?calendar=error&reason=invalid_state"), "{state}");
    }
    let response = s.callback("code=the-code").await;
    assert_eq!(location(&response), format!("{PORTAL}?calendar=error&reason=invalid_state"));
    assert_eq!(s.app.count("calendar_connections").await, 0);

    // A good state works once; its replay is refused even after the business disconnects.
    let first = s.callback(&format!("code=the-code&state={}", urlencode(&good))).await;
    assert_eq!(location(&first), format!("{PORTAL}?calendar=connected"));
    sqlx::query("DELETE FROM calendar_connections").execute(&s.app.db).await.unwrap();
    let replay = s.callback(&format!("code=the-code&state={}", urlencode(&good))).await;
    assert_eq!(location(&replay), format!("{PORTAL}?calendar=error&reason=invalid_state"));
    assert_eq!(s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn a_refusal_at_google_or_a_failed_exchange_stores_nothing() {
    let s = setup().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&s.google)
        .await;

    let (_, state) = s.connect_state().await;
    let denied = s.callback(&format!("error=access_denied&state={}", urlencode(&state))).await;
    assert_eq!(location(&denied), format!("{PORTAL}?calendar=error&reason=denied"));
    let (_, state) = s.connect_state().await;
    let failed = s.callback(&format!("code=the-code&state={}", urlencode(&state))).await;
    assert_eq!(location(&failed), format!("{PORTAL}?calendar=error&reason=google_error"));
    assert_eq!(s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn connecting_from_the_web_app_returns_there_with_the_outcome() {
    // Arrange
    let s = setup().await;
    mock_code_exchange(&s.google).await;
    let app_url = |outcome: &str| format!("https://deskringer.test/app/?{outcome}#/appointments");
    let from_app = "/api/portal/calendar/google/connect?return_to=app";

    // Act: the web app asks for the consent URL; Google sends the business back.
    let (url, state) = s.connect_state_from(from_app).await;
    let callback = s.callback(&format!("code=the-code&state={}", urlencode(&state))).await;

    // Assert: back in the web app, connected; Google was sent the same redirect URI.
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["redirect_uri"], "https://deskringer.test/api/calendar/google/callback");
    assert_eq!(location(&callback), app_url("calendar=connected"));
    assert_no_token(&callback);
    assert!(s.stored_secret().await.is_some());

    // A refusal, and a replay, go back to the web app too, with the reason.
    let (_, state) = s.connect_state_from(from_app).await;
    let denied = s.callback(&format!("error=access_denied&state={}", urlencode(&state))).await;
    assert_eq!(location(&denied), app_url("calendar=error&reason=denied"));
    let replay = s.callback(&format!("code=the-code&state={}", urlencode(&state))).await;
    assert_eq!(location(&replay), app_url("calendar=error&reason=invalid_state"));
    // A state that is not good names no place: the portal, as before.
    let forged = state.replacen(".app.", ".", 1);
    let response = s.callback(&format!("code=the-code&state={}", urlencode(&forged))).await;
    assert_eq!(location(&response), format!("{PORTAL}?calendar=error&reason=invalid_state"));
    // Without return_to, the portal.
    let (_, state) = s.connect_state().await;
    let portal = s.callback(&format!("code=the-code&state={}", urlencode(&state))).await;
    assert_eq!(location(&portal), format!("{PORTAL}?calendar=connected"));
}

#[tokio::test]
async fn a_return_to_other_than_app_is_a_422_naming_it() {
    let s = setup().await;
    for value in ["https%3A%2F%2Fevil.test%2F", "portal", "APP", ""] {
        let response = s.app.get(&format!("/api/portal/calendar/google/connect?return_to={value}"), &s.token).await;
        let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.contains("return_to"), "{value}: {message}");
        assert!(!response.text.contains("authorize_url"), "{}", response.text);
    }
    // A web app client can still connect without it.
    s.app.get("/api/portal/calendar/google/connect", &s.token).await.assert_ok(StatusCode::OK);
}

#[tokio::test]
async fn without_a_portal_url_the_callback_answers_json() {
    let s = setup_with(&[("PORTAL_URL", "")]).await;
    mock_code_exchange(&s.google).await;
    let (_, state) = s.connect_state().await;
    let ok = s.callback(&format!("code=the-code&state={}", urlencode(&state))).await;
    assert_eq!(ok.assert_ok(StatusCode::OK), &json!({"calendar": "connected"}));
    let bad = s.callback("code=the-code&state=x").await;
    assert_eq!(bad.assert_ok(StatusCode::BAD_REQUEST), &json!({"calendar": "error", "reason": "invalid_state"}));
}

#[tokio::test]
async fn connecting_without_google_settings_or_a_token_key_answers_503_naming_them() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let message = app
        .get("/api/portal/calendar/google/connect", &app.token(Role::Customer, business))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE)
        .to_owned();
    assert!(message.contains("CALENDAR_TOKEN_KEY"), "{message}");

    let key = token_key();
    let app = TestApp::spawn_with(mocks.config(false, false, &[("CALENDAR_TOKEN_KEY", key.as_str())])).await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let response = app.get("/api/portal/calendar/google/connect", &app.token(Role::Customer, business)).await;
    let message = response.assert_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(message.contains("GOOGLE_CLIENT_ID"), "{message}");
}

#[tokio::test]
async fn the_accounts_calendars_are_listed_with_a_refreshed_access_token() {
    let s = setup().await;
    s.connect().await;
    mock_calendar_list(&s.google).await;

    let response = s.app.get("/api/portal/calendar/google/calendars", &s.token).await;

    assert_eq!(
        response.assert_ok(StatusCode::OK),
        &json!({"calendars": [
            {"id": "owner@bella.test", "summary": "Bella", "primary": true},
            {"id": "staff@group.calendar.google.com", "summary": "Staff rota", "primary": false},
            {"id": "holidays@group.v.calendar.google.com", "summary": "Holidays", "primary": false}
        ]})
    );
    assert_no_token(&response);
}

#[tokio::test]
async fn a_refused_refresh_token_marks_the_connection_for_reconnecting() {
    let mail = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(body_string_contains("needs connecting again"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&mail)
        .await;
    let mail_uri = mail.uri();
    let s = setup_with(&[("SENDGRID_API_KEY", "SG.test"), ("SENDGRID_API_BASE_URL", mail_uri.as_str())]).await;
    s.connect().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        ))
        .mount(&s.google)
        .await;

    let response = s.app.get("/api/portal/calendar/google/calendars", &s.token).await;

    let message = response.assert_error(StatusCode::CONFLICT);
    assert!(message.contains("connect it again"), "{message}");
    let connection = s.app.get("/api/portal/calendar", &s.token).await;
    let body = connection.assert_ok(StatusCode::OK);
    assert_eq!(body["status"], "needs_reconnect");
    assert!(body["error"].as_str().unwrap().contains("connect the calendar again"), "{body}");
    assert!(body["error_at"].is_string(), "{body}");

    // The owner is emailed once, however often Google refuses, and the checklist asks.
    s.app.run_jobs().await;
    s.app.get("/api/portal/calendar/google/calendars", &s.token).await.assert_error(StatusCode::CONFLICT);
    s.app.run_jobs().await;
    let emailed: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT reconnect_emailed_at FROM calendar_connections WHERE customer_id = $1")
            .bind(s.business)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert!(emailed.is_some());
    let second: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT reconnect_emailed_at FROM calendar_connections WHERE customer_id = $1")
            .bind(s.business)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(second, emailed, "one email per lapse");
    let steps = s.app.get("/api/portal/onboarding", &s.token).await;
    let calendar = steps.body["steps"].as_array().unwrap().iter().find(|step| step["key"] == "calendar").cloned();
    let calendar = calendar.expect("a calendar step");
    assert_eq!(calendar["done"], false);
    assert!(calendar["missing"].as_str().unwrap().contains("connect your calendar again"), "{calendar}");
}

#[tokio::test]
async fn the_calendars_chosen_must_be_the_accounts_own() {
    let s = setup().await;
    assert_eq!(
        s.app
            .put("/api/portal/calendar", &s.token, json!({"write_calendar_id": "primary"}))
            .await
            .assert_error(StatusCode::NOT_FOUND),
        "no Google calendar is connected"
    );
    s.connect().await;
    mock_calendar_list(&s.google).await;

    let unknown = s.app.put("/api/portal/calendar", &s.token, json!({"write_calendar_id": "someone@else.test"})).await;
    assert_eq!(
        unknown.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
        "write_calendar_id: `someone@else.test` is not one of this Google account's calendars"
    );
    let unknown = s.app.put("/api/portal/calendar", &s.token, json!({"busy_calendar_ids": ["primary", "nope"]})).await;
    assert!(unknown.assert_error(StatusCode::UNPROCESSABLE_ENTITY).starts_with("busy_calendar_ids: `nope`"));
    let read_only = s
        .app
        .put("/api/portal/calendar", &s.token, json!({"write_calendar_id": "holidays@group.v.calendar.google.com"}))
        .await;
    assert!(read_only.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("read-only"), "{}", read_only.text);
    let empty = s.app.put("/api/portal/calendar", &s.token, json!({"busy_calendar_ids": []})).await;
    assert!(empty.assert_error(StatusCode::UNPROCESSABLE_ENTITY).starts_with("busy_calendar_ids"));

    let chosen = s
        .app
        .put(
            "/api/portal/calendar",
            &s.token,
            json!({"write_calendar_id": "staff@group.calendar.google.com",
                   "busy_calendar_ids": ["primary", "staff@group.calendar.google.com", "primary", "holidays@group.v.calendar.google.com"]}),
        )
        .await;
    assert_eq!(
        chosen.assert_ok(StatusCode::OK)["calendars"],
        json!({"write_calendar_id": "staff@group.calendar.google.com",
               "busy_calendar_ids": ["primary", "staff@group.calendar.google.com", "holidays@group.v.calendar.google.com"]})
    );
    let shown = s.app.get("/api/portal/calendar", &s.token).await;
    assert_eq!(shown.body["calendars"], chosen.body["calendars"]);
    assert_no_token(&chosen);
}

#[tokio::test]
async fn disconnecting_revokes_at_google_and_forgets_the_token() {
    let s = setup().await;
    s.connect().await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(body_string_contains("token=1%2F%2Frefresh-token-PLAINTEXT"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&s.google)
        .await;

    let response = s.app.delete("/api/portal/calendar", &s.token).await;

    assert_eq!(response.assert_ok(StatusCode::OK), &json!({"message": "the calendar is disconnected"}));
    assert_eq!(s.app.count("calendar_connections").await, 0);
    s.google.verify().await;
    s.app.delete("/api/portal/calendar", &s.token).await.assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_failed_revocation_still_forgets_and_says_so() {
    let s = setup().await;
    s.connect().await;
    Mock::given(method("POST")).and(path("/revoke")).respond_with(ResponseTemplate::new(503)).mount(&s.google).await;

    let response = s.app.delete("/api/portal/calendar", &s.token).await;

    let message = response.assert_ok(StatusCode::OK)["message"].as_str().unwrap();
    assert!(message.contains("Google could not be told"), "{message}");
    assert_eq!(s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn the_admin_lists_every_connection_and_only_the_admin_may() {
    let s = setup().await;
    s.connect().await;
    let admin = s.app.admin_token().await;

    let response = s.app.get("/api/admin/calendar-connections", &admin).await;

    let body: &Value = response.assert_ok(StatusCode::OK);
    assert_eq!(
        body,
        &json!({"connections": [{"customer_id": s.business, "business_name": "Bella Hair", "provider": "google",
                                 "status": "connected", "last_error": null, "last_error_at": null, "pending_writes": 0}]})
    );
    assert_no_token(&response);
    s.app.get("/api/admin/calendar-connections", &s.token).await.assert_error(StatusCode::FORBIDDEN);
    s.app.call(Method::GET, "/api/admin/calendar-connections", None, None).await.assert_error(StatusCode::UNAUTHORIZED);
    for (method, uri) in [
        (Method::GET, "/api/portal/calendar"),
        (Method::GET, "/api/portal/calendar/google/connect"),
        (Method::GET, "/api/portal/calendar/google/calendars"),
        (Method::DELETE, "/api/portal/calendar"),
    ] {
        s.app.call(method.clone(), uri, Some(&admin), None).await.assert_error(StatusCode::FORBIDDEN);
        s.app.call(method, uri, None, None).await.assert_error(StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn production_refuses_to_start_without_the_key_once_a_calendar_is_connected() {
    // Arrange: a connected calendar, then a production start without CALENDAR_TOKEN_KEY.
    let s = setup().await;
    s.connect().await;
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_deskringer"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_ENV", "production")
        .env("DATABASE_URL", s.app.database_url())
        .env("JWT_SECRET_KEY", "a-production-secret-of-at-least-32-bytes")
        .env("API_BASE_URL", "https://api.deskringer.test")
        .env("TWILIO_AUTH_TOKEN", "twilio-token")
        .env("METRICS_TOKEN", "metrics-token")
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");

    // Act: it must stop by itself (a server that starts is killed and fails the test).
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the server started without CALENDAR_TOKEN_KEY");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    // Assert
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!status.success());
    assert!(stderr.contains("CALENDAR_TOKEN_KEY"), "{stderr}");
}

/// The business books (every day 09:00-17:00 in New York, a 60-minute service), has a
/// number, and its Google Calendar is connected with `primary` as the busy calendar.
async fn booking_with_google(setup: &Setup) {
    takes_bookings(setup).await;
    let key = setup.app.state.config.calendar.token_key.clone().unwrap();
    sqlx::query(
        "INSERT INTO calendar_connections (customer_id, provider, status, secret, write_calendar_id, busy_calendar_ids) \
         VALUES ($1, 'google', 'connected', $2, 'primary', '[\"primary\"]')",
    )
    .bind(setup.business)
    .bind(key.seal(REFRESH_TOKEN.as_bytes()).unwrap())
    .execute(&setup.app.db)
    .await
    .unwrap();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"access_token": ACCESS_TOKEN, "expires_in": 3599})),
        )
        .mount(&setup.google)
        .await;
}

/// The business books every day 09:00-17:00 in New York (a 60-minute service) and has a
/// number.
pub(crate) async fn takes_bookings(setup: &Setup) {
    let every_day: serde_json::Map<String, Value> =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            .iter()
            .map(|day| (day.to_string(), json!({"open": "09:00", "close": "17:00"})))
            .collect();
    sqlx::query(
        "UPDATE customers SET appointment_handling = 'book', timezone = 'America/New_York', \
         deskringer_number = '+14155550111', business_hours = $2::json, \
         booking = '{\"services\": [{\"name\": \"Haircut\", \"minutes\": 60}]}' WHERE id = $1",
    )
    .bind(setup.business)
    .bind(Value::Object(every_day).to_string())
    .execute(&setup.app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn google_busy_times_are_not_offered_and_an_unreachable_calendar_books_nothing_blind() {
    let setup = setup().await;
    booking_with_google(&setup).await;
    let zone = chrono_tz::America::New_York;
    let day = Utc::now().with_timezone(&zone).date_naive() + chrono::Days::new(2);
    let at = |hour: u32| {
        use chrono::TimeZone;
        zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap()).unwrap().with_timezone(&Utc)
    };
    // Google says 10:00-12:00 is busy (the owner's own event), read live with the token.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .and(has_header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#freeBusy",
            "calendars": {"primary": {"busy": [{"start": at(10).to_rfc3339(), "end": at(12).to_rfc3339()}]}}
        })))
        .up_to_n_times(2)
        .mount(&setup.google)
        .await;

    let response = setup.app.get(&format!("/api/portal/availability?service=Haircut&date={day}"), &setup.token).await;
    let starts: Vec<chrono::DateTime<Utc>> = response.assert_ok(StatusCode::OK)["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["start"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(starts.contains(&at(9)) && starts.contains(&at(12)), "{starts:?}");
    assert!(starts.iter().all(|start| *start + chrono::Duration::hours(1) <= at(10) || *start >= at(12)), "{starts:?}");
    // Booking into the busy time is refused too (the re-check reads Google again).
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T10:30"), "caller_name": "Ana"});
    let refused = setup.app.post("/api/portal/appointments", &setup.token, body).await;
    assert!(refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("closed"), "{}", refused.text);

    // Then Google fails: the receptionist confirms no time, takes details, and says why.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"code": 500, "message": "backend"}})))
        .mount(&setup.google)
        .await;
    setup
        .app
        .twilio(
            "/api/webhooks/twilio/voice",
            &[("CallSid", "CA_gcal"), ("From", "+14155550199"), ("To", "+14155550111")],
        )
        .await;
    let call_id: i64 = sqlx::query_scalar("SELECT id FROM calls WHERE twilio_call_sid = 'CA_gcal'")
        .fetch_one(&setup.app.db)
        .await
        .unwrap();
    let customer = deskringer::db::customers::find(&setup.app.db, setup.business).await.unwrap().unwrap();
    let desk = deskringer::receptionist::tools::CallDesk {
        db: setup.app.db.clone(),
        customer,
        call_id,
        caller: Some("+14155550199".into()),
        notify: deskringer::http::webhooks::twilio::call_notices(),
        outside: deskringer::http::outside_calendar::for_business(&setup.app.state, setup.business).await.unwrap(),
        channel: deskringer::db::calls::Channel::Voice,
        texter: deskringer::http::webhooks::twilio::texter(&setup.app.state),
    };
    let call = deskringer::clients::ToolCall {
        id: "c".into(),
        name: "check_availability".into(),
        arguments: json!({"service": "Haircut", "date": day.to_string()}).to_string(),
    };
    let answer: Value = serde_json::from_str(&desk.run(&call, Utc::now()).await.output).unwrap();
    assert!(answer["error"].as_str().unwrap().contains("no time can be confirmed"), "{answer}");
    assert!(answer.get("slots").is_none());
    let lines: Vec<String> = sqlx::query_scalar("SELECT message FROM call_logs WHERE call_id = $1")
        .bind(call_id)
        .fetch_all(&setup.app.db)
        .await
        .unwrap();
    assert!(lines.iter().any(|line| line.starts_with("[No time could be confirmed")), "{lines:?}");
    assert!(lines.iter().all(|line| !line.contains(ACCESS_TOKEN) && !line.contains(REFRESH_TOKEN)));
    // The portal says so too, as a 502 that names the calendar.
    let response = setup.app.get(&format!("/api/portal/availability?service=Haircut&date={day}"), &setup.token).await;
    assert!(response.assert_error(StatusCode::BAD_GATEWAY).contains("calendar"), "{}", response.text);
    assert_eq!(setup.app.count("appointments").await, 0);
}

#[tokio::test]
async fn bookings_moves_and_cancellations_are_written_to_google_and_a_failed_write_is_retried() {
    let setup = setup().await;
    booking_with_google(&setup).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"calendars": {"primary": {"busy": []}}})))
        .mount(&setup.google)
        .await;
    // The first write fails (Google 500), the retry succeeds.
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/primary/events"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"code": 500, "message": "backend"}})))
        .up_to_n_times(1)
        .mount(&setup.google)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/primary/events"))
        .and(has_header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .and(body_string_contains("Haircut - Ana"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "evt_1"})))
        .expect(1)
        .mount(&setup.google)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/calendar/v3/calendars/primary/events/evt_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "evt_1"})))
        .expect(1)
        .mount(&setup.google)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/calendar/v3/calendars/primary/events/evt_1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&setup.google)
        .await;
    let day = Utc::now().with_timezone(&chrono_tz::America::New_York).date_naive() + chrono::Days::new(2);
    let admin = setup.app.admin_token().await;

    // Booked in the portal: written once Google answers.
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T10:00"), "caller_name": "Ana"});
    let booked = setup.app.post("/api/portal/appointments", &setup.token, body).await;
    let id = booked.assert_ok(StatusCode::CREATED)["id"].as_i64().unwrap();
    setup.app.run_jobs().await;
    assert_eq!(pending_writes(&setup.app, &admin).await, 1, "the failed write is visible");
    let connection = setup.app.get("/api/admin/calendar-connections", &admin).await;
    assert!(
        connection.body["connections"][0]["last_error"].as_str().unwrap().contains("Google"),
        "{}",
        connection.text
    );
    setup.app.run_retries().await;
    let event: Option<String> = sqlx::query_scalar("SELECT google_event_id FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&setup.app.db)
        .await
        .unwrap();
    assert_eq!(event.as_deref(), Some("evt_1"));
    assert_eq!(pending_writes(&setup.app, &admin).await, 0);

    // Moved: the event moves; cancelled: the event goes.
    let uri = format!("/api/portal/appointments/{id}");
    let moved = setup
        .app
        .call(Method::PATCH, &uri, Some(&setup.token), Some(json!({"starts_at": format!("{day}T14:00")})))
        .await;
    moved.assert_ok(StatusCode::OK);
    setup.app.run_jobs().await;
    setup.app.post(&format!("{uri}/cancel"), &setup.token, json!({})).await.assert_ok(StatusCode::OK);
    setup.app.run_jobs().await;
    let event: Option<String> = sqlx::query_scalar("SELECT google_event_id FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&setup.app.db)
        .await
        .unwrap();
    assert_eq!(event, None);
    assert_eq!(pending_writes(&setup.app, &admin).await, 0);
}

#[tokio::test]
async fn connecting_google_writes_the_appointments_booked_before_it() {
    // Arrange: a booking made while no calendar was connected.
    let setup = setup().await;
    takes_bookings(&setup).await;
    let day = Utc::now().with_timezone(&chrono_tz::America::New_York).date_naive() + chrono::Days::new(2);
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T11:00"), "caller_name": "Bea"});
    let booked = setup.app.post("/api/portal/appointments", &setup.token, body).await;
    let id = booked.assert_ok(StatusCode::CREATED)["id"].as_i64().unwrap();
    setup.app.run_jobs().await;
    mock_calendar_list(&setup.google).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/primary/events"))
        .and(body_string_contains("Haircut - Bea"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "evt_before"})))
        .expect(1)
        .mount(&setup.google)
        .await;

    // Act: the owner connects Google Calendar afterwards.
    setup.connect().await;
    setup.app.run_jobs().await;

    // Assert: the earlier booking is in the calendar now, once.
    let event: Option<String> = sqlx::query_scalar("SELECT google_event_id FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&setup.app.db)
        .await
        .unwrap();
    assert_eq!(event.as_deref(), Some("evt_before"));
    let admin = setup.app.admin_token().await;
    assert_eq!(pending_writes(&setup.app, &admin).await, 0);
}

/// The admin's count of calendar writes still pending for the one connection.
async fn pending_writes(app: &TestApp, admin: &str) -> i64 {
    let list = app.get("/api/admin/calendar-connections", admin).await;
    list.assert_ok(StatusCode::OK)["connections"][0]["pending_writes"].as_i64().unwrap()
}

const CALCOM_KEY: &str = "cal_live_KEY-PLAINTEXT-0123456789";

/// A business with three services, its token, and a mock Cal.com (and Google).
struct CalSetup {
    s: Setup,
    calcom: MockServer,
}

async fn calcom_setup() -> CalSetup {
    let calcom = MockServer::start().await;
    let uri = calcom.uri();
    let s = setup_with(&[("CALCOM_API_URL", uri.as_str())]).await;
    sqlx::query(
        r#"UPDATE customers SET booking = '{"services": [{"name": "Haircut", "minutes": 45},
           {"name": "Colour", "minutes": 90}, {"name": "Beard trim", "minutes": 15}]}' WHERE id = $1"#,
    )
    .bind(s.business)
    .execute(&s.app.db)
    .await
    .unwrap();
    CalSetup { s, calcom }
}

/// Cal.com's `GET /v2/me` accepting [`CALCOM_KEY`] exactly `times` times.
async fn mock_calcom_me(calcom: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path("/v2/me"))
        .and(has_header("authorization", format!("Bearer {CALCOM_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": {"id": 123, "username": "bellahair", "email": "owner@bella.test", "timeZone": "Europe/London"},
        })))
        .expect(times)
        .mount(calcom)
        .await;
}

impl CalSetup {
    async fn connect_calcom(&self, body: Value) -> TestResponse {
        self.s.app.put("/api/portal/calendar/calcom", &self.s.token, body).await
    }
}

fn assert_no_calcom_key(response: &TestResponse) {
    assert!(!response.text.contains(CALCOM_KEY) && !response.text.contains("PLAINTEXT"), "{}", response.text);
}

#[tokio::test]
async fn connecting_cal_com_checks_the_key_and_stores_it_sealed_with_the_mapping() {
    // Arrange
    let c = calcom_setup().await;
    mock_calcom_me(&c.calcom, 1).await;

    // Act: ids as the clients send them, as text or numbers; a blank one is left out.
    let response = c
        .connect_calcom(json!({"api_key": format!(" {CALCOM_KEY} "),
                               "event_types": {"Haircut": "1234", "beard trim": 77, "Colour": ""}}))
        .await;

    // Assert: Cal.com was asked, the key is sealed, and no answer shows it.
    let expected = json!({"provider": "calcom", "status": "connected",
                          "event_types": {"Haircut": 1234, "Beard trim": 77}});
    assert_eq!(response.assert_ok(StatusCode::OK), &expected);
    assert_no_calcom_key(&response);
    c.calcom.verify().await;
    let secret = c.s.stored_secret().await.expect("the connection is stored");
    assert!(!secret.windows(CALCOM_KEY.len()).any(|w| w == CALCOM_KEY.as_bytes()), "stored in plaintext");
    let key = deskringer::secrets::SecretKey::from_bytes(&[7u8; 32]).unwrap();
    assert_eq!(key.open_string(&secret).unwrap(), CALCOM_KEY);
    let shown = c.s.app.get("/api/portal/calendar", &c.s.token).await;
    assert_eq!(shown.assert_ok(StatusCode::OK), &expected);
    assert_no_calcom_key(&shown);
    let admin = c.s.app.admin_token().await;
    let listed = c.s.app.get("/api/admin/calendar-connections", &admin).await;
    assert_eq!(listed.assert_ok(StatusCode::OK)["connections"][0]["provider"], "calcom");
    assert_no_calcom_key(&listed);

    // Disconnecting forgets it: a Cal.com key is the business's own to revoke.
    let gone = c.s.app.delete("/api/portal/calendar", &c.s.token).await;
    assert_eq!(gone.assert_ok(StatusCode::OK), &json!({"message": "the calendar is disconnected"}));
    assert_eq!(c.s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn a_key_cal_com_refuses_is_a_422_on_api_key_and_nothing_is_stored() {
    // Arrange
    let c = calcom_setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/me"))
        .and(has_header("authorization", format!("Bearer {CALCOM_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error", "error": {"code": "UnauthorizedException", "message": "Invalid API Key"},
        })))
        .expect(1)
        .mount(&c.calcom)
        .await;

    // Act
    let response = c.connect_calcom(json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": 1234}})).await;

    // Assert
    let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.starts_with("api_key: Cal.com refused this API key"), "{message}");
    assert_no_calcom_key(&response);
    assert_eq!(c.s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn a_bad_mapping_or_a_missing_key_is_a_422_naming_the_field_before_cal_com_is_asked() {
    // Arrange: any call to Cal.com fails the test.
    let c = calcom_setup().await;
    mock_calcom_me(&c.calcom, 0).await;

    // Act + Assert
    for (body, start) in [
        (json!({"api_key": CALCOM_KEY, "event_types": {"Nails": 1}}), "event_types.Nails: is not one of"),
        (json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": "12a"}}), "event_types.Haircut: must be"),
        (json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": 0}}), "event_types.Haircut: must be"),
        (json!({"api_key": CALCOM_KEY, "event_types": {}}), "event_types: must map at least one"),
        (json!({"api_key": CALCOM_KEY}), "event_types: is required"),
        (json!({"api_key": "", "event_types": {"Haircut": 1}}), "api_key: is required"),
        (json!({"event_types": {"Haircut": 1}}), "api_key: is required"),
    ] {
        let response = c.connect_calcom(body.clone()).await;
        let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.starts_with(start), "{body}: {message}");
    }
    let unknown = c.connect_calcom(json!({"api_key": CALCOM_KEY, "event_types": {"Nails": 1}})).await;
    assert!(unknown.body["details"]["event_types.Nails"].is_string(), "{}", unknown.text);
    assert_eq!(c.s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn cal_com_unreachable_is_a_502_and_nothing_is_stored() {
    // Arrange: CALCOM_API_URL left at the tests' unreachable default.
    let s = setup().await;
    sqlx::query(r#"UPDATE customers SET booking = '{"services": [{"name": "Haircut", "minutes": 45}]}' WHERE id = $1"#)
        .bind(s.business)
        .execute(&s.app.db)
        .await
        .unwrap();

    // Act
    let response = s
        .app
        .put("/api/portal/calendar/calcom", &s.token, json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": 1}}))
        .await;

    // Assert
    let message = response.assert_error(StatusCode::BAD_GATEWAY);
    assert!(message.contains("Cal.com could not be reached"), "{message}");
    assert_no_calcom_key(&response);
    assert_eq!(s.app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn connecting_cal_com_without_a_token_key_answers_503_naming_it() {
    let calcom = MockServer::start().await;
    mock_calcom_me(&calcom, 0).await;
    let mocks = Mocks::start().await;
    let uri = calcom.uri();
    let app = TestApp::spawn_with(mocks.config(false, false, &[("CALCOM_API_URL", uri.as_str())])).await;
    let business = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    sqlx::query(r#"UPDATE customers SET booking = '{"services": [{"name": "Haircut", "minutes": 45}]}' WHERE id = $1"#)
        .bind(business)
        .execute(&app.db)
        .await
        .unwrap();

    let response = app
        .put(
            "/api/portal/calendar/calcom",
            &app.token(Role::Customer, business),
            json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": 1}}),
        )
        .await;

    assert!(response.assert_error(StatusCode::SERVICE_UNAVAILABLE).contains("CALENDAR_TOKEN_KEY"));
    assert_eq!(app.count("calendar_connections").await, 0);
}

#[tokio::test]
async fn connecting_cal_com_replaces_google_and_revokes_it() {
    // Arrange: Google connected first.
    let c = calcom_setup().await;
    c.s.connect().await;
    mock_calcom_me(&c.calcom, 1).await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(body_string_contains("token=1%2F%2Frefresh-token-PLAINTEXT"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&c.s.google)
        .await;

    // Act
    let response = c.connect_calcom(json!({"api_key": CALCOM_KEY, "event_types": {"Colour": 55}})).await;

    // Assert: one connection, Cal.com's, with none of Google's choices left over.
    let body = response.assert_ok(StatusCode::OK);
    assert_eq!(body["provider"], "calcom");
    assert_eq!(body["event_types"], json!({"Colour": 55}));
    assert!(body.get("calendars").is_none(), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Google calendar was disconnected"), "{body}");
    c.s.google.verify().await;
    assert_eq!(c.s.app.count("calendar_connections").await, 1);
    let key = deskringer::secrets::SecretKey::from_bytes(&[7u8; 32]).unwrap();
    assert_eq!(key.open_string(&c.s.stored_secret().await.unwrap()).unwrap(), CALCOM_KEY);
    let shown = c.s.app.get("/api/portal/calendar", &c.s.token).await;
    assert_eq!(
        shown.assert_ok(StatusCode::OK),
        &json!({"provider": "calcom", "status": "connected", "event_types": {"Colour": 55}})
    );
}

#[tokio::test]
async fn only_the_business_may_connect_cal_com() {
    let c = calcom_setup().await;
    mock_calcom_me(&c.calcom, 0).await;
    let admin = c.s.app.admin_token().await;
    let body = json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": 1}});

    c.s.app
        .call(Method::PUT, "/api/portal/calendar/calcom", Some(&admin), Some(body.clone()))
        .await
        .assert_error(StatusCode::FORBIDDEN);
    c.s.app
        .call(Method::PUT, "/api/portal/calendar/calcom", None, Some(body))
        .await
        .assert_error(StatusCode::UNAUTHORIZED);
    assert_eq!(c.s.app.count("calendar_connections").await, 0);
}

/// [`booking_with_google`]'s business, connected to Cal.com instead with Haircut mapped to
/// event type 1234; answers the local day after tomorrow and its instants by hour.
async fn booking_with_calcom(c: &CalSetup) -> (chrono::NaiveDate, impl Fn(u32) -> chrono::DateTime<Utc>) {
    booking_with_google(&c.s).await;
    let key = c.s.app.state.config.calendar.token_key.clone().unwrap();
    sqlx::query(
        "UPDATE calendar_connections SET provider = 'calcom', secret = $2, write_calendar_id = NULL, \
         busy_calendar_ids = '[]', calcom_event_types = '[{\"service\": \"Haircut\", \"event_type_id\": 1234}]' \
         WHERE customer_id = $1",
    )
    .bind(c.s.business)
    .bind(key.seal(CALCOM_KEY.as_bytes()).unwrap())
    .execute(&c.s.app.db)
    .await
    .unwrap();
    let zone = chrono_tz::America::New_York;
    let day = Utc::now().with_timezone(&zone).date_naive() + chrono::Days::new(2);
    let at = move |hour: u32| {
        use chrono::TimeZone;
        zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap()).unwrap().with_timezone(&Utc)
    };
    (day, at)
}

/// Cal.com's slots for event type 1234: `starts`, in New York time.
async fn mock_calcom_slots(calcom: &MockServer, starts: &[chrono::DateTime<Utc>]) {
    let day = starts[0].with_timezone(&chrono_tz::America::New_York).date_naive().to_string();
    let slots: Vec<Value> = starts.iter().map(|start| json!({"start": start.to_rfc3339()})).collect();
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .and(wiremock::matchers::query_param("eventTypeId", "1234"))
        .and(wiremock::matchers::query_param("timeZone", "America/New_York"))
        .and(has_header("authorization", format!("Bearer {CALCOM_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success", "data": {day: slots}})))
        .mount(calcom)
        .await;
}

fn slot_starts(body: &Value, field: &str) -> Vec<chrono::DateTime<Utc>> {
    body[field].as_array().unwrap().iter().map(|slot| slot["start"].as_str().unwrap().parse().unwrap()).collect()
}

#[tokio::test]
async fn cal_com_slots_are_offered_where_the_diary_is_free_and_a_booking_is_made_at_cal_com() {
    let c = calcom_setup().await;
    let (day, at) = booking_with_calcom(&c).await;
    // Cal.com offers 08:00 (before the business opens: the local rule still applies), 10:00,
    // 11:00 and 14:00; the diary would offer every half hour from 09:00.
    mock_calcom_slots(&c.calcom, &[at(8), at(10), at(11), at(14)]).await;
    let response = c.s.app.get(&format!("/api/portal/availability?service=Haircut&date={day}"), &c.s.token).await;
    assert_eq!(slot_starts(response.assert_ok(StatusCode::OK), "slots"), [at(10), at(11), at(14)]);

    // Booking 11:00 books it at Cal.com for the caller, and keeps Cal.com's uid.
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .and(has_header("authorization", format!("Bearer {CALCOM_KEY}").as_str()))
        .and(wiremock::matchers::body_partial_json(json!({
            "eventTypeId": 1234,
            "start": at(11).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "attendee": {"name": "Ana", "phoneNumber": "+14155550123", "timeZone": "America/New_York"},
        })))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"status": "success", "data": {"uid": "cal-uid-1", "id": 9}})),
        )
        .expect(1)
        .mount(&c.calcom)
        .await;
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T11:00"), "caller_name": "Ana",
                      "caller_phone": "+14155550123"});
    let booked = c.s.app.post("/api/portal/appointments", &c.s.token, body).await;
    booked.assert_ok(StatusCode::CREATED);
    c.calcom.verify().await;
    let uid: Option<String> = sqlx::query_scalar("SELECT calcom_uid FROM appointments WHERE status = 'booked'")
        .fetch_one(&c.s.app.db)
        .await
        .unwrap();
    assert_eq!(uid.as_deref(), Some("cal-uid-1"));

    // Moving it to 14:00 moves it at Cal.com, which answers a new uid that is kept.
    Mock::given(method("POST"))
        .and(path("/v2/bookings/cal-uid-1/reschedule"))
        .and(wiremock::matchers::body_partial_json(
            json!({"start": at(14).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}),
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"status": "success", "data": {"uid": "cal-uid-2", "id": 10}})),
        )
        .expect(1)
        .mount(&c.calcom)
        .await;
    let id = booked.body["id"].as_i64().unwrap();
    let moved =
        c.s.app
            .call(
                Method::PATCH,
                &format!("/api/portal/appointments/{id}"),
                Some(&c.s.token),
                Some(json!({"starts_at": format!("{day}T14:00")})),
            )
            .await;
    moved.assert_ok(StatusCode::OK);
    c.calcom.verify().await;
    let uid: Option<String> = sqlx::query_scalar("SELECT calcom_uid FROM appointments WHERE id = $1")
        .bind(id)
        .fetch_one(&c.s.app.db)
        .await
        .unwrap();
    assert_eq!(uid.as_deref(), Some("cal-uid-2"));

    // 12:00 is free in the diary but Cal.com does not list it: refused, with Cal.com's times.
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T12:00"), "caller_name": "Bo"});
    let refused = c.s.app.post("/api/portal/appointments", &c.s.token, body).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(c.s.app.count("appointments").await, 1);
}

#[tokio::test]
async fn a_time_cal_com_has_lost_answers_fresh_times_and_keeps_no_booking() {
    let c = calcom_setup().await;
    let (day, at) = booking_with_calcom(&c).await;
    mock_calcom_slots(&c.calcom, &[at(10), at(11), at(14)]).await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"status": "error", "error": {
            "code": "BadRequestException",
            "message": "User either already has booking at this time or is not available"}})))
        .expect(1)
        .mount(&c.calcom)
        .await;
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T10:00"), "caller_name": "Ana",
                      "caller_phone": "+14155550123"});
    let refused = c.s.app.post("/api/portal/appointments", &c.s.token, body).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(slot_starts(&refused.body, "slots"), [at(10), at(11), at(14)]);
    c.calcom.verify().await;
    let booked: i64 = sqlx::query_scalar("SELECT count(*) FROM appointments WHERE status = 'booked'")
        .fetch_one(&c.s.app.db)
        .await
        .unwrap();
    assert_eq!(booked, 0);
}

#[tokio::test]
async fn cal_com_down_makes_the_receptionist_take_details() {
    let c = calcom_setup().await;
    let (day, _) = booking_with_calcom(&c).await;
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"status": "error", "message": "down"})))
        .mount(&c.calcom)
        .await;
    c.s.app
        .twilio(
            "/api/webhooks/twilio/voice",
            &[("CallSid", "CA_calcom"), ("From", "+14155550199"), ("To", "+14155550111")],
        )
        .await;
    let call_id: i64 = sqlx::query_scalar("SELECT id FROM calls WHERE twilio_call_sid = 'CA_calcom'")
        .fetch_one(&c.s.app.db)
        .await
        .unwrap();
    let customer = deskringer::db::customers::find(&c.s.app.db, c.s.business).await.unwrap().unwrap();
    let desk = deskringer::receptionist::tools::CallDesk {
        db: c.s.app.db.clone(),
        customer,
        call_id,
        caller: Some("+14155550199".into()),
        notify: deskringer::http::webhooks::twilio::call_notices(),
        outside: deskringer::http::outside_calendar::for_business(&c.s.app.state, c.s.business).await.unwrap(),
        channel: deskringer::db::calls::Channel::Voice,
        texter: deskringer::http::webhooks::twilio::texter(&c.s.app.state),
    };
    let call = deskringer::clients::ToolCall {
        id: "c".into(),
        name: "check_availability".into(),
        arguments: json!({"service": "Haircut", "date": day.to_string()}).to_string(),
    };
    let answer: Value = serde_json::from_str(&desk.run(&call, Utc::now()).await.output).unwrap();
    assert!(answer["error"].as_str().unwrap().contains("no time can be confirmed"), "{answer}");
    assert!(answer.get("slots").is_none());
    let response = c.s.app.get(&format!("/api/portal/availability?service=Haircut&date={day}"), &c.s.token).await;
    assert!(response.assert_error(StatusCode::BAD_GATEWAY).contains("calendar"), "{}", response.text);
}

/// Cal.com books `start` for event type 1234 and answers `uid`.
async fn mock_calcom_booking(calcom: &MockServer, start: chrono::DateTime<Utc>, uid: &str) {
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .and(wiremock::matchers::body_partial_json(
            json!({"eventTypeId": 1234, "start": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"status": "success", "data": {"uid": uid}})))
        .expect(1)
        .mount(calcom)
        .await;
}

/// The cancellations Cal.com received for booking `uid`.
async fn calcom_cancels(calcom: &MockServer, uid: &str) -> Vec<wiremock::Request> {
    let wanted = format!("/v2/bookings/{uid}/cancel");
    calcom.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == wanted).collect()
}

#[tokio::test]
async fn a_cancellation_cancels_the_cal_com_booking_by_a_retried_job_and_one_cancelled_there_already_is_done() {
    // Arrange: two appointments booked through Cal.com, the second for the caller who rings.
    let c = calcom_setup().await;
    let (day, at) = booking_with_calcom(&c).await;
    mock_calcom_slots(&c.calcom, &[at(10), at(11), at(14)]).await;
    mock_calcom_booking(&c.calcom, at(10), "cal-uid-10").await;
    mock_calcom_booking(&c.calcom, at(11), "cal-uid-11").await;
    let mut ids = Vec::new();
    for (hour, name, phone) in [(10, "Ana", "+14155550123"), (11, "Bo", "+14155550199")] {
        let body = json!({"service": "Haircut", "starts_at": format!("{day}T{hour}:00"), "caller_name": name,
                          "caller_phone": phone});
        let booked = c.s.app.post("/api/portal/appointments", &c.s.token, body).await;
        ids.push(booked.assert_ok(StatusCode::CREATED)["id"].as_i64().unwrap());
    }
    c.s.app.run_jobs().await;
    assert!(calcom_cancels(&c.calcom, "cal-uid-10").await.is_empty(), "a booking cancels nothing");
    let admin = c.s.app.admin_token().await;
    // Cal.com fails the first cancellation (500), then takes it.
    Mock::given(method("POST"))
        .and(path("/v2/bookings/cal-uid-10/cancel"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"status": "error", "message": "backend"})))
        .up_to_n_times(1)
        .mount(&c.calcom)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings/cal-uid-10/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success",
            "data": {"uid": "cal-uid-10", "status": "cancelled"}})))
        .mount(&c.calcom)
        .await;

    // Act: the owner cancels Ana's in the portal.
    let cancelled = c.s.app.post(&format!("/api/portal/appointments/{}/cancel", ids[0]), &c.s.token, json!({})).await;
    cancelled.assert_ok(StatusCode::OK);
    c.s.app.run_jobs().await;

    // Assert: the failed cancellation is visible, then retried and done.
    assert_eq!(pending_writes(&c.s.app, &admin).await, 1, "the failed cancellation is pending");
    let list = c.s.app.get("/api/admin/calendar-connections", &admin).await;
    assert!(list.body["connections"][0]["last_error"].as_str().unwrap().contains("Cal.com"), "{}", list.text);
    assert_no_calcom_key(&list);
    c.s.app.run_retries().await;
    assert_eq!(pending_writes(&c.s.app, &admin).await, 0);
    let sent = calcom_cancels(&c.calcom, "cal-uid-10").await;
    assert_eq!(sent.len(), 2, "one failure, one retry");
    for request in &sent {
        assert_eq!(request.headers["cal-api-version"], "2026-02-25");
        assert_eq!(request.headers["authorization"].to_str().unwrap(), format!("Bearer {CALCOM_KEY}"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert!(body["cancellationReason"].as_str().is_some_and(|r| !r.is_empty()), "{body}");
    }

    // Arrange: Bo rings to cancel his; Cal.com says it was cancelled there already.
    Mock::given(method("POST"))
        .and(path("/v2/bookings/cal-uid-11/cancel"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"status": "error", "error": {
            "code": "BadRequestException",
            "message": "Can't cancel booking with uid=cal-uid-11 because it has been cancelled already."}})))
        .mount(&c.calcom)
        .await;
    c.s.app
        .twilio(
            "/api/webhooks/twilio/voice",
            &[("CallSid", "CA_calcancel"), ("From", "+14155550199"), ("To", "+14155550111")],
        )
        .await;
    let call_id: i64 = sqlx::query_scalar("SELECT id FROM calls WHERE twilio_call_sid = 'CA_calcancel'")
        .fetch_one(&c.s.app.db)
        .await
        .unwrap();
    let customer = deskringer::db::customers::find(&c.s.app.db, c.s.business).await.unwrap().unwrap();
    let desk = deskringer::receptionist::tools::CallDesk {
        db: c.s.app.db.clone(),
        customer,
        call_id,
        caller: Some("+14155550199".into()),
        notify: deskringer::http::webhooks::twilio::call_notices(),
        outside: deskringer::http::outside_calendar::for_business(&c.s.app.state, c.s.business).await.unwrap(),
        channel: deskringer::db::calls::Channel::Voice,
        texter: deskringer::http::webhooks::twilio::texter(&c.s.app.state),
    };
    let call = deskringer::clients::ToolCall {
        id: "c".into(),
        name: deskringer::receptionist::tools::CANCEL_APPOINTMENT.into(),
        arguments: json!({"appointment_id": ids[1]}).to_string(),
    };

    // Act: the receptionist cancels it.
    let answer: Value = serde_json::from_str(&desk.run(&call, Utc::now()).await.output).unwrap();
    assert_eq!(answer["cancelled"], true, "{answer}");
    c.s.app.run_jobs().await;

    // Assert: asked once, counted as done, nothing left to retry.
    assert_eq!(calcom_cancels(&c.calcom, "cal-uid-11").await.len(), 1);
    assert_eq!(pending_writes(&c.s.app, &admin).await, 0);
    c.s.app.make_retries_due().await;
    assert!(!c.s.app.queued_jobs().await.iter().any(|job| job == "calendar_sync_event"));
    c.calcom.verify().await;
}

#[tokio::test]
async fn no_token_or_key_reaches_the_logs_while_connecting_refreshing_writing_and_connecting_cal_com() {
    // Arrange: Google for one business, Cal.com for another; every log line captured.
    let calcom = MockServer::start().await;
    let calcom_uri = calcom.uri();
    let s = setup_with(&[("CALCOM_API_URL", calcom_uri.as_str())]).await;
    takes_bookings(&s).await;
    mock_calendar_list(&s.google).await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/freeBusy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"calendars": {"primary": {"busy": []}}})))
        .mount(&s.google)
        .await;
    Mock::given(method("POST"))
        .and(path("/calendar/v3/calendars/primary/events"))
        .and(has_header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "evt_1"})))
        .expect(1)
        .mount(&s.google)
        .await;
    mock_calcom_me(&calcom, 1).await;
    let other = s.app.insert_customer("Cut Above", "owner@cutabove.test", "active").await;
    sqlx::query(
        "UPDATE customers SET booking = '{\"services\": [{\"name\": \"Haircut\", \"minutes\": 30}]}' WHERE id = $1",
    )
    .bind(other)
    .execute(&s.app.db)
    .await
    .unwrap();
    let other_token = s.app.token(Role::Customer, other);
    let logs = CapturedLogs::start();

    // Act: connect Google (code exchange), list calendars and book (refreshes, free/busy),
    // write the event (the job refreshes again), and connect Cal.com (the key is checked).
    s.connect().await;
    s.app.get("/api/portal/calendar/google/calendars", &s.token).await.assert_ok(StatusCode::OK);
    let day = Utc::now().with_timezone(&chrono_tz::America::New_York).date_naive() + chrono::Days::new(2);
    let body = json!({"service": "Haircut", "starts_at": format!("{day}T10:00"), "caller_name": "Ana"});
    s.app.post("/api/portal/appointments", &s.token, body).await.assert_ok(StatusCode::CREATED);
    s.app.run_jobs().await;
    let body = json!({"api_key": CALCOM_KEY, "event_types": {"Haircut": 1234}});
    s.app.put("/api/portal/calendar/calcom", &other_token, body).await.assert_ok(StatusCode::OK);

    // Assert: the flows were logged, at DEBUG too, and no secret was.
    s.google.verify().await;
    let text = logs.text();
    assert!(text.contains("Google calendar connected"), "{text}");
    assert!(text.contains("calendar event up to date"), "{text}");
    assert!(text.contains("DEBUG"), "nothing at DEBUG was captured:\n{text}");
    for secret in [REFRESH_TOKEN, ACCESS_TOKEN, CALCOM_KEY, "PLAINTEXT", "client-secret"] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
}
