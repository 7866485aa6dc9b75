//! Stripe billing: the admin endpoints (as the Stripe mock receives them), the signed
//! webhook (each event's effect, redelivery, out-of-order delivery, bad signatures) and
//! trial expiry.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use deskringer::http::webhooks::stripe::signature;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header as has_header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Mocks, TestApp};

const WEBHOOK_SECRET: &str = "whsec_test_secret";

async fn app_with_stripe(stripe: &MockServer) -> TestApp {
    let mocks = Mocks::start().await;
    let uri = stripe.uri();
    let config = mocks.config(
        false,
        false,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_123"),
            ("STRIPE_PRICE_ID", "price_basic"),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE_URL", uri.as_str()),
        ],
    );
    TestApp::spawn_with(config).await
}

/// The form fields of a request the Stripe mock received.
fn form(request: &wiremock::Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn status_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT subscription_status FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn cancelled_at(app: &TestApp, id: i64) -> Option<chrono::DateTime<Utc>> {
    sqlx::query_scalar("SELECT cancelled_at FROM customers WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap()
}

async fn subscription_of(app: &TestApp, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT stripe_subscription_id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Posts `event` to the webhook, signed with `secret` at `timestamp`.
async fn deliver(app: &TestApp, event: &Value, secret: &str, timestamp: i64) -> crate::helpers::TestResponse {
    let body = event.to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/webhooks/stripe/webhook")
        .header(header::CONTENT_TYPE, "application/json")
        .header("stripe-signature", signature::sign(body.as_bytes(), secret, timestamp))
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

async fn deliver_now(app: &TestApp, event: &Value) -> crate::helpers::TestResponse {
    deliver(app, event, WEBHOOK_SECRET, Utc::now().timestamp()).await
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": created, "data": {"object": object}})
}

fn subscription(status: &str, cancel_at_period_end: bool) -> Value {
    json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
           "cancel_at_period_end": cancel_at_period_end, "metadata": {}})
}

async fn linked_customer(app: &TestApp, status: &str) -> i64 {
    let id = app.insert_customer("Bella Hair", "owner@bella.test", status).await;
    sqlx::query("UPDATE customers SET stripe_customer_id = 'cus_1', stripe_subscription_id = 'sub_1' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_checkout_then_stripe_payment_makes_the_business_active() {
    // Arrange: Stripe creates one customer (whatever the number of clicks) and a session.
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .and(has_header("authorization", "Basic c2tfdGVzdF8xMjM6"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_new", "object": "customer"})))
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "cs_1", "url": "https://checkout.stripe.test/cs_1"})),
        )
        .expect(2)
        .mount(&stripe)
        .await;
    let app = app_with_stripe(&stripe).await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;

    // Act: the admin creates a checkout session (twice: a double click).
    let first = app.post(&format!("/api/stripe/create-checkout-session/{id}"), &token, json!({})).await;
    let second = app.post(&format!("/api/stripe/create-checkout-session/{id}"), &token, json!({})).await;

    // Assert: the answers, and what Stripe received.
    assert_eq!(
        first.assert_ok(StatusCode::OK),
        &json!({"checkout_url": "https://checkout.stripe.test/cs_1", "session_id": "cs_1"})
    );
    second.assert_ok(StatusCode::OK);
    let received = stripe.received_requests().await.unwrap();
    let customer_request = received.iter().find(|r| r.url.path() == "/v1/customers").unwrap();
    assert_eq!(customer_request.headers["idempotency-key"], format!("deskringer-customer-{id}"));
    let customer_form = form(customer_request);
    assert_eq!(field(&customer_form, "email"), Some("owner@bella.test"));
    assert_eq!(field(&customer_form, "name"), Some("Bella Hair"));
    assert_eq!(field(&customer_form, "metadata[deskringer_customer_id]"), Some(id.to_string().as_str()));
    let session = form(received.iter().find(|r| r.url.path() == "/v1/checkout/sessions").unwrap());
    assert_eq!(field(&session, "mode"), Some("subscription"));
    assert_eq!(field(&session, "customer"), Some("cus_new"));
    assert_eq!(field(&session, "line_items[0][price]"), Some("price_basic"));
    assert_eq!(field(&session, "line_items[0][quantity]"), Some("1"));
    assert_eq!(field(&session, "metadata[deskringer_customer_id]"), Some(id.to_string().as_str()));
    assert!(field(&session, "success_url").unwrap().starts_with("https://portal.deskringer.test/"));
    let stored: Option<String> = sqlx::query_scalar("SELECT stripe_customer_id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("cus_new"));

    // Act: Stripe reports the completed checkout.
    let completed = event(
        "evt_checkout",
        "checkout.session.completed",
        Utc::now().timestamp(),
        json!({"id": "cs_1", "object": "checkout.session", "customer": "cus_new", "subscription": "sub_new",
               "payment_status": "paid",
               "client_reference_id": id.to_string(), "metadata": {"deskringer_customer_id": id.to_string()}}),
    );
    assert_eq!(deliver_now(&app, &completed).await.assert_ok(StatusCode::OK)["received"], true);

    // Assert: the business is active and linked to its subscription.
    assert_eq!(status_of(&app, id).await, "active");
    assert_eq!(subscription_of(&app, id).await.as_deref(), Some("sub_new"));
}

#[tokio::test]
async fn a_payment_link_is_tagged_with_the_business() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_9"})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_links"))
        .and(body_string_contains("line_items%5B0%5D%5Bprice%5D=price_basic"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "plink_1", "url": "https://buy.stripe.test/abc"})),
        )
        .expect(1)
        .mount(&stripe)
        .await;
    let app = app_with_stripe(&stripe).await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;

    let response = app.post(&format!("/api/stripe/create-payment-link/{id}"), &token, json!({})).await;

    assert_eq!(
        response.assert_ok(StatusCode::OK),
        &json!({"payment_link": format!("https://buy.stripe.test/abc?client_reference_id={id}"), "stripe_customer_id": "cus_9"})
    );
    let link =
        form(stripe.received_requests().await.unwrap().iter().find(|r| r.url.path() == "/v1/payment_links").unwrap());
    assert_eq!(field(&link, "subscription_data[metadata][deskringer_customer_id]"), Some(id.to_string().as_str()));
}

