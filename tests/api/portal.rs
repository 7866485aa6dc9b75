//! `/api/portal`: a business's own view. Tenant isolation is checked on every route.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Duration, Utc};
use deskringer::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{CALL_KEYS, CUSTOMER_KEYS, NewCall, TestApp, keys};

/// Two businesses: `mine` (with a portal password) and `theirs`, each with calls.
struct World {
    app: TestApp,
    mine: i64,
    theirs: i64,
    my_token: String,
    my_calls: Vec<i64>,
    their_call: i64,
}

async fn world() -> World {
    world_with(crate::helpers::Mocks::start().await.config(false, false, &[])).await
}

async fn world_with(config: deskringer::config::Config) -> World {
    let app = TestApp::spawn_with(config).await;
    let mine = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let theirs = app.insert_customer("Joe's Diner", "joe@diner.test", "active").await;
    let hash = deskringer::auth::password::hash_password("portal-pass-1".to_owned().into()).await.unwrap();
    sqlx::query("UPDATE customers SET password_hash = $2 WHERE id = $1")
        .bind(mine)
        .bind(hash)
        .execute(&app.db)
        .await
        .unwrap();
    let mut my_calls = Vec::new();
    for minutes in [50, 40, 30, 20, 10] {
        let created_at = Utc::now() - Duration::minutes(minutes);
        my_calls.push(app.insert_call(NewCall { created_at, ..NewCall::completed(mine) }).await);
    }
    let their_call = app.insert_call(NewCall::completed(theirs)).await;
    let my_token = app.token(Role::Customer, mine);
    World { app, mine, theirs, my_token, my_calls, their_call }
}

