//! A business sets itself up in the portal: the checklist, subscribing through Stripe
//! Checkout to a number bought for it, and the test call that rings the owner's phone.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use deskringer::auth::Role;
use deskringer::http::webhooks::stripe::signature;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Mocks, TestApp, Twiml};
use crate::numbers::{ACCOUNT, STATUS_URL, VOICE_URL, form, received, stock_and_sell};

const WEBHOOK_SECRET: &str = "whsec_onboarding";

/// An app with Twilio, SendGrid and Stripe stood in by mocks.
pub(crate) async fn onboarding_app(extra: &[(&str, &str)]) -> (TestApp, Mocks, MockServer) {
    let mocks = Mocks::start().await;
    let stripe = MockServer::start().await;
    let stripe_uri = stripe.uri();
    let mut vars = vec![
        ("STRIPE_SECRET_KEY", "sk_test_123"),
        ("STRIPE_PRICE_ID", "price_basic"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_BASE_URL", stripe_uri.as_str()),
    ];
    vars.extend_from_slice(extra);
    let app = TestApp::spawn_with(mocks.config(false, true, &vars)).await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mocks.sendgrid)
        .await;
    (app, mocks, stripe)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn step<'a>(onboarding: &'a Value, key: &str) -> &'a Value {
    onboarding["steps"].as_array().unwrap().iter().find(|s| s["key"] == key).unwrap()
}