#[tokio::test]
async fn subscription_status_and_cancellation() {
    let stripe = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sub_1", "status": "active", "cancel_at_period_end": false,
            "items": {"data": [{"current_period_end": 1798761600}]}
        })))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/subscriptions/sub_1"))
        .and(body_string_contains("cancel_at_period_end=true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sub_1", "status": "active", "cancel_at_period_end": true, "cancel_at": 1798761600
        })))
        .expect(1)
        .mount(&stripe)
        .await;
    let app = app_with_stripe(&stripe).await;
    let token = app.admin_token().await;
    let linked = linked_customer(&app, "active").await;
    let unlinked = app.insert_customer("New Co", "new@co.test", "trial").await;

    let status = app.get(&format!("/api/stripe/subscription-status/{linked}"), &token).await;
    assert_eq!(
        status.assert_ok(StatusCode::OK),
        &json!({"status": "active", "has_stripe_subscription": true, "current_period_end": "2027-01-01T00:00:00Z", "cancel_at_period_end": false})
    );
    let local = app.get(&format!("/api/stripe/subscription-status/{unlinked}"), &token).await;
    assert_eq!(local.assert_ok(StatusCode::OK), &json!({"status": "trial", "has_stripe_subscription": false}));

    let cancel = app.post(&format!("/api/stripe/cancel-subscription/{linked}"), &token, json!({})).await;
    assert_eq!(cancel.assert_ok(StatusCode::OK)["cancel_at"], "2027-01-01T00:00:00Z");
    assert_eq!(status_of(&app, linked).await, "cancelling");
    app.post(&format!("/api/stripe/cancel-subscription/{unlinked}"), &token, json!({}))
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    app.get("/api/stripe/subscription-status/999999", &token).await.assert_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stripe_errors_are_502_with_stripe_message_and_nothing_is_stored() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(
            ResponseTemplate::new(402)
                .set_body_json(json!({"error": {"message": "Your card was declined.", "type": "card_error"}})),
        )
        .mount(&stripe)
        .await;
    let app = app_with_stripe(&stripe).await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;

    let response = app.post(&format!("/api/stripe/create-checkout-session/{id}"), &token, json!({})).await;

    assert!(response.assert_error(StatusCode::BAD_GATEWAY).contains("Your card was declined."));
    let stored: Option<String> = sqlx::query_scalar("SELECT stripe_customer_id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, None);
}

