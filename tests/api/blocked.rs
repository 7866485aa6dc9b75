//! Unwanted calls: numbers a business blocks, numbers blocked for every business, and
//! callers whose caller ID failed verification. A refused call is rejected busy before the
//! receptionist answers: no model call, no call row (nothing billed or listed), counted in
//! the portal's `blocked_calls`.

use axum::http::{Method, StatusCode};
use deskringer::auth::Role;
use serde_json::json;

use crate::helpers::{Mocks, NewCall, TestApp, Twiml, keys};

const NUMBER: &str = "+14155550111";
const OTHER_NUMBER: &str = "+14155550112";
const CALLER: &str = "+14155550199";
const REJECTED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Reject reason=\"busy\"/></Response>";

/// An active business answering `number`, with its owner's token.
async fn business(app: &TestApp, name: &str, number: &str) -> (i64, String) {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (business_name, email, deskringer_number, subscription_status, ai_instructions) \
         VALUES ($1, $1 || '@owner.test', $2, 'active', 'You are the receptionist.') RETURNING id",
    )
    .bind(name)
    .bind(number)
    .fetch_one(&app.db)
    .await
    .unwrap();
    (id, app.token(Role::Customer, id))
}

/// A call from `from` to `to`, with any extra Twilio parameters (`StirVerstat`).
async fn ring(app: &TestApp, sid: &str, from: &str, to: &str, extra: &[(&str, &str)]) -> crate::helpers::TestResponse {
    let mut params = vec![("CallSid", sid), ("From", from), ("To", to)];
    params.extend_from_slice(extra);
    app.twilio("/api/webhooks/twilio/voice", &params).await
}

/// Whether a call was answered by the receptionist (it listens for the caller).
fn answered(response: &crate::helpers::TestResponse) -> bool {
    Twiml::from(response).verbs().first().map(String::as_str) == Some("Gather")
}

async fn calls_of(app: &TestApp, customer_id: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM calls WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn blocked_calls(app: &TestApp, token: &str) -> i64 {
    app.get("/api/portal/stats", token).await.assert_ok(StatusCode::OK)["blocked_calls"].as_i64().unwrap()
}

#[tokio::test]
async fn a_caller_the_business_blocked_is_rejected_busy_with_no_model_call_and_no_call_row() {
    // Arrange: OpenAI is configured, so an answered call would ask it.
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let (bella, bella_token) = business(&app, "Bella", NUMBER).await;
    let (other, _) = business(&app, "Other", OTHER_NUMBER).await;
    let blocked = app
        .post("/api/portal/blocked-numbers", &bella_token, json!({"number": "+1 (415) 555-0199", "note": "Robocaller"}))
        .await;
    let blocked = blocked.assert_ok(StatusCode::CREATED);
    assert_eq!(keys(blocked), ["created_at", "note", "number"]);
    assert_eq!(blocked["number"], CALLER);

    // Act: the blocked number calls (and Twilio retries the webhook), then the call ends.
    let first = ring(&app, "CA_blocked", CALLER, NUMBER, &[]).await;
    let retry = ring(&app, "CA_blocked", CALLER, NUMBER, &[]).await;
    let status = app
        .twilio(
            "/api/webhooks/twilio/status",
            &[("CallSid", "CA_blocked"), ("CallStatus", "busy"), ("CallDuration", "0")],
        )
        .await;

    // Assert: rejected busy, twice the same; no call row (nothing billed, nothing listed),
    // no model request, one refusal counted; the status callback is acknowledged.
    assert_eq!(first.text, REJECTED);
    assert_eq!(retry.text, REJECTED);
    assert_eq!(status.assert_ok(StatusCode::OK)["status"], "ignored");
    assert_eq!(calls_of(&app, bella).await, 0);
    assert!(mocks.openai.received_requests().await.unwrap().is_empty(), "no model was asked");
    assert_eq!(blocked_calls(&app, &bella_token).await, 1);
    let stats = app.get("/api/portal/stats", &bella_token).await;
    assert_eq!(stats.body["total_calls"], 0);
    assert_eq!(app.get("/api/portal/calls", &bella_token).await.body["total"], 0);

    // The same number calling another business is answered: the list is Bella's own.
    assert!(answered(&ring(&app, "CA_other", CALLER, OTHER_NUMBER, &[]).await));
    assert_eq!(calls_of(&app, other).await, 1);

    // Unblocked, the number is answered again.
    let unblocked = app.delete("/api/portal/blocked-numbers/%2B14155550199", &bella_token).await;
    assert_eq!(unblocked.assert_ok(StatusCode::OK)["message"], "Number unblocked");
    assert!(answered(&ring(&app, "CA_after", CALLER, NUMBER, &[]).await));
    assert_eq!(calls_of(&app, bella).await, 1);
    assert_eq!(blocked_calls(&app, &bella_token).await, 1);
}

#[tokio::test]
async fn a_number_blocked_for_every_business_is_rejected_at_each_until_unblocked() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let (bella, bella_token) = business(&app, "Bella", NUMBER).await;
    let (other, other_token) = business(&app, "Other", OTHER_NUMBER).await;
    let admin = app.admin_token().await;

    let added =
        app.post("/api/admin/blocked-numbers", &admin, json!({"number": CALLER, "note": "Known robocaller"})).await;
    assert_eq!(added.assert_ok(StatusCode::CREATED)["note"], "Known robocaller");
    let list = app.get("/api/admin/blocked-numbers", &admin).await;
    assert_eq!(list.assert_ok(StatusCode::OK)["blocked_numbers"][0]["number"], CALLER);
    // The admin's list is not a business's list.
    assert_eq!(app.get("/api/portal/blocked-numbers", &bella_token).await.body["blocked_numbers"], json!([]));

    assert_eq!(ring(&app, "CA_g1", CALLER, NUMBER, &[]).await.text, REJECTED);
    assert_eq!(ring(&app, "CA_g2", CALLER, OTHER_NUMBER, &[]).await.text, REJECTED);
    assert_eq!((calls_of(&app, bella).await, calls_of(&app, other).await), (0, 0));
    assert_eq!((blocked_calls(&app, &bella_token).await, blocked_calls(&app, &other_token).await), (1, 1));
    assert!(mocks.openai.received_requests().await.unwrap().is_empty(), "no model was asked");
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM blocked_calls ORDER BY twilio_call_sid")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(reasons, ["blocked_everywhere", "blocked_everywhere"]);

    app.delete("/api/admin/blocked-numbers/%2B14155550199", &admin).await.assert_ok(StatusCode::OK);
    assert!(answered(&ring(&app, "CA_g3", CALLER, NUMBER, &[]).await));
}