#[tokio::test]
async fn a_new_business_sees_every_step_missing_and_a_finished_one_sees_it_complete() {
    let app = TestApp::spawn().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let token = app.token(Role::Customer, id);

    let new = app.get("/api/portal/onboarding", &token).await.assert_ok(StatusCode::OK).clone();

    let keys: Vec<&str> = new["steps"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "business_details",
            "hours",
            "greeting",
            "services_faqs",
            "forward_number",
            "notifications",
            "subscription",
            "phone_number",
            "test_call"
        ]
    );
    assert!(new["steps"].as_array().unwrap().iter().all(|s| s["done"] == false && s["missing"].is_string()));
    assert_eq!(step(&new, "business_details")["missing"], "contact name, business phone, business type");
    assert_eq!(new["complete"], false);

    // The owner fills in the settings page (the portal's own save body) ...
    let filled: Value =
        serde_json::from_str(include_str!("../fixtures/client-bodies/portal-settings-save-filled.json")).unwrap();
    app.put("/api/portal/settings", &token, filled).await.assert_ok(StatusCode::OK);
    let notifications = app.get("/api/portal/onboarding", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(
        step(&notifications, "notifications")["missing"],
        "an email address or mobile number for call summaries"
    );
    app.put("/api/portal/settings", &token, json!({"notification_email": "", "notification_phone": "+14155550123"}))
        .await
        .assert_ok(StatusCode::OK);
    let half = app.get("/api/portal/onboarding", &token).await.assert_ok(StatusCode::OK).clone();
    for key in ["business_details", "hours", "greeting", "services_faqs", "forward_number", "notifications"] {
        assert_eq!(step(&half, key)["done"], true, "{key}: {half}");
        assert!(step(&half, key).get("missing").is_none());
    }
    assert_eq!(half["complete"], false);

    // ... subscribes, gets a number and answers a test call.
    sqlx::query(
        "UPDATE customers SET stripe_subscription_id = 'sub_1', subscription_status = 'active', \
         deskringer_number = '+13125550100' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    let call = app.insert_call(crate::helpers::NewCall::completed(id)).await;
    sqlx::query("UPDATE calls SET is_test = true WHERE id = $1").bind(call).execute(&app.db).await.unwrap();

    let done = app.get("/api/portal/onboarding", &token).await.assert_ok(StatusCode::OK).clone();
    assert!(done["steps"].as_array().unwrap().iter().all(|s| s["done"] == true), "{done}");
    assert_eq!(done["complete"], true);
}

async fn deliver(app: &TestApp, event: &Value) -> crate::helpers::TestResponse {
    let body = event.to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/webhooks/stripe/webhook")
        .header(header::CONTENT_TYPE, "application/json")
        .header("stripe-signature", signature::sign(body.as_bytes(), WEBHOOK_SECRET, Utc::now().timestamp()))
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn a_business_subscribes_itself_and_gets_a_number_in_its_own_area_code() {
    let (app, mocks, stripe) = onboarding_app(&[("AUTO_PROVISION_NUMBERS", "true")]).await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_9"})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "cs_9", "url": "https://checkout.stripe.test/cs_9"})),
        )
        .mount(&stripe)
        .await;
    stock_and_sell(&mocks.twilio, Some("312"), "+13125550100", "PN100").await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    sqlx::query("UPDATE customers SET phone = '+13125550199' WHERE id = $1").bind(id).execute(&app.db).await.unwrap();
    let token = app.token(Role::Customer, id);

    let checkout = app.post("/api/portal/subscribe", &token, json!({})).await;

    assert_eq!(checkout.assert_ok(StatusCode::OK)["checkout_url"], "https://checkout.stripe.test/cs_9");
    let sessions = received(&stripe, "POST", "/v1/checkout/sessions").await;
    let fields = form(&sessions[0]);
    assert_eq!(field(&fields, "line_items[0][price]"), Some("price_basic"));
    assert_eq!(field(&fields, "customer"), Some("cus_9"));
    assert_eq!(field(&fields, "metadata[deskringer_customer_id]"), Some(id.to_string().as_str()));
    assert_eq!(field(&fields, "subscription_data[metadata][deskringer_customer_id]"), Some(id.to_string().as_str()));

    // Stripe reports the paid checkout (twice: a redelivery changes nothing).
    let completed = json!({"id": "evt_1", "type": "checkout.session.completed", "created": Utc::now().timestamp(),
        "data": {"object": {"id": "cs_9", "customer": "cus_9", "subscription": "sub_9", "payment_status": "paid",
                            "client_reference_id": id.to_string(), "metadata": {"deskringer_customer_id": id.to_string()}}}});
    deliver(&app, &completed).await.assert_ok(StatusCode::OK);
    assert_eq!(deliver(&app, &completed).await.assert_ok(StatusCode::OK)["duplicate"], true);
    assert_eq!(app.queued_jobs().await, ["provision_number"]);

    app.run_jobs().await;

    let (number, status): (Option<String>, String) =
        sqlx::query_as("SELECT deskringer_number, subscription_status FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((number.as_deref(), status.as_str()), (Some("+13125550100"), "active"));
    let bought = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/IncomingPhoneNumbers.json")).await;
    assert_eq!(bought.len(), 1);
    assert_eq!(field(&form(&bought[0]), "VoiceUrl"), Some(VOICE_URL));
    let emails = mocks.sendgrid.received_requests().await.unwrap();
    assert_eq!(emails.len(), 1);
    let email: Value = serde_json::from_slice(&emails[0].body).unwrap();
    assert_eq!(email["personalizations"][0]["to"][0]["email"], "owner@bella.test");
    assert_eq!(email["subject"], "Your DeskRinger number is ready: +13125550100");
    assert!(email["content"][0]["value"].as_str().unwrap().contains("forward your business line"));

    // Subscribed now: a second checkout is refused.
    let again = app.post("/api/portal/subscribe", &token, json!({})).await;
    assert_eq!(again.assert_error(StatusCode::CONFLICT), "this business already has a subscription");
    let onboarding = app.get("/api/portal/onboarding", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(step(&onboarding, "subscription")["done"], true);
    assert_eq!(step(&onboarding, "phone_number")["done"], true);
}

#[tokio::test]
async fn the_web_app_asks_stripe_to_send_the_owner_back_to_its_home_screen() {
    // Arrange: Stripe answers every checkout; the business has no subscription yet.
    let (app, _mocks, stripe) = onboarding_app(&[("PORTAL_URL", "https://portal.deskringer.test")]).await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_9"})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "cs_9", "url": "https://checkout.stripe.test/cs_9"})),
        )
        .mount(&stripe)
        .await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let token = app.token(Role::Customer, id);

    // Act: a URL of the client's choosing is refused before Stripe is asked; `app` is taken.
    let refused = app.post("/api/portal/subscribe?return_to=https://evil.test/", &token, json!({})).await;
    let stripe_calls_after_refusal = received(&stripe, "POST", "/v1/checkout/sessions").await.len();
    let from_app = app.post("/api/portal/subscribe?return_to=app", &token, json!({})).await;
    let from_portal = app.post("/api/portal/subscribe", &token, json!({})).await;

    // Assert
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["details"], json!({"return_to": "must be `app`, or left out for the portal"}));
    assert_eq!(stripe_calls_after_refusal, 0);
    from_app.assert_ok(StatusCode::OK);
    from_portal.assert_ok(StatusCode::OK);
    let sessions = received(&stripe, "POST", "/v1/checkout/sessions").await;
    let (app_session, portal_session) = (form(&sessions[0]), form(&sessions[1]));
    assert_eq!(
        field(&app_session, "success_url"),
        Some("https://deskringer.test/app/?checkout=success&session_id={CHECKOUT_SESSION_ID}#/home")
    );
    assert_eq!(field(&app_session, "cancel_url"), Some("https://deskringer.test/app/?checkout=cancelled#/home"));
    // Without `return_to` nothing changes for the existing portal.
    assert_eq!(
        field(&portal_session, "success_url"),
        Some("https://portal.deskringer.test/billing/success?session_id={CHECKOUT_SESSION_ID}")
    );
    assert_eq!(field(&portal_session, "cancel_url"), Some("https://portal.deskringer.test/billing/cancelled"));
}

#[tokio::test]
async fn without_auto_provisioning_a_paid_checkout_buys_nothing() {
    let (app, _mocks, _stripe) = onboarding_app(&[]).await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let completed = json!({"id": "evt_2", "type": "checkout.session.completed", "created": Utc::now().timestamp(),
        "data": {"object": {"customer": "cus_9", "subscription": "sub_9", "payment_status": "paid",
                            "metadata": {"deskringer_customer_id": id.to_string()}}}});
    deliver(&app, &completed).await.assert_ok(StatusCode::OK);
    assert!(app.queued_jobs().await.is_empty());
}

#[tokio::test]
async fn a_business_that_left_before_the_job_ran_gets_no_number() {
    let (app, mocks, _stripe) = onboarding_app(&[("AUTO_PROVISION_NUMBERS", "true")]).await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "cancelled").await;

    deskringer::jobs::numbers::provision_number(&app.state.job_context(), id).await.unwrap();

    assert!(mocks.twilio.received_requests().await.unwrap().is_empty());
    assert!(mocks.sendgrid.received_requests().await.unwrap().is_empty());
    assert!(app.queued_jobs().await.is_empty());
}