#[tokio::test]
async fn without_a_stripe_key_billing_answers_503() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    for (method, uri) in [
        (Method::POST, format!("/api/stripe/create-payment-link/{id}")),
        (Method::POST, format!("/api/stripe/create-checkout-session/{id}")),
        (Method::GET, format!("/api/stripe/subscription-status/{id}")),
        (Method::POST, format!("/api/stripe/cancel-subscription/{id}")),
    ] {
        let response = app.call(method, &uri, Some(&token), None).await;
        assert!(response.assert_error(StatusCode::SERVICE_UNAVAILABLE).contains("STRIPE_SECRET_KEY"));
    }
    // And billing is admin-only.
    let customer_token = app.token(deskringer::auth::Role::Customer, id);
    app.call(Method::POST, &format!("/api/stripe/create-checkout-session/{id}"), Some(&customer_token), None)
        .await
        .assert_error(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_event_type_moves_the_status() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = linked_customer(&app, "trial").await;
    let mut t = Utc::now().timestamp() - 1000;
    let mut next = |kind: &str, object: Value| {
        t += 10;
        event(&format!("evt_{t}"), kind, t, object)
    };

    let steps = [
        (next("customer.subscription.created", subscription("active", false)), "active"),
        (next("invoice.payment_failed", json!({"customer": "cus_1", "subscription": "sub_1"})), "past_due"),
        (next("invoice.payment_succeeded", json!({"customer": "cus_1", "subscription": "sub_1"})), "active"),
        (next("customer.subscription.updated", subscription("past_due", false)), "past_due"),
        (next("customer.subscription.updated", subscription("active", true)), "cancelling"),
        (next("customer.subscription.deleted", subscription("canceled", false)), "cancelled"),
    ];
    for (event, expected) in steps {
        deliver_now(&app, &event).await.assert_ok(StatusCode::OK);
        assert_eq!(status_of(&app, id).await, expected, "after {}", event["type"]);
    }
    assert!(cancelled_at(&app, id).await.is_some());
    // A payment after the subscription ended does not revive it.
    deliver_now(&app, &next("invoice.payment_succeeded", json!({"customer": "cus_1", "subscription": "sub_1"}))).await;
    assert_eq!(status_of(&app, id).await, "cancelled");
    assert_eq!(app.count("stripe_events").await, 7);
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = linked_customer(&app, "active").await;
    let failed = event("evt_dup", "invoice.payment_failed", Utc::now().timestamp() - 100, json!({"customer": "cus_1"}));
    deliver_now(&app, &failed).await.assert_ok(StatusCode::OK);
    assert_eq!(status_of(&app, id).await, "past_due");

    // Meanwhile staff restore the business by hand; then Stripe redelivers the old event.
    sqlx::query("UPDATE customers SET subscription_status = 'active' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let again = deliver_now(&app, &failed).await;
    assert_eq!(again.assert_ok(StatusCode::OK)["duplicate"], true);
    assert_eq!(status_of(&app, id).await, "active");
    assert_eq!(app.count("stripe_events").await, 1);
}

#[tokio::test]
async fn an_older_event_arriving_late_never_overwrites_a_newer_status() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = linked_customer(&app, "active").await;
    let now = Utc::now().timestamp();
    let newer = event("evt_new", "customer.subscription.deleted", now - 10, subscription("canceled", false));
    let older = event("evt_old", "customer.subscription.updated", now - 60, subscription("active", false));

    deliver_now(&app, &newer).await.assert_ok(StatusCode::OK);
    deliver_now(&app, &older).await.assert_ok(StatusCode::OK);

    assert_eq!(status_of(&app, id).await, "cancelled");
    assert_eq!(app.count("stripe_events").await, 2, "both recorded, so neither is applied twice");
}