#[tokio::test]
async fn unverified_callers_are_rejected_only_when_the_business_asks_and_only_on_a_failed_verification() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    let (bella, token) = business(&app, "Bella", NUMBER).await;
    let failed = [("StirVerstat", "TN-Validation-Failed-B")];

    // Off by default: a failed verification is answered.
    assert_eq!(app.get("/api/portal/me", &token).await.body["reject_unverified_callers"], false);
    assert!(answered(&ring(&app, "CA_u1", CALLER, NUMBER, &failed).await));

    let saved = app.put("/api/portal/settings", &token, json!({"reject_unverified_callers": true})).await;
    assert_eq!(saved.assert_ok(StatusCode::OK)["customer"]["reject_unverified_callers"], true);

    assert_eq!(ring(&app, "CA_u2", CALLER, NUMBER, &failed).await.text, REJECTED);
    assert!(answered(&ring(&app, "CA_u3", CALLER, NUMBER, &[("StirVerstat", "TN-Validation-Passed-A")]).await));
    assert!(answered(&ring(&app, "CA_u4", CALLER, NUMBER, &[("StirVerstat", "No-TN-Validation")]).await));
    // No StirVerstat at all (no SHAKEN/STIR data): never rejected for it.
    assert!(answered(&ring(&app, "CA_u5", CALLER, NUMBER, &[]).await));

    assert_eq!(calls_of(&app, bella).await, 4);
    assert_eq!(blocked_calls(&app, &token).await, 1);
    let reason: String = sqlx::query_scalar("SELECT reason FROM blocked_calls").fetch_one(&app.db).await.unwrap();
    assert_eq!(reason, "unverified");

    // The setting is validated like every other.
    let refused = app.put("/api/portal/settings", &token, json!({"reject_unverified_callers": "yes"})).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body["details"].get("reject_unverified_callers").is_some(), "{}", refused.text);
}

