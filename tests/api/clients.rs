//! What the two real browser clients send (the exact bodies their forms build, kept in
//! `tests/fixtures/client-bodies/`, copies of `shared/client-bodies/`), and the holes found
//! by probing the server as a hostile client would.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{NewCall, TestApp, TestResponse};

/// A body exactly as a client page sends it.
fn client_body(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/client-bodies/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// A business with portal access, and its portal token (from a real login).
async fn business_with_login(app: &TestApp) -> (i64, String) {
    let id = app.insert_customer("Bella Hair Studio", "owner@bella.example", "trial").await;
    let hash = deskringer::auth::password::hash_password("portal-pass-1".to_owned().into()).await.unwrap();
    sqlx::query("UPDATE customers SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&app.db)
        .await
        .unwrap();
    let token = portal_login(app, "owner@bella.example", "portal-pass-1").await;
    (id, token.assert_ok(StatusCode::OK)["access_token"].as_str().unwrap().to_owned())
}

async fn portal_login(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.call(Method::POST, "/api/portal/login", None, Some(json!({"email": email, "password": password}))).await
}

/// What a form field shows after a reload: `null` shows as an empty box, as the page does.
fn as_shown(value: &Value) -> Value {
    if value.is_null() { json!("") } else { value.clone() }
}

/// A day as the page reads it back: a missing `closed` is an unticked box.
fn day_as_shown(day: &Value) -> Value {
    json!({"open": day["open"], "close": day["close"], "closed": day["closed"].as_bool().unwrap_or(false)})
}

/// Asserts that every field `sent` is given back as the page would show it.
#[track_caller]
fn assert_shows_what_was_sent(sent: &Value, customer: &Value) {
    for (field, value) in sent.as_object().unwrap() {
        match field.as_str() {
            "business_hours" => {
                for (day, hours) in value.as_object().unwrap() {
                    assert_eq!(day_as_shown(&customer[field][day]), *hours, "{field}.{day}");
                }
            }
            "faqs" => {
                let filled: Vec<&Value> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|faq| faq["question"] != "" || faq["answer"] != "")
                    .collect();
                let shown: Vec<&Value> =
                    customer[field].as_array().map(|faqs| faqs.iter().collect()).unwrap_or_default();
                assert_eq!(shown, filled, "{field}: blank rows dropped, the rest kept");
            }
            // Left empty, the instructions are compiled from the settings.
            "ai_instructions" if value == "" => {
                let compiled = customer[field].as_str().unwrap_or_default();
                assert!(compiled.contains(customer["business_name"].as_str().unwrap()), "{field}: {compiled}");
            }
            _ => assert_eq!(as_shown(&customer[field]), *value, "{field}"),
        }
    }
}

/// The form the page builds from a reloaded customer: the same fields, `null` as `""`.
fn form_from(customer: &Value, like: &Value) -> Value {
    let mut form = Map::new();
    for field in like.as_object().unwrap().keys() {
        let value = match field.as_str() {
            "business_hours" => {
                let days = customer[field].as_object().unwrap();
                Value::Object(days.iter().map(|(day, hours)| (day.clone(), day_as_shown(hours))).collect())
            }
            "faqs" if customer[field].is_null() => json!([]),
            _ => as_shown(&customer[field]),
        };
        form.insert(field.clone(), value);
    }
    Value::Object(form)
}

#[tokio::test]
async fn the_portal_settings_page_saves_and_reloads_what_the_owner_typed() {
    for fixture in ["portal-settings-save.json", "portal-settings-save-filled.json"] {
        // Arrange: the owner is logged in and has loaded the page.
        let app = TestApp::spawn().await;
        let (_, token) = business_with_login(&app).await;
        let sent = client_body(fixture);

        // Act: "Save Changes" with the page's exact body, then a reload.
        let saved = app.put("/api/portal/settings", &token, sent.clone()).await;
        let reloaded = app.get("/api/portal/me", &token).await;

        // Assert: accepted, and every field shows again as typed.
        assert_eq!(saved.assert_ok(StatusCode::OK)["message"], "Settings updated", "{fixture}");
        let customer = reloaded.assert_ok(StatusCode::OK).clone();
        assert_shows_what_was_sent(&sent, &customer);
        let instructions = customer["ai_instructions"].as_str().unwrap();
        if let Some(holidays) = sent["holiday_hours"].as_str().filter(|h| !h.is_empty()) {
            assert!(instructions.contains(holidays), "holiday hours verbatim in: {instructions}");
        }

        // Saving the reloaded page again changes nothing.
        let again = app.put("/api/portal/settings", &token, form_from(&customer, &sent)).await;
        again.assert_ok(StatusCode::OK);
        assert_eq!(app.get("/api/portal/me", &token).await.assert_ok(StatusCode::OK), &customer, "{fixture}");
    }
}

#[tokio::test]
async fn empty_holiday_hours_clear_them() {
    let app = TestApp::spawn().await;
    let (id, token) = business_with_login(&app).await;
    let mut form = client_body("portal-settings-save-filled.json");
    app.put("/api/portal/settings", &token, form.clone()).await.assert_ok(StatusCode::OK);

    form["holiday_hours"] = json!("");
    let customer = app.put("/api/portal/settings", &token, form).await.assert_ok(StatusCode::OK)["customer"].clone();

    assert_eq!(customer["holiday_hours"], Value::Null);
    let stored: Option<String> = sqlx::query_scalar("SELECT holiday_hours FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, None);
    assert!(!customer["ai_instructions"].as_str().unwrap().contains("Holiday hours"));
}

#[tokio::test]
async fn the_dashboard_creates_and_edits_a_business_with_its_form_bodies() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let created = app.post("/api/customers/", &admin, client_body("admin-create-customer.json")).await;
    let customer = created.assert_ok(StatusCode::CREATED)["customer"].clone();
    assert_shows_what_was_sent(&client_body("admin-create-customer.json"), &customer);
    assert_eq!(customer["subscription_status"], "trial");

    let id = customer["id"].as_i64().unwrap();
    let edit = client_body("admin-edit-customer.json");
    let edited = app.put(&format!("/api/customers/{id}"), &admin, edit.clone()).await;
    let customer = edited.assert_ok(StatusCode::OK)["customer"].clone();
    assert_shows_what_was_sent(&edit, &customer);
    let reloaded = app.get(&format!("/api/customers/{id}"), &admin).await;
    assert_shows_what_was_sent(&edit, reloaded.assert_ok(StatusCode::OK));
}

#[tokio::test]
async fn a_half_filled_faq_row_is_refused_by_its_row_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let (id, token) = business_with_login(&app).await;
    let mut form = client_body("portal-settings-save-filled.json");
    form["faqs"] = json!([
        {"question": "Do you take walk-ins?", "answer": "Yes."},
        {"question": "Is there parking?", "answer": ""}
    ]);

    let response = app.put("/api/portal/settings", &token, form).await;

    let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(message, "faqs: row 2 has a question but no answer");
    let (faqs, greeting): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT faqs::text, greeting_message FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((faqs, greeting), (None, None));
}