#[tokio::test]
async fn a_local_change_is_not_undone_by_an_older_event() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let token = app.admin_token().await;
    let id = linked_customer(&app, "active").await;
    app.delete(&format!("/api/customers/{id}"), &token).await.assert_ok(StatusCode::OK);

    let stale = event(
        "evt_stale",
        "customer.subscription.updated",
        Utc::now().timestamp() - 120,
        subscription("active", false),
    );
    deliver_now(&app, &stale).await.assert_ok(StatusCode::OK);

    assert_eq!(status_of(&app, id).await, "cancelled");
}

#[tokio::test]
async fn bad_stale_and_missing_signatures_are_400_and_change_nothing() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = linked_customer(&app, "active").await;
    let failed = event("evt_sig", "invoice.payment_failed", Utc::now().timestamp(), json!({"customer": "cus_1"}));

    deliver(&app, &failed, "whsec_wrong", Utc::now().timestamp()).await.assert_error(StatusCode::BAD_REQUEST);
    deliver(&app, &failed, WEBHOOK_SECRET, Utc::now().timestamp() - 600).await.assert_error(StatusCode::BAD_REQUEST);
    let unsigned = Request::builder()
        .method(Method::POST)
        .uri("/api/webhooks/stripe/webhook")
        .body(Body::from(failed.to_string()))
        .unwrap();
    app.send(unsigned).await.assert_error(StatusCode::BAD_REQUEST);
    // A valid signature over a different body.
    let header = signature::sign(b"{}", WEBHOOK_SECRET, Utc::now().timestamp());
    let swapped = Request::builder()
        .method(Method::POST)
        .uri("/api/webhooks/stripe/webhook")
        .header("stripe-signature", header)
        .body(Body::from(failed.to_string()))
        .unwrap();
    app.send(swapped).await.assert_error(StatusCode::BAD_REQUEST);

    assert_eq!(status_of(&app, id).await, "active");
    assert_eq!(app.count("stripe_events").await, 0);
}

#[tokio::test]
async fn unknown_event_types_and_unknown_businesses_are_acknowledged() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    deliver_now(&app, &event("evt_x", "charge.refunded", Utc::now().timestamp(), json!({"id": "ch_1"})))
        .await
        .assert_ok(StatusCode::OK);
    deliver_now(
        &app,
        &event("evt_y", "invoice.payment_failed", Utc::now().timestamp(), json!({"customer": "cus_nobody"})),
    )
    .await
    .assert_ok(StatusCode::OK);
    // Valid signature but not an event: 400, and not recorded.
    deliver_now(&app, &json!({"hello": "world"})).await.assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(app.count("stripe_events").await, 2);
}

#[tokio::test]
async fn ended_trials_expire_daily_and_when_a_call_arrives() {
    let app = TestApp::spawn().await;
    let ended = app.insert_customer("Ended", "ended@x.test", "trial").await;
    let running = app.insert_customer("Running", "running@x.test", "trial").await;
    let subscribed = app.insert_customer("Subscribed", "sub@x.test", "trial").await;
    sqlx::query("UPDATE customers SET trial_ends_at = now() - interval '1 hour' WHERE id = ANY($1)")
        .bind(vec![ended, subscribed])
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE customers SET stripe_subscription_id = 'sub_9' WHERE id = $1")
        .bind(subscribed)
        .execute(&app.db)
        .await
        .unwrap();

    let expired = deskringer::jobs::billing::expire_trials(&app.db).await.unwrap();

    assert_eq!(expired, 1);
    assert_eq!(status_of(&app, ended).await, "trial_expired");
    assert_eq!(status_of(&app, running).await, "trial");
    assert_eq!(status_of(&app, subscribed).await, "trial");

    // A call to a trial that ended since the job ran expires it on the spot.
    sqlx::query("UPDATE customers SET trial_ends_at = now() - interval '1 minute', deskringer_number = '+14155550123' WHERE id = $1")
        .bind(running)
        .execute(&app.db)
        .await
        .unwrap();
    let answer = app
        .twilio(
            "/api/webhooks/twilio/voice",
            &[("CallSid", "CA-exp"), ("From", "+14155550199"), ("To", "+14155550123")],
        )
        .await;
    assert!(answer.text.contains("not in service"));
    assert_eq!(status_of(&app, running).await, "trial_expired");
}