#[tokio::test]
async fn blocked_number_routes_validate_name_the_field_and_keep_each_business_to_its_own() {
    let app = TestApp::spawn().await;
    let (_, token) = business(&app, "Bella", NUMBER).await;
    let (_, other_token) = business(&app, "Other", OTHER_NUMBER).await;
    let admin = app.admin_token().await;

    for (body, field) in [
        (json!({"number": "555-0199"}), "number"),
        (json!({"number": "+1415abc0199"}), "number"),
        (json!({"number": CALLER, "note": "x".repeat(201)}), "note"),
        (json!({"note": "no number"}), "number"),
        (json!({"number": 14155550199_i64}), "number"),
    ] {
        let refused = app.post("/api/portal/blocked-numbers", &token, body.clone()).await;
        assert!(refused.status.is_client_error(), "{body}: {}", refused.text);
        assert!(refused.body["error"].as_str().unwrap().contains(field), "{body}: {}", refused.text);
    }
    let refused = app.post("/api/portal/blocked-numbers", &token, json!({"number": "12"})).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body["details"]["number"].as_str().unwrap().contains("E.164"), "{}", refused.text);
    assert_eq!(app.count("blocked_numbers").await, 0, "nothing saved on error");

    app.post("/api/portal/blocked-numbers", &token, json!({"number": CALLER})).await.assert_ok(StatusCode::CREATED);
    app.post("/api/portal/blocked-numbers", &token, json!({"number": "+14155550198", "note": " "}))
        .await
        .assert_ok(StatusCode::CREATED);
    let again = app.post("/api/portal/blocked-numbers", &token, json!({"number": CALLER})).await;
    assert!(again.assert_error(StatusCode::CONFLICT).contains("already blocked"));

    let list = app.get("/api/portal/blocked-numbers", &token).await;
    let list = &list.assert_ok(StatusCode::OK)["blocked_numbers"];
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["number"], "+14155550198", "newest first");
    assert_eq!(list[0]["note"], json!(null), "a blank note is none");
    assert_eq!(app.get("/api/portal/blocked-numbers", &other_token).await.body["blocked_numbers"], json!([]));

    // Another business cannot unblock it; a malformed number is named; the owner can, once.
    app.delete("/api/portal/blocked-numbers/%2B14155550199", &other_token).await.assert_error(StatusCode::NOT_FOUND);
    let bad = app.delete("/api/portal/blocked-numbers/not-a-number", &token).await;
    bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body["details"].get("number").is_some(), "{}", bad.text);
    app.delete("/api/portal/blocked-numbers/%2B14155550199", &token).await.assert_ok(StatusCode::OK);
    app.delete("/api/portal/blocked-numbers/%2B14155550199", &token).await.assert_error(StatusCode::NOT_FOUND);

    // Roles: a business never reaches the admin list, nor an admin a business's.
    app.get("/api/admin/blocked-numbers", &token).await.assert_error(StatusCode::FORBIDDEN);
    app.get("/api/portal/blocked-numbers", &admin).await.assert_error(StatusCode::FORBIDDEN);
    app.call(Method::POST, "/api/admin/blocked-numbers", None, Some(json!({"number": CALLER})))
        .await
        .assert_error(StatusCode::UNAUTHORIZED);
    let admin_bad = app.post("/api/admin/blocked-numbers", &admin, json!({"number": "0"})).await;
    admin_bad.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(admin_bad.body["details"].get("number").is_some());
}

#[tokio::test]
async fn the_caller_of_a_call_is_blocked_in_one_request() {
    let app = TestApp::spawn().await;
    let (bella, token) = business(&app, "Bella", NUMBER).await;
    let (other, other_token) = business(&app, "Other", OTHER_NUMBER).await;
    let call = app.insert_call(NewCall::completed(bella)).await;
    let others_call = app.insert_call(NewCall::completed(other)).await;

    let blocked = app.post(&format!("/api/portal/calls/{call}/block"), &token, json!({})).await;
    let blocked = blocked.assert_ok(StatusCode::OK);
    assert_eq!(blocked["number"], CALLER);
    assert_eq!(blocked["note"], format!("Caller of call {call}"));
    // Again: the same answer, still one entry.
    app.post(&format!("/api/portal/calls/{call}/block"), &token, json!({})).await.assert_ok(StatusCode::OK);
    let list = app.get("/api/portal/blocked-numbers", &token).await;
    assert_eq!(list.body["blocked_numbers"].as_array().unwrap().len(), 1);

    // Another business's call is not found, and blocks nothing for anyone.
    app.post(&format!("/api/portal/calls/{others_call}/block"), &token, json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND);
    app.post("/api/portal/calls/999999/block", &token, json!({})).await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/portal/blocked-numbers", &other_token).await.body["blocked_numbers"], json!([]));

    // A withheld number cannot be blocked.
    for withheld in [None, Some("anonymous"), Some("+266696687")] {
        sqlx::query("UPDATE calls SET caller_phone = $2 WHERE id = $1")
            .bind(call)
            .bind(withheld)
            .execute(&app.db)
            .await
            .unwrap();
        let refused = app.post(&format!("/api/portal/calls/{call}/block"), &token, json!({})).await;
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body["details"]["caller_phone"].as_str().unwrap().contains("withheld"), "{}", refused.text);
    }
    assert_eq!(app.count("blocked_numbers").await, 1);
}

#[tokio::test]
async fn a_blocked_number_gets_no_answer_by_text_either() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(true, false, &[])).await;
    let (_, token) = business(&app, "Bella", NUMBER).await;
    app.post("/api/portal/blocked-numbers", &token, json!({"number": CALLER})).await.assert_ok(StatusCode::CREATED);

    let text = [("MessageSid", "SM_blocked"), ("From", CALLER), ("To", NUMBER), ("Body", "Are you open today?")];
    let answer = app.twilio("/api/webhooks/twilio/sms", &text).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
    assert!(mocks.openai.received_requests().await.unwrap().is_empty(), "no model was asked");
    let threads: i64 = sqlx::query_scalar("SELECT count(*) FROM calls").fetch_one(&app.db).await.unwrap();
    assert_eq!(threads, 0, "no thread was started");
}