fn ids(body: &Value) -> Vec<i64> {
    body["calls"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn login(app: &TestApp, email: &str, password: &str) -> crate::helpers::TestResponse {
    app.call(Method::POST, "/api/portal/login", None, Some(json!({"email": email, "password": password}))).await
}

#[tokio::test]
async fn a_business_logs_in_and_sees_itself() {
    let w = world().await;
    let response = login(&w.app, "Owner@Bella.test", "portal-pass-1").await;
    let body = response.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&body), ["access_token", "customer"]);
    assert_eq!(keys(&body["customer"]), CUSTOMER_KEYS);
    assert_eq!(body["customer"]["id"], w.mine);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(w.app.get("/api/portal/me", token).await.assert_ok(StatusCode::OK)["business_name"], "Bella Hair");
    let last_login: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_login FROM customers WHERE id = $1")
            .bind(w.mine)
            .fetch_one(&w.app.db)
            .await
            .unwrap();
    assert!(last_login.is_some());
    // The portal token is a customer token: refused on admin routes.
    w.app.get("/api/customers/", token).await.assert_error(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn wrong_passwords_and_businesses_without_portal_access_get_401() {
    let w = world().await;
    login(&w.app, "owner@bella.test", "not-the-password").await.assert_error(StatusCode::UNAUTHORIZED);
    login(&w.app, "joe@diner.test", "anything-at-all").await.assert_error(StatusCode::UNAUTHORIZED);
    login(&w.app, "nobody@x.test", "anything-at-all").await.assert_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logins_are_rate_limited_per_account_with_retry_after() {
    let w = world().await;
    for _ in 0..5 {
        login(&w.app, "owner@bella.test", "wrong-password").await.assert_error(StatusCode::UNAUTHORIZED);
    }
    let limited = login(&w.app, "OWNER@bella.test", "portal-pass-1").await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    // Another account is not affected; admin logins are counted apart.
    login(&w.app, "joe@diner.test", "whatever-pass").await.assert_error(StatusCode::UNAUTHORIZED);
    w.app
        .call(Method::POST, "/api/admin/login", None, Some(json!({"email": "owner@bella.test", "password": "x"})))
        .await
        .assert_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logins_are_rate_limited_per_client_address() {
    let mocks = crate::helpers::Mocks::start().await;
    let w = world_with(mocks.config(false, false, &[("TRUST_FORWARDED_FOR", "true")])).await;
    let attempt = |email: String, address: &'static str| {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/admin/login")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-forwarded-for", format!("203.0.113.99, {address}"))
            .body(Body::from(json!({"email": email, "password": "guess-guess"}).to_string()))
            .unwrap();
        w.app.send(request)
    };
    for i in 0..20 {
        attempt(format!("user{i}@x.test"), "198.51.100.7").await.assert_error(StatusCode::UNAUTHORIZED);
    }
    attempt("fresh@x.test".into(), "198.51.100.7").await.assert_error(StatusCode::TOO_MANY_REQUESTS);
    attempt("fresh@x.test".into(), "198.51.100.8").await.assert_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stats_count_only_the_business_calls_that_are_not_archived() {
    let w = world().await;
    sqlx::query("UPDATE calls SET handled = true WHERE id = ANY($1)")
        .bind(&w.my_calls[..2])
        .execute(&w.app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE calls SET archived = true WHERE id = $1").bind(w.my_calls[4]).execute(&w.app.db).await.unwrap();
    let old = w
        .app
        .insert_call(NewCall {
            created_at: Utc::now() - Duration::days(3),
            duration_seconds: Some(240),
            ..NewCall::completed(w.mine)
        })
        .await;

    let stats = w.app.get("/api/portal/stats", &w.my_token).await.assert_ok(StatusCode::OK).clone();

    assert_eq!(stats["total_calls"], 5, "4 recent + 1 old, the archived one left out: {stats}");
    assert_eq!(stats["handled_calls"], 2);
    assert_eq!(stats["unhandled_calls"], 3);
    assert_eq!(stats["avg_duration_seconds"], 96.0, "(4*60 + 240) / 5");
    assert_eq!(stats["subscription_status"], "active");
    assert_eq!(stats["subscription_tier"], "basic");
    assert!(stats["calls_today"].as_i64().unwrap() >= 3, "{stats}");
    assert!(old > 0);
}

#[tokio::test]
async fn calls_are_listed_newest_first_by_handled_state_without_archived_ones() {
    let w = world().await;
    sqlx::query("UPDATE calls SET handled = true WHERE id = $1").bind(w.my_calls[1]).execute(&w.app.db).await.unwrap();
    sqlx::query("UPDATE calls SET archived = true WHERE id = $1").bind(w.my_calls[0]).execute(&w.app.db).await.unwrap();

    let all = w.app.get("/api/portal/calls", &w.my_token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&all), ["calls", "limit", "offset", "total"]);
    assert_eq!(ids(&all), [w.my_calls[4], w.my_calls[3], w.my_calls[2], w.my_calls[1]]);
    assert_eq!(keys(&all["calls"][0]), CALL_KEYS);
    let handled = w.app.get("/api/portal/calls?status=handled", &w.my_token).await.assert_ok(StatusCode::OK).clone();
    assert_eq!(ids(&handled), [w.my_calls[1]]);
    let unhandled = w
        .app
        .get("/api/portal/calls?status=unhandled&limit=2&offset=1", &w.my_token)
        .await
        .assert_ok(StatusCode::OK)
        .clone();
    assert_eq!((ids(&unhandled), unhandled["total"].as_i64()), (vec![w.my_calls[3], w.my_calls[2]], Some(3)));

    for query in ["status=maybe", "limit=0", "limit=201", "offset=-1", "limit=x"] {
        let response = w.app.get(&format!("/api/portal/calls?{query}"), &w.my_token).await;
        assert!(matches!(response.status, StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY), "{query}");
        response.assert_error(response.status);
    }
}

#[tokio::test]
async fn a_call_shows_its_transcript_as_lines() {
    let w = world().await;
    let id = w.my_calls[0];
    let start = Utc::now() - Duration::minutes(1);
    w.app.insert_log(id, "ai", "Hello, Bella Hair!", start).await;
    w.app.insert_log(id, "caller", "Hi, do you do colour?", start + Duration::seconds(3)).await;

    let call = w.app.get(&format!("/api/portal/calls/{id}"), &w.my_token).await.assert_ok(StatusCode::OK).clone();

    assert_eq!(keys(&call), CALL_KEYS);
    let lines = call["transcript"].as_array().unwrap();
    assert_eq!(keys(&lines[0]), ["message", "speaker", "timestamp"]);
    assert_eq!(
        (lines[1]["speaker"].as_str(), lines[1]["message"].as_str()),
        (Some("caller"), Some("Hi, do you do colour?"))
    );
}

#[tokio::test]
async fn calls_are_marked_handled_unhandled_and_archived() {
    let w = world().await;
    let id = w.my_calls[0];
    let handled = w.app.post(&format!("/api/portal/calls/{id}/mark-handled"), &w.my_token, json!({})).await;
    let body = handled.assert_ok(StatusCode::OK).clone();
    assert_eq!(keys(&body), ["call", "message"]);
    assert_eq!(body["call"]["handled"], true);
    assert!(body["call"]["handled_at"].is_string());

    let unhandled = w.app.post(&format!("/api/portal/calls/{id}/mark-unhandled"), &w.my_token, json!({})).await;
    assert_eq!(unhandled.assert_ok(StatusCode::OK)["call"]["handled_at"], Value::Null);

    let archived = w.app.post(&format!("/api/portal/calls/{id}/archive"), &w.my_token, json!({})).await;
    assert_eq!(archived.assert_ok(StatusCode::OK)["call"]["archived"], true);
    let row: (bool, bool) = sqlx::query_as("SELECT handled, archived FROM calls WHERE id = $1")
        .bind(id)
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(row, (false, true));
}

#[tokio::test]
async fn bulk_archive_is_all_or_nothing() {
    let w = world().await;
    let mixed = w
        .app
        .post("/api/portal/calls/bulk-archive", &w.my_token, json!({"call_ids": [w.my_calls[0], w.their_call]}))
        .await;
    mixed.assert_error(StatusCode::NOT_FOUND);
    let missing =
        w.app.post("/api/portal/calls/bulk-archive", &w.my_token, json!({"call_ids": [w.my_calls[0], 999999]})).await;
    missing.assert_error(StatusCode::NOT_FOUND);
    let archived: i64 =
        sqlx::query_scalar("SELECT count(*) FROM calls WHERE archived").fetch_one(&w.app.db).await.unwrap();
    assert_eq!(archived, 0, "nothing changed");

    w.app
        .post("/api/portal/calls/bulk-archive", &w.my_token, json!({"call_ids": []}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    w.app
        .post("/api/portal/calls/bulk-archive", &w.my_token, json!({"call_ids": ["a"]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);

    let ok = w
        .app
        .post(
            "/api/portal/calls/bulk-archive",
            &w.my_token,
            json!({"call_ids": [w.my_calls[0], w.my_calls[1], w.my_calls[1]]}),
        )
        .await;
    assert_eq!(ok.assert_ok(StatusCode::OK)["archived_count"], 2);
    let archived: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM calls WHERE archived ORDER BY id").fetch_all(&w.app.db).await.unwrap();
    assert_eq!(archived, [w.my_calls[0], w.my_calls[1]]);
}

#[tokio::test]
async fn the_export_is_csv_with_escaping_and_formula_protection() {
    let w = world().await;
    sqlx::query("UPDATE calls SET summary = $2, caller_name = $3, intent = 'message', handled = true WHERE id = $1")
        .bind(w.my_calls[4])
        .bind("Wants \"the usual\", then:\nnew line")
        .bind("=HYPERLINK(\"http://evil\")")
        .execute(&w.app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE calls SET created_at = '2025-01-15T12:00:00Z' WHERE id = $1")
        .bind(w.my_calls[0])
        .execute(&w.app.db)
        .await
        .unwrap();
    // Formulas after a separator or a line break, where a spreadsheet splitting on `;`,
    // `,` or tab would see a cell of their own.
    sqlx::query("UPDATE calls SET summary = $2, caller_name = $3 WHERE id = $1")
        .bind(w.my_calls[3])
        .bind("Total: x;=1+2, +3\tand -4\n@SUM(A1)")
        .bind("Bob; =cmd|' /C calc'!A0")
        .execute(&w.app.db)
        .await
        .unwrap();

    let response = w.app.get("/api/portal/calls/export.csv", &w.my_token).await;

    assert_eq!(response.status, StatusCode::OK);
    assert!(response.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(response.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains("attachment"));
    let mut reader = csv::Reader::from_reader(response.text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["date", "caller", "duration_seconds", "status", "intent", "summary", "handled", "archived"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "only this business's calls");
    assert_eq!(&rows[0][1], "'=HYPERLINK(\"http://evil\") (+14155550199)");
    assert_eq!(&rows[0][5], "Wants \"the usual\", then:\nnew line");
    assert_eq!((&rows[0][2], &rows[0][3], &rows[0][4], &rows[0][6]), ("60", "completed", "message", "yes"));
    let split = rows.iter().find(|row| row[5].starts_with("Total")).expect("the call with formulas in its summary");
    assert_eq!(&split[5], "Total: x;'=1+2, '+3\tand -4\n'@SUM(A1)");
    assert_eq!(&split[1], "Bob; '=cmd|' /C calc'!A0 (+14155550199)");
    // A spreadsheet that splits the file on `;`, `,` or tab (ignoring quotes) finds no
    // piece that starts a formula.
    for piece in response.text.split([';', ',', '\t', '\n']) {
        let piece = piece.trim_start_matches(['"', ' ']);
        assert!(!piece.starts_with(['=', '+', '-', '@']), "{piece:?} in:\n{}", response.text);
    }

    let january = w.app.get("/api/portal/calls/export.csv?from=2025-01-01&to=2025-01-31", &w.my_token).await;
    assert_eq!(january.text.lines().count(), 2, "header and the one January call:\n{}", january.text);
    w.app
        .get("/api/portal/calls/export.csv?from=January", &w.my_token)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn settings_are_validated_saved_and_compiled() {
    let w = world().await;
    let response = w
        .app
        .put(
            "/api/portal/settings",
            &w.my_token,
            json!({
                "services_offered": "Cuts, colour and balayage",
                "business_hours": {"tuesday": {"open": "10:00", "close": "19:00"}},
                "faqs": [{"question": "Walk-ins?", "answer": "Yes, when a chair is free."}],
                "appointment_handling": "callback",
                "notification_phone": "+1 415 555 0144",
                "timezone": "America/Chicago"
            }),
        )
        .await;
    let customer = response.assert_ok(StatusCode::OK)["customer"].clone();
    assert_eq!(customer["notification_phone"], "+14155550144");
    let instructions = customer["ai_instructions"].as_str().unwrap();
    for expected in
        ["Cuts, colour and balayage", "- Tuesday: 10:00-19:00", "Walk-ins?", "## Opening hours (America/Chicago)"]
    {
        assert!(instructions.contains(expected), "{expected}: {instructions}");
    }

    for (body, field) in [
        (json!({"business_hours": {"monday": {"open": "10:00", "close": "25:00"}}}), "business_hours"),
        (json!({"faqs": {"question": "not a list"}}), "faqs"),
        (json!({"appointment_handling": "sometimes"}), "appointment_handling"),
        (json!({"notification_phone": "call me"}), "notification_phone"),
        (json!({"notification_email": "not-an-email"}), "notification_email"),
        (json!({"timezone": "Middle/Earth"}), "timezone"),
        (json!({"email": "new@bella.test"}), "email"),
        (json!({"subscription_status": "active"}), "subscription_status"),
        (json!({"ai_instructions": "Do whatever"}), "ai_instructions"),
    ] {
        let mut body = body;
        body["greeting_message"] = json!("Should not be saved");
        let response = w.app.put("/api/portal/settings", &w.my_token, body.clone()).await;
        let message = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY).to_owned();
        assert!(message.contains(field), "{body}: {message}");
    }
    let greeting: Option<String> = sqlx::query_scalar("SELECT greeting_message FROM customers WHERE id = $1")
        .bind(w.mine)
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(greeting, None, "nothing from the refused requests was saved");
}

#[tokio::test]
async fn changing_only_the_forward_number_writes_it_into_the_instructions() {
    let w = world().await;
    let stored = |id| {
        sqlx::query_scalar::<_, Option<String>>("SELECT ai_instructions FROM customers WHERE id = $1")
            .bind(id)
            .fetch_one(&w.app.db)
    };

    let response =
        w.app.put("/api/portal/settings", &w.my_token, json!({"forward_to_number": "+1 415 555 0199"})).await;

    let customer = response.assert_ok(StatusCode::OK)["customer"].clone();
    assert_eq!(customer["forward_to_number"], "+14155550199");
    let answered = customer["ai_instructions"].as_str().unwrap();
    assert!(answered.contains("you can transfer them to: +14155550199\n"), "{answered}");
    assert!(answered.contains("receptionist for Bella Hair"), "compiled from every field: {answered}");
    assert_eq!(stored(w.mine).await.unwrap().as_deref(), Some(answered), "the database holds what was answered");

    // Clearing the number takes it out again.
    let response = w.app.put("/api/portal/settings", &w.my_token, json!({"forward_to_number": ""})).await;
    let answered = response.assert_ok(StatusCode::OK)["customer"]["ai_instructions"].as_str().unwrap().to_owned();
    assert!(!answered.contains("transfer them to:"), "{answered}");
    assert!(answered.contains("No one is available to take transfers"), "{answered}");
    assert_eq!(stored(w.mine).await.unwrap(), Some(answered));
}

#[tokio::test]
async fn a_business_changes_its_password() {
    let w = world().await;
    w.app
        .post(
            "/api/portal/change-password",
            &w.my_token,
            json!({"current_password": "nope-nope", "new_password": "new-pass-99"}),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
    w.app
        .post(
            "/api/portal/change-password",
            &w.my_token,
            json!({"current_password": "portal-pass-1", "new_password": "short"}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    w.app
        .post(
            "/api/portal/change-password",
            &w.my_token,
            json!({"current_password": "portal-pass-1", "new_password": "new-pass-99"}),
        )
        .await
        .assert_ok(StatusCode::OK);
    login(&w.app, "owner@bella.test", "new-pass-99").await.assert_ok(StatusCode::OK);
}

/// A password change from client `address` (behind the trusted proxy).
async fn change_password_from(
    app: &TestApp,
    token: &str,
    address: &str,
    current: &str,
) -> crate::helpers::TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/portal/change-password")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", address)
        .body(Body::from(json!({"current_password": current, "new_password": "new-pass-99"}).to_string()))
        .unwrap();
    app.send(request).await
}

#[tokio::test]
async fn password_changes_count_against_the_login_limit_of_the_account() {
    let w = world().await;
    let stored = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM customers WHERE id = $1")
            .bind(w.mine)
            .fetch_one(&w.app.db)
            .await
            .unwrap()
    };
    let before = stored().await;
    let change = |current: &'static str| {
        w.app.post(
            "/api/portal/change-password",
            &w.my_token,
            json!({"current_password": current, "new_password": "new-pass-99"}),
        )
    };

    for guess in ["guess-one", "guess-two", "guess-three", "guess-four", "guess-five"] {
        change(guess).await.assert_error(StatusCode::BAD_REQUEST);
    }
    let limited = change("portal-pass-1").await;

    // Even the right password waits: the answer must not tell a guess right from wrong.
    assert!(limited.assert_error(StatusCode::TOO_MANY_REQUESTS).contains("too many attempts"));
    let retry_after: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(stored().await, before, "the password did not change");
    // Logins to the account share the limit; another business is not affected.
    login(&w.app, "owner@bella.test", "portal-pass-1").await.assert_error(StatusCode::TOO_MANY_REQUESTS);
    let theirs = w.app.token(Role::Customer, w.theirs);
    w.app
        .post(
            "/api/portal/change-password",
            &theirs,
            json!({"current_password": "guess-guess", "new_password": "new-pass-99"}),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn password_changes_are_limited_per_client_address() {
    let mocks = crate::helpers::Mocks::start().await;
    let w = world_with(mocks.config(false, false, &[("TRUST_FORWARDED_FOR", "true")])).await;
    let mut tokens = Vec::new();
    for i in 0..6 {
        let id = w.app.insert_customer("Shop", &format!("shop{i}@x.test"), "active").await;
        tokens.push(w.app.token(Role::Customer, id));
    }

    // Twenty guesses from one address, four per account (under the account limit)...
    for token in &tokens[..5] {
        for _ in 0..4 {
            change_password_from(&w.app, token, "198.51.100.7", "guess-guess")
                .await
                .assert_error(StatusCode::BAD_REQUEST);
        }
    }
    // ...then that address is stopped, on a fresh account too; another address is not.
    let limited = change_password_from(&w.app, &tokens[5], "198.51.100.7", "guess-guess").await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    change_password_from(&w.app, &tokens[5], "198.51.100.8", "guess-guess").await.assert_error(StatusCode::BAD_REQUEST);
}

/// Every portal route that names a call, with another business's call id.
fn routes_on_call(id: i64) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/api/portal/calls/{id}")),
        (Method::POST, format!("/api/portal/calls/{id}/mark-handled")),
        (Method::POST, format!("/api/portal/calls/{id}/mark-unhandled")),
        (Method::POST, format!("/api/portal/calls/{id}/archive")),
    ]
}

/// Every portal route except login.
fn portal_routes(call_id: i64) -> Vec<(Method, String)> {
    let mut routes = vec![
        (Method::GET, "/api/portal/me".to_owned()),
        (Method::GET, "/api/portal/stats".to_owned()),
        (Method::GET, "/api/portal/calls".to_owned()),
        (Method::GET, "/api/portal/calls/export.csv".to_owned()),
        (Method::POST, "/api/portal/calls/bulk-archive".to_owned()),
        (Method::PUT, "/api/portal/settings".to_owned()),
        (Method::POST, "/api/portal/change-password".to_owned()),
        (Method::GET, "/api/portal/onboarding".to_owned()),
        (Method::POST, "/api/portal/subscribe".to_owned()),
        (Method::POST, "/api/portal/test-call".to_owned()),
    ];
    routes.extend(routes_on_call(call_id));
    routes
}

#[tokio::test]
async fn another_business_calls_are_not_found_and_unchanged() {
    let w = world().await;
    for (method, uri) in routes_on_call(w.their_call) {
        let body = (method == Method::POST).then(|| json!({}));
        w.app.call(method.clone(), &uri, Some(&w.my_token), body).await.assert_error(StatusCode::NOT_FOUND);
    }
    let bulk = w.app.post("/api/portal/calls/bulk-archive", &w.my_token, json!({"call_ids": [w.their_call]})).await;
    bulk.assert_error(StatusCode::NOT_FOUND);
    let theirs: (bool, bool) = sqlx::query_as("SELECT handled, archived FROM calls WHERE id = $1")
        .bind(w.their_call)
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(theirs, (false, false));

    // Lists, stats and exports contain only this business's calls.
    let listed = w.app.get("/api/portal/calls?limit=200", &w.my_token).await.assert_ok(StatusCode::OK).clone();
    assert!(!ids(&listed).contains(&w.their_call));
    let export = w.app.get("/api/portal/calls/export.csv", &w.my_token).await;
    assert_eq!(export.text.lines().count(), 1 + w.my_calls.len());
    // Settings change only the signed-in business.
    w.app
        .put("/api/portal/settings", &w.my_token, json!({"greeting_message": "Ciao!"}))
        .await
        .assert_ok(StatusCode::OK);
    let their_greeting: Option<String> = sqlx::query_scalar("SELECT greeting_message FROM customers WHERE id = $1")
        .bind(w.theirs)
        .fetch_one(&w.app.db)
        .await
        .unwrap();
    assert_eq!(their_greeting, None);
}

#[tokio::test]
async fn portal_routes_refuse_admin_tokens_and_missing_tokens() {
    let w = world().await;
    let admin = w.app.admin_token().await;
    let expired = w
        .app
        .state
        .jwt
        .issue_with_expiry(
            deskringer::auth::Principal { role: Role::Customer, id: w.mine, generation: 0 },
            Utc::now() - Duration::hours(1),
        )
        .unwrap();
    for (method, uri) in portal_routes(w.my_calls[0]) {
        let body =
            (method != Method::GET).then(|| json!({"call_ids": [1], "current_password": "x", "new_password": "y"}));
        w.app.call(method.clone(), &uri, Some(&admin), body.clone()).await.assert_error(StatusCode::FORBIDDEN);
        w.app.call(method.clone(), &uri, None, body.clone()).await.assert_error(StatusCode::UNAUTHORIZED);
        w.app.call(method.clone(), &uri, Some(&expired), body).await.assert_error(StatusCode::UNAUTHORIZED);
    }
}