#[tokio::test]
async fn a_past_due_business_keeps_service_for_the_grace_period() {
    let app = TestApp::spawn().await;
    let id = app.insert_customer("Late Payer", "late@x.test", "past_due").await;
    sqlx::query("UPDATE customers SET deskringer_number = '+14155550124', past_due_since = now() - interval '6 days' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let call = async |sid: &str| {
        app.twilio("/api/webhooks/twilio/voice", &[("CallSid", sid), ("From", "+14155550199"), ("To", "+14155550124")])
            .await
    };

    assert!(call("CA-grace").await.text.contains("<Gather"), "within 7 days the call is answered");
    sqlx::query("UPDATE customers SET past_due_since = now() - interval '8 days' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    assert!(call("CA-late").await.text.contains("not in service"));
}

#[tokio::test]
async fn a_deletion_at_stripe_ends_the_subscription_even_after_a_later_local_change() {
    // Arrange: the admin set cancel-at-period-end (a local change, now); Stripe's deletion
    // event was created a minute earlier and arrives after it.
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = linked_customer(&app, "active").await;
    sqlx::query(
        "UPDATE customers SET subscription_status = 'cancelling', subscription_status_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    let deleted =
        event("evt_del", "customer.subscription.deleted", Utc::now().timestamp() - 60, subscription("canceled", false));

    // Act
    deliver_now(&app, &deleted).await.assert_ok(StatusCode::OK);

    // Assert: cancelled, with the time it ended.
    assert_eq!(status_of(&app, id).await, "cancelled");
    assert!(cancelled_at(&app, id).await.is_some());
}

#[tokio::test]
async fn events_about_another_subscription_change_nothing() {
    // Arrange: the business's current subscription is sub_2; sub_1 was an older one.
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = linked_customer(&app, "active").await;
    sqlx::query("UPDATE customers SET stripe_subscription_id = 'sub_2' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let now = Utc::now().timestamp();

    // Act: news of the old subscription, all newer than the current status.
    for (n, (kind, object)) in [
        ("customer.subscription.updated", subscription("past_due", false)),
        ("customer.subscription.deleted", subscription("canceled", false)),
        ("invoice.payment_failed", json!({"id": "in_1", "customer": "cus_1", "subscription": "sub_1"})),
    ]
    .into_iter()
    .enumerate()
    {
        deliver_now(&app, &event(&format!("evt_old_{n}"), kind, now + 5, object)).await.assert_ok(StatusCode::OK);
    }

    // Assert
    assert_eq!(status_of(&app, id).await, "active");
    assert_eq!(subscription_of(&app, id).await.as_deref(), Some("sub_2"));
}

#[tokio::test]
async fn a_checkout_activates_only_once_paid() {
    let stripe = MockServer::start().await;
    let app = app_with_stripe(&stripe).await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let session = |payment_status: &str| {
        json!({"id": "cs_1", "object": "checkout.session", "customer": "cus_9", "subscription": "sub_9",
               "payment_status": payment_status, "metadata": {"deskringer_customer_id": id.to_string()}})
    };
    let now = Utc::now().timestamp();

    // A checkout whose (bank) payment is still pending links the subscription, no more.
    deliver_now(&app, &event("evt_unpaid", "checkout.session.completed", now, session("unpaid")))
        .await
        .assert_ok(StatusCode::OK);
    assert_eq!(status_of(&app, id).await, "trial");

    // Stripe reports the payment made.
    deliver_now(&app, &event("evt_paid", "checkout.session.async_payment_succeeded", now + 1, session("paid")))
        .await
        .assert_ok(StatusCode::OK);
    assert_eq!(status_of(&app, id).await, "active");

    // A free plan needs no payment.
    let free = app.insert_customer("Free Co", "free@co.test", "trial").await;
    let object = json!({"id": "cs_2", "customer": "cus_f", "subscription": "sub_f",
                        "payment_status": "no_payment_required", "metadata": {"deskringer_customer_id": free.to_string()}});
    deliver_now(&app, &event("evt_free", "checkout.session.completed", now, object)).await.assert_ok(StatusCode::OK);
    assert_eq!(status_of(&app, free).await, "active");
}