/// `n` filled FAQ rows and the blank row the form keeps at the end.
fn faq_rows(n: usize, answer: &str) -> Value {
    let mut rows: Vec<Value> =
        (1..=n).map(|i| json!({"question": format!("Do you offer service {i}?"), "answer": answer})).collect();
    rows.push(json!({"question": "", "answer": ""}));
    Value::Array(rows)
}

/// A business's stored settings that a refused request must leave alone.
async fn stored_settings(app: &TestApp, id: i64) -> (Option<String>, Option<String>, Option<String>, Option<String>) {
    sqlx::query_as(
        "SELECT faqs::text, services_offered, greeting_message, ai_instructions FROM customers WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn more_than_fifty_faqs_are_refused_on_every_route_and_nothing_is_saved() {
    // Arrange: a business with portal access, and an admin.
    let app = TestApp::spawn().await;
    let (id, token) = business_with_login(&app).await;
    let admin = app.admin_token().await;
    let before = stored_settings(&app, id).await;
    let with_faqs = |mut body: Value, n: usize| {
        body["faqs"] = faq_rows(n, "Yes, every weekday.");
        body
    };

    // Act: each client's own body with 51 FAQs.
    let refused = [
        app.put("/api/portal/settings", &token, with_faqs(client_body("portal-settings-save-filled.json"), 51)).await,
        app.post("/api/customers/", &admin, with_faqs(client_body("admin-create-customer.json"), 51)).await,
        app.put(&format!("/api/customers/{id}"), &admin, with_faqs(client_body("admin-edit-customer.json"), 51)).await,
        app.put(&format!("/api/customers/{id}/settings"), &admin, with_faqs(json!({"greeting_message": "Hi"}), 51))
            .await,
    ];

    // Assert: 422 naming the field and the limit; nothing stored, nobody created.
    for response in &refused {
        assert_eq!(
            response.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
            "faqs: at most 50 questions (51 were sent)"
        );
        assert_eq!(response.body["details"], json!({"faqs": "at most 50 questions (51 were sent)"}));
    }
    assert_eq!(stored_settings(&app, id).await, before);
    assert_eq!(app.count("customers").await, 1);

    // Fifty are kept.
    let saved =
        app.put("/api/portal/settings", &token, with_faqs(client_body("portal-settings-save-filled.json"), 50)).await;
    assert_eq!(saved.assert_ok(StatusCode::OK)["customer"]["faqs"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn instructions_compiled_past_the_limit_are_refused_naming_what_to_shorten_and_nothing_is_saved() {
    // Arrange: settings each within its own limit that compile to more than 20,000
    // characters together (long services and prices, 45 long FAQs).
    let app = TestApp::spawn().await;
    let (id, token) = business_with_login(&app).await;
    let admin = app.admin_token().await;
    let before = stored_settings(&app, id).await;
    let long = |body: &mut Value| {
        body["services_offered"] = json!("Cuts, colour and styling for every hair type. ".repeat(180));
        body["pricing_info"] = json!("Cuts from $45, colour from $90. ".repeat(100));
        body["faqs"] = faq_rows(45, &"Yes, and we will be glad to help you with it. ".repeat(4));
    };
    let mut portal = client_body("portal-settings-save-filled.json");
    long(&mut portal);
    let mut settings = json!({"greeting_message": "Hi"});
    long(&mut settings);
    let mut edit = client_body("admin-edit-customer.json");
    long(&mut edit);
    edit.as_object_mut().unwrap().remove("ai_instructions");

    // Act
    let refused = [
        app.put("/api/portal/settings", &token, portal.clone()).await,
        app.put(&format!("/api/customers/{id}/settings"), &admin, settings).await,
        app.put(&format!("/api/customers/{id}"), &admin, edit).await,
    ];

    // Assert: 422 on `ai_instructions`, saying how long, the limit, and the fields to shorten
    // (longest first); nothing stored.
    for response in &refused {
        let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.starts_with("ai_instructions: the instructions compiled from these settings would be "),
            "{message}"
        );
        let reason = response.body["details"]["ai_instructions"].as_str().unwrap();
        assert!(reason.contains("characters, more than the 20000 allowed: shorten "), "{reason}");
        assert!(reason.contains("shorten faqs, services_offered, pricing_info"), "{reason}");
    }
    assert_eq!(stored_settings(&app, id).await, before);

    // Shorter services fit, and the compiled instructions are within the limit.
    portal["services_offered"] = json!("Cuts, colour and styling.");
    let saved = app.put("/api/portal/settings", &token, portal).await;
    let instructions = saved.assert_ok(StatusCode::OK)["customer"]["ai_instructions"].as_str().unwrap().to_owned();
    assert!(instructions.chars().count() <= 20_000, "{}", instructions.chars().count());
}

#[tokio::test]
async fn wrong_values_are_explained_for_the_person_at_the_form() {
    let app = TestApp::spawn().await;
    let (_, token) = business_with_login(&app).await;
    let admin = app.admin_token().await;

    for (body, expected) in [
        (json!({"holiday_hours": {"2026-12-25": {"closed": true}}}), "holiday_hours must be text"),
        (json!({"business_hours": "9-5"}), "business_hours must be an object"),
        (
            json!({"business_hours": {"monday": {"open": "09:00", "close": "17:00", "closed": "no"}}}),
            "business_hours.monday.closed must be true or false",
        ),
        (json!({"faqs": {"question": "?"}}), "faqs must be a list"),
        (
            json!({"appointment_handling": "whenever"}),
            "appointment_handling must be one of: collect_details, callback, transfer, booking_link, call_back_later, book",
        ),
        (json!({"email": "new@bella.example"}), "email is not a field that can be set here"),
    ] {
        let response = app.put("/api/portal/settings", &token, body.clone()).await;
        let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(message, expected, "{body}");
        for serde_words in ["invalid type", "expected", "line ", "column", "deserialize", "struct"] {
            assert!(!message.contains(serde_words), "{message}");
        }
    }
    let admin_form = app
        .post("/api/customers/", &admin, json!({"business_name": "X", "email": "x@x.test", "holiday_hours": 7}))
        .await;
    assert_eq!(admin_form.assert_error(StatusCode::UNPROCESSABLE_ENTITY), "holiday_hours must be text");
    let query = app.get("/api/customers/?per_page=ten", &admin).await;
    assert_eq!(query.assert_error(StatusCode::BAD_REQUEST), "per_page must be a whole number");
    let not_json = app.call(Method::PUT, "/api/portal/settings", Some(&token), None).await;
    not_json.assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn average_durations_have_two_decimals_everywhere() {
    // Arrange: three calls of 10, 10 and 11 seconds: 10.333... on average.
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = business_with_login(&app).await;
    for seconds in [10, 10, 11] {
        app.insert_call(NewCall { duration_seconds: Some(seconds), ..NewCall::completed(id) }).await;
    }

    // Act + Assert
    let admin_stats = app.get("/api/admin/stats", &admin).await;
    assert_eq!(admin_stats.assert_ok(StatusCode::OK)["calls"]["avg_duration_seconds"], 10.33);
    let call_stats = app.get("/api/calls/stats", &admin).await;
    assert_eq!(call_stats.assert_ok(StatusCode::OK)["avg_duration_seconds"], 10.33);
    let portal_stats = app.get("/api/portal/stats", &token).await;
    assert_eq!(portal_stats.assert_ok(StatusCode::OK)["avg_duration_seconds"], 10.33);
}

#[tokio::test]
async fn an_empty_email_or_password_is_400_on_both_logins() {
    let app = TestApp::spawn().await;
    for route in ["/api/admin/login", "/api/portal/login"] {
        for body in [
            json!({"email": "", "password": ""}),
            json!({"email": "owner@bella.example", "password": ""}),
            json!({"email": "  ", "password": "a-password"}),
            json!({"password": "a-password"}),
        ] {
            let response = app.call(Method::POST, route, None, Some(body.clone())).await;
            assert_eq!(
                response.assert_error(StatusCode::BAD_REQUEST),
                "email and password are required",
                "{route} {body}"
            );
        }
    }
}

#[tokio::test]
async fn any_method_token_is_one_metrics_label() {
    // Arrange + Act: methods no client uses, on routes that exist and routes that do not.
    let app = TestApp::spawn().await;
    for n in 0..40 {
        let method = Method::from_bytes(format!("PROBE{n}X").as_bytes()).unwrap();
        app.call(method.clone(), "/health", None, None).await;
        app.call(method, &format!("/no/such/route/{n}"), None, None).await;
    }

    // Assert: the series use closed label sets.
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(!metrics.text.contains("PROBE"), "a client's method token became a label");
    assert!(!metrics.text.contains("/no/such/route"), "a raw path became a label");
    assert!(metrics.text.contains(r#"method="OTHER""#));
    assert!(metrics.text.contains(r#"route="unmatched""#));
}

#[tokio::test]
async fn slow_csv_downloads_hold_no_database_connection() {
    // Arrange: a business with several megabytes of calls, served on a real socket, and a
    // pool of 5 connections (as the tests' pools are).
    let app = TestApp::spawn().await;
    let (id, token) = business_with_login(&app).await;
    sqlx::query(
        "INSERT INTO calls (customer_id, twilio_call_sid, status, duration_seconds, summary, created_at) \
         SELECT $1, 'CAexport' || n, 'completed', 60, repeat('x', 2000), now() - n * interval '1 second' \
         FROM generate_series(1, 3000) AS n",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    let address = app.serve().await;

    // Act: more downloads than the pool has connections, each reading its first bytes and
    // then nothing more (a slow or stalled client).
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let request =
            format!("GET /api/portal/calls/export.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut first = [0u8; 1024];
        let read = socket.read(&mut first).await.unwrap();
        let head = String::from_utf8_lossy(&first[..read]).into_owned();
        assert!(head.starts_with("HTTP/1.1 200"), "download {} was not served: {head}", stalled.len() + 1);
        stalled.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Assert: requests that need the database are still answered promptly.
    let stats = tokio::time::timeout(Duration::from_secs(5), app.get("/api/portal/stats", &token)).await;
    let stats = stats.expect("a request waited for a connection held by a stalled download");
    assert_eq!(stats.assert_ok(StatusCode::OK)["total_calls"], 3000);
    drop(stalled);
}

#[tokio::test]
async fn without_a_twilio_token_a_public_server_refuses_every_webhook() {
    // Arrange: deployed on a public address without APP_ENV=production or TWILIO_AUTH_TOKEN.
    let config = deskringer::config::Config::from_lookup(|name| match name {
        "API_BASE_URL" => Some("https://deskringer.example.com".to_owned()),
        "JWT_SECRET_KEY" => Some("test-secret-test-secret-test-secret!".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = TestApp::spawn_with(config).await;
    sqlx::query("INSERT INTO customers (business_name, email, deskringer_number, subscription_status) VALUES ('B', 'b@b.test', '+14155550111', 'active')")
        .execute(&app.db)
        .await
        .unwrap();
    let params: Vec<(String, String)> = [("CallSid", "CAforged"), ("From", "+14155550199"), ("To", "+14155550111")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();

    // Act: a call signed with the development token printed in the source.
    let forged = deskringer::http::webhooks::twilio::signature::sign(
        deskringer::config::DEVELOPMENT_TWILIO_AUTH_TOKEN.as_bytes(),
        "https://deskringer.example.com/api/webhooks/twilio/voice",
        &params,
    );
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = app.twilio_with_signature("/api/webhooks/twilio/voice", &pairs, Some(&forged)).await;

    // Assert
    response.assert_error(StatusCode::FORBIDDEN);
    assert_eq!(app.count("calls").await, 0);
}

#[tokio::test]
async fn a_changed_admin_password_ends_older_tokens_and_answers_a_fresh_one() {
    let app = TestApp::spawn().await;
    let id = app.create_admin("ops@deskringer.test", "first-password").await;
    let login = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "ops@deskringer.test", "password": "first-password"})),
        )
        .await;
    let old = login.assert_ok(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();

    let changed = app
        .post(
            "/api/admin/change-password",
            &old,
            json!({"current_password": "first-password", "new_password": "second-password"}),
        )
        .await;

    let body = changed.assert_ok(StatusCode::OK).clone();
    assert_eq!(body["message"], "Password changed");
    let fresh = body["access_token"].as_str().expect("a fresh token beside the message");
    for uri in ["/api/admin/me", "/api/admin/stats", "/api/customers/"] {
        app.get(uri, &old).await.assert_error(StatusCode::UNAUTHORIZED);
        app.get(uri, fresh).await.assert_ok(StatusCode::OK);
    }

    // A deleted admin's tokens end too: admins are deleted in the database, not through this
    // instance, so within the time an account's standing is trusted.
    sqlx::query("DELETE FROM admins WHERE id = $1").bind(id).execute(&app.db).await.unwrap();
    tokio::time::sleep(deskringer::http::standing::STANDING_TTL + Duration::from_millis(100)).await;
    app.get("/api/admin/stats", fresh).await.assert_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_changed_portal_password_ends_older_tokens_and_answers_a_fresh_one() {
    let app = TestApp::spawn().await;
    let (_, old) = business_with_login(&app).await;

    let changed = app
        .post(
            "/api/portal/change-password",
            &old,
            json!({"current_password": "portal-pass-1", "new_password": "portal-pass-2"}),
        )
        .await;

    let fresh = changed.assert_ok(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
    for uri in ["/api/portal/me", "/api/portal/calls", "/api/portal/stats"] {
        app.get(uri, &old).await.assert_error(StatusCode::UNAUTHORIZED);
        app.get(uri, &fresh).await.assert_ok(StatusCode::OK);
    }
    portal_login(&app, "owner@bella.example", "portal-pass-2").await.assert_ok(StatusCode::OK);
}

#[tokio::test]
async fn a_cancelled_business_is_signed_out_and_told_why_at_login() {
    // Arrange
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = business_with_login(&app).await;

    // Act: the admin cancels the business.
    app.delete(&format!("/api/customers/{id}"), &admin).await.assert_ok(StatusCode::OK);

    // Assert
    for uri in ["/api/portal/me", "/api/portal/calls", "/api/portal/calls/export.csv"] {
        app.get(uri, &token).await.assert_error(StatusCode::UNAUTHORIZED);
    }
    let login = portal_login(&app, "owner@bella.example", "portal-pass-1").await;
    assert!(login.assert_error(StatusCode::FORBIDDEN).contains("cancelled"));
    // A wrong password still reveals nothing.
    portal_login(&app, "owner@bella.example", "wrong-password").await.assert_error(StatusCode::UNAUTHORIZED);

    // Reactivated, it logs in again; the tokens from before stay ended.
    app.put(&format!("/api/customers/{id}"), &admin, json!({"subscription_status": "active"}))
        .await
        .assert_ok(StatusCode::OK);
    let again = portal_login(&app, "owner@bella.example", "portal-pass-1").await;
    let fresh = again.assert_ok(StatusCode::OK)["access_token"].as_str().unwrap().to_owned();
    app.get("/api/portal/me", &fresh).await.assert_ok(StatusCode::OK);
    app.get("/api/portal/me", &token).await.assert_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_issued_before_generations_still_work() {
    // A token minted before token generations existed has no `generation` claim.
    let app = TestApp::spawn().await;
    let id = app.insert_customer("Old Token Co", "old@token.test", "active").await;
    let claims = json!({"sub": id.to_string(), "role": "customer", "iat": Utc::now().timestamp(),
                        "exp": Utc::now().timestamp() + 3600});
    let key = jsonwebtoken::EncodingKey::from_secret(app.state.config.jwt_secret_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();

    assert_eq!(app.get("/api/portal/me", &token).await.assert_ok(StatusCode::OK)["id"], id);
}