/// A business with a number, its own phone, and a portal token.
async fn ready_business(app: &TestApp) -> (i64, String) {
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    sqlx::query(
        "UPDATE customers SET phone = '+13125550199', deskringer_number = '+13125550100', \
         greeting_message = 'Bella Hair, how can I help?' WHERE id = $1",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    (id, app.token(Role::Customer, id))
}

#[tokio::test]
async fn a_test_call_rings_the_owner_with_this_business_receptionist_and_counts_nowhere() {
    let (app, mocks, _stripe) = onboarding_app(&[]).await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Calls.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "CAtest1", "status": "queued"})))
        .mount(&mocks.twilio)
        .await;
    let (id, token) = ready_business(&app).await;
    // Another business answers on the owner's phone number: the test call must still be Bella's.
    let other = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    sqlx::query("UPDATE customers SET deskringer_number = '+13125550199' WHERE id = $1")
        .bind(other)
        .execute(&app.db)
        .await
        .unwrap();

    let placed = app.post("/api/portal/test-call", &token, json!({})).await;

    let body = placed.assert_ok(StatusCode::ACCEPTED);
    assert_eq!((body["to"].as_str(), body["from"].as_str()), (Some("+13125550199"), Some("+13125550100")));
    let calls = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/Calls.json")).await;
    assert_eq!(calls.len(), 1);
    let fields = form(&calls[0]);
    let test_call: i64 = sqlx::query_scalar("SELECT id FROM test_calls").fetch_one(&app.db).await.unwrap();
    let voice_path = format!("/api/webhooks/twilio/voice?test_call={test_call}");
    assert_eq!(field(&fields, "To"), Some("+13125550199"));
    assert_eq!(field(&fields, "From"), Some("+13125550100"));
    assert_eq!(field(&fields, "Url"), Some(format!("https://deskringer.test{voice_path}").as_str()));
    assert_eq!(field(&fields, "Method"), Some("POST"));
    assert_eq!(field(&fields, "StatusCallback"), Some(STATUS_URL));

    // The owner answers: Twilio fetches the TwiML as an outbound call to the owner's phone.
    let answer = app
        .twilio(
            &voice_path,
            &[
                ("CallSid", "CAtest1"),
                ("Direction", "outbound-api"),
                ("To", "+13125550199"),
                ("From", "+13125550100"),
                ("CallStatus", "in-progress"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(Twiml::from(&answer).says().iter().any(|s| s.contains("Bella Hair, how can I help?")), "{}", answer.text);
    let (customer_id, is_test): (i64, bool) =
        sqlx::query_as("SELECT customer_id, is_test FROM calls WHERE twilio_call_sid = 'CAtest1'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((customer_id, is_test), (id, true));
    // The owner speaks; the call ends.
    let reply = app
        .twilio("/api/webhooks/twilio/gather", &[("CallSid", "CAtest1"), ("SpeechResult", "Are you open Sunday?")])
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let ended = app
        .twilio(
            "/api/webhooks/twilio/status",
            &[("CallSid", "CAtest1"), ("CallStatus", "completed"), ("CallDuration", "42")],
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK);

    // No summary or notification job, and no figure counts it.
    assert!(app.queued_jobs().await.is_empty(), "{:?}", app.queued_jobs().await);
    let stats = app.get("/api/portal/stats", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(stats["total_calls"], 0);
    let list = app.get("/api/portal/calls", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(list["total"], 0);
    let admin = app.admin_token().await;
    let all = app.get("/api/calls", &admin).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(all["calls"].as_array().unwrap().len(), 0, "{all}");
    let admin_stats = app.get("/api/admin/stats", &admin).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(admin_stats["calls"]["total"], 0, "{admin_stats}");
    let onboarding = app.get("/api/portal/onboarding", &token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(step(&onboarding, "test_call")["done"], true);
}

#[tokio::test]
async fn test_calls_are_limited_per_hour_and_need_a_phone_and_a_number() {
    let (app, mocks, _stripe) = onboarding_app(&[]).await;
    let placed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Calls.json")))
        .respond_with(move |_: &wiremock::Request| {
            // Twilio gives every call its own SID.
            let n = placed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(201).set_body_json(json!({"sid": format!("CA{n}"), "status": "queued"}))
        })
        .mount(&mocks.twilio)
        .await;
    let (_id, token) = ready_business(&app).await;

    for _ in 0..3 {
        app.post("/api/portal/test-call", &token, json!({})).await.assert_ok(StatusCode::ACCEPTED);
    }
    let fourth = app.post("/api/portal/test-call", &token, json!({})).await;

    fourth.assert_error(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = fourth.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/Calls.json")).await.len(), 3);

    // No phone to ring, or no number to ring from.
    let bare = app.insert_customer("Bare", "bare@b.test", "trial").await;
    let bare_token = app.token(Role::Customer, bare);
    let no_phone = app.post("/api/portal/test-call", &bare_token, json!({})).await;
    assert!(no_phone.assert_error(StatusCode::UNPROCESSABLE_ENTITY).starts_with("phone:"));
    sqlx::query("UPDATE customers SET notification_phone = '+13125550188' WHERE id = $1")
        .bind(bare)
        .execute(&app.db)
        .await
        .unwrap();
    let no_number = app.post("/api/portal/test-call", &bare_token, json!({})).await;
    assert!(no_number.assert_error(StatusCode::CONFLICT).contains("number"));
    assert_eq!(received(&mocks.twilio, "POST", &format!("{ACCOUNT}/Calls.json")).await.len(), 3);
}

#[tokio::test]
async fn a_failed_test_call_says_why_and_does_not_count_against_the_limit() {
    let (app, mocks, _stripe) = onboarding_app(&[]).await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Calls.json")))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": 21215, "message": "Account not authorized to call +13125550199", "status": 400}),
        ))
        .mount(&mocks.twilio)
        .await;
    let (_id, token) = ready_business(&app).await;

    let response = app.post("/api/portal/test-call", &token, json!({})).await;

    assert_eq!(response.assert_error(StatusCode::BAD_GATEWAY), "Twilio: Account not authorized to call +13125550199");
    assert_eq!(app.count("test_calls").await, 0);
}

/// Twilio places any call it is asked for, each with its own SID; `expected` is how many
/// the test allows.
async fn twilio_places_calls(mocks: &Mocks, expected: u64) {
    let placed = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Calls.json")))
        .respond_with(move |_: &wiremock::Request| {
            let n = placed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ResponseTemplate::new(201).set_body_json(json!({"sid": format!("CAplaced{n}"), "status": "queued"}))
        })
        .expect(expected)
        .mount(&mocks.twilio)
        .await;
}

#[tokio::test]
async fn a_test_call_rings_only_phones_in_the_allowed_countries() {
    let (app, mocks, _stripe) = onboarding_app(&[]).await;
    twilio_places_calls(&mocks, 0).await;
    let (_id, token) = ready_business(&app).await;

    // The owner's phone abroad, on an international network, in the Caribbean (+1 but not
    // US or Canada) or on a premium +1 900 line: refused, and Twilio is asked nothing.
    for phone in ["+882 1234 5678 90", "+44 20 7946 0000", "+1 876 555 0199", "+1 900 555 0199"] {
        app.put("/api/portal/settings", &token, json!({"phone": phone})).await.assert_ok(StatusCode::OK);

        let refused = app.post("/api/portal/test-call", &token, json!({})).await;

        let message = refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.starts_with("phone: test calls ring only phones in US, CA"), "{phone}: {message}");
        assert_eq!(refused.body["details"]["phone"].as_str().map(|d| d.contains("is not one")), Some(true));
    }
    assert_eq!(app.count("test_calls").await, 0);
    mocks.twilio.verify().await;
}

#[tokio::test]
async fn a_test_call_rings_a_canadian_phone_or_the_notification_phone_when_the_business_phone_is_abroad() {
    let (app, mocks, _stripe) = onboarding_app(&[]).await;
    twilio_places_calls(&mocks, 2).await;
    let (id, token) = ready_business(&app).await;
    sqlx::query("UPDATE customers SET phone = '+14165550199' WHERE id = $1").bind(id).execute(&app.db).await.unwrap();

    let canadian = app.post("/api/portal/test-call", &token, json!({})).await;

    assert_eq!(canadian.assert_ok(StatusCode::ACCEPTED)["to"], "+14165550199");
    sqlx::query("UPDATE customers SET phone = '+8821234567890', notification_phone = '+13125550188' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let fallback = app.post("/api/portal/test-call", &token, json!({})).await;
    assert_eq!(fallback.assert_ok(StatusCode::ACCEPTED)["to"], "+13125550188");
    let calls = received(&mocks.twilio, "POST", &format!("{ACCOUNT}/Calls.json")).await;
    let rung: Vec<String> = calls.iter().map(|call| field(&form(call), "To").unwrap_or_default().to_owned()).collect();
    assert_eq!(rung, ["+14165550199", "+13125550188"]);
}

#[tokio::test]
async fn the_operator_chooses_the_countries_test_calls_ring() {
    let (app, mocks, _stripe) = onboarding_app(&[("TEST_CALL_COUNTRIES", "GB")]).await;
    twilio_places_calls(&mocks, 1).await;
    let (id, token) = ready_business(&app).await;

    let us = app.post("/api/portal/test-call", &token, json!({})).await;
    assert!(us.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("only phones in GB"), "{}", us.text);
    sqlx::query("UPDATE customers SET phone = '+447911123456' WHERE id = $1").bind(id).execute(&app.db).await.unwrap();
    let gb = app.post("/api/portal/test-call", &token, json!({})).await;
    assert_eq!(gb.assert_ok(StatusCode::ACCEPTED)["to"], "+447911123456");
    mocks.twilio.verify().await;
}

#[tokio::test]
async fn a_business_out_of_service_places_no_test_call() {
    let (app, mocks, _stripe) = onboarding_app(&[]).await;
    twilio_places_calls(&mocks, 0).await;
    let (id, token) = ready_business(&app).await;
    let set_status = |status: &'static str, trial_ends: &'static str, past_due_since: Option<&'static str>| {
        let db = app.db.clone();
        async move {
            sqlx::query(
                "UPDATE customers SET subscription_status = $2, trial_ends_at = now() + $3::interval, \
                 past_due_since = now() - $4::interval WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(trial_ends)
            .bind(past_due_since)
            .execute(&db)
            .await
            .unwrap();
        }
    };

    // A trial that has ended (before and after the daily job records it), a payment
    // overdue past the grace period: 409 saying why.
    for (status, trial_ends, past_due_since, why) in [
        ("trial", "-1 hour", None, "its free trial has ended"),
        ("trial_expired", "-3 days", None, "its free trial has ended"),
        ("past_due", "-30 days", Some("30 days"), "its subscription payment is overdue"),
    ] {
        set_status(status, trial_ends, past_due_since).await;
        app.state.standings.forget(Role::Customer, id);

        let refused = app.post("/api/portal/test-call", &token, json!({})).await;

        let message = refused.assert_error(StatusCode::CONFLICT);
        assert!(message.contains("not in service") && message.contains(why), "{status}: {message}");
    }
    // A cancelled business's token no longer works at all.
    set_status("cancelled", "-30 days", None).await;
    app.state.standings.forget(Role::Customer, id);
    app.post("/api/portal/test-call", &token, json!({})).await.assert_error(StatusCode::UNAUTHORIZED);

    assert_eq!(app.count("test_calls").await, 0);
    mocks.twilio.verify().await;
}

#[tokio::test]
async fn the_portal_cannot_change_its_number_but_an_admin_can() {
    let app = TestApp::spawn().await;
    let (id, token) = ready_business(&app).await;
    let other = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    sqlx::query("UPDATE customers SET deskringer_number = '+13125550177' WHERE id = $1")
        .bind(other)
        .execute(&app.db)
        .await
        .unwrap();

    let refused = app.put("/api/portal/settings", &token, json!({"deskringer_number": "+13125550111"})).await;
    assert_eq!(
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY),
        "deskringer_number is not a field that can be set here"
    );

    let admin = app.admin_token().await;
    let taken = app.put(&format!("/api/customers/{id}"), &admin, json!({"deskringer_number": "+13125550177"})).await;
    taken.assert_error(StatusCode::CONFLICT);
    let invalid = app.put(&format!("/api/customers/{id}"), &admin, json!({"deskringer_number": "12"})).await;
    invalid.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    app.put(&format!("/api/customers/{id}"), &admin, json!({"deskringer_number": "+13125550111"}))
        .await
        .assert_ok(StatusCode::OK);
    let number: String = sqlx::query_scalar("SELECT deskringer_number FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(number, "+13125550111");
}
