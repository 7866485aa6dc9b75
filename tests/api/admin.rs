//! `/api/admin`: login, me, create, change-password, stats, trial-customers.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use deskringer::auth::password::verify_password;
use serde_json::json;

use crate::helpers::{NewCall, TestApp, keys};

const ADMIN_KEYS: &[&str] = &["created_at", "email", "id", "last_login", "name"];

#[tokio::test]
async fn login_returns_a_token_and_the_admin_and_records_the_login() {
    // Arrange
    let app = TestApp::spawn().await;
    let id = app.create_admin("boss@deskringer.test", "correct-horse").await;

    // Act: the email is matched case-insensitively.
    let response = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "Boss@DeskRinger.test", "password": "correct-horse"})),
        )
        .await;

    // Assert
    let body = response.assert_ok(StatusCode::OK);
    assert_eq!(keys(body), ["access_token", "admin"]);
    assert_eq!(keys(&body["admin"]), ADMIN_KEYS);
    assert_eq!(body["admin"]["id"], id);
    assert_eq!(body["admin"]["email"], "boss@deskringer.test");
    assert!(body["admin"]["last_login"].is_string());
    let token = body["access_token"].as_str().unwrap();
    let me = app.get("/api/admin/me", token).await;
    assert_eq!(me.assert_ok(StatusCode::OK)["id"], id);
    let last_login: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_login FROM admins WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap();
    assert!(Utc::now() - last_login.unwrap() < Duration::minutes(1));
}

#[tokio::test]
async fn login_with_wrong_credentials_is_401_and_reveals_nothing() {
    let app = TestApp::spawn().await;
    app.create_admin("boss@deskringer.test", "correct-horse").await;
    let wrong_password = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "boss@deskringer.test", "password": "nope-nope"})),
        )
        .await;
    let unknown_email = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "who@deskringer.test", "password": "nope-nope"})),
        )
        .await;
    assert_eq!(
        wrong_password.assert_error(StatusCode::UNAUTHORIZED),
        unknown_email.assert_error(StatusCode::UNAUTHORIZED)
    );
    let last_login: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_login FROM admins").fetch_one(&app.db).await.unwrap();
    assert_eq!(last_login, None);
}

#[tokio::test]
async fn login_rejects_malformed_requests_with_clear_errors() {
    let app = TestApp::spawn().await;
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = Request::builder().method(Method::POST).uri("/api/admin/login");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(Body::from(body)).unwrap()
    };

    let not_json = app.send(send(Some("application/json"), "{\"email\": ")).await;
    assert!(not_json.assert_error(StatusCode::BAD_REQUEST).contains("JSON"));
    let no_content_type = app.send(send(None, r#"{"email":"a@b.co","password":"x"}"#)).await;
    assert!(no_content_type.assert_error(StatusCode::BAD_REQUEST).contains("Content-Type"));
    let wrong_content_type = app.send(send(Some("text/plain"), r#"{"email":"a@b.co","password":"x"}"#)).await;
    wrong_content_type.assert_error(StatusCode::BAD_REQUEST);
    let missing_field = app.send(send(Some("application/json"), r#"{"email":"a@b.co"}"#)).await;
    assert_eq!(missing_field.assert_error(StatusCode::BAD_REQUEST), "email and password are required");
    let wrong_type = app.send(send(Some("application/json"), r#"{"email":42,"password":"x"}"#)).await;
    assert!(wrong_type.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("email"));
    let array = app.send(send(Some("application/json"), "[]")).await;
    array.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn().await;
    let huge = json!({"email": "a@b.co", "password": "x".repeat(300 * 1024)});
    app.call(Method::POST, "/api/admin/login", None, Some(huge)).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn me_of_a_deleted_admin_is_401() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    sqlx::query("DELETE FROM admins").execute(&app.db).await.unwrap();
    app.get("/api/admin/me", &token).await.assert_error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn create_admin_stores_a_hashed_password_and_answers_201() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;

    let response = app
        .post(
            "/api/admin/create",
            &token,
            json!({"email": " New@DeskRinger.test ", "password": "long-enough", "name": "Nina"}),
        )
        .await;

    let body = response.assert_ok(StatusCode::CREATED);
    assert_eq!(keys(body), ["admin", "message"]);
    assert_eq!(keys(&body["admin"]), ADMIN_KEYS);
    assert_eq!(body["admin"]["email"], "new@deskringer.test");
    assert_eq!(body["admin"]["name"], "Nina");
    assert_eq!(body["admin"]["last_login"], serde_json::Value::Null);
    assert!(!response.text.contains("argon2"), "the hash must never be returned");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM admins WHERE email = 'new@deskringer.test'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(verify_password("long-enough".to_owned().into(), Some(hash)).await.unwrap());
    // And the new admin can log in.
    let login = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "new@deskringer.test", "password": "long-enough"})),
        )
        .await;
    login.assert_ok(StatusCode::OK);
}

#[tokio::test]
async fn create_admin_refuses_bad_input_and_duplicates() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.post("/api/admin/create", &token, json!({"email": "dup@deskringer.test", "password": "long-enough"}))
        .await
        .assert_ok(StatusCode::CREATED);

    let duplicate =
        app.post("/api/admin/create", &token, json!({"email": "DUP@deskringer.test", "password": "long-enough"})).await;
    assert!(duplicate.assert_error(StatusCode::CONFLICT).contains("already exists"));
    let bad_email =
        app.post("/api/admin/create", &token, json!({"email": "not-an-email", "password": "long-enough"})).await;
    assert_eq!(bad_email.body["details"]["email"], "must be a valid email address");
    bad_email.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    let short =
        app.post("/api/admin/create", &token, json!({"email": "ok@deskringer.test", "password": "short"})).await;
    assert!(short.assert_error(StatusCode::UNPROCESSABLE_ENTITY).contains("password"));
    let missing = app.post("/api/admin/create", &token, json!({"email": "ok@deskringer.test"})).await;
    missing.assert_error(StatusCode::UNPROCESSABLE_ENTITY);

    // The staff admin plus the one created: nothing else was stored.
    assert_eq!(app.count("admins").await, 2);
}

#[tokio::test]
async fn change_password_needs_the_current_one_and_never_answers_401_for_it() {
    let app = TestApp::spawn().await;
    let id = app.create_admin("boss@deskringer.test", "old-password").await;
    let token = app.token(deskringer::auth::Role::Admin, id);

    let wrong = app
        .post(
            "/api/admin/change-password",
            &token,
            json!({"current_password": "not-it-at-all", "new_password": "new-password"}),
        )
        .await;
    assert!(wrong.assert_error(StatusCode::BAD_REQUEST).contains("current password"));
    let short = app
        .post(
            "/api/admin/change-password",
            &token,
            json!({"current_password": "old-password", "new_password": "short"}),
        )
        .await;
    short.assert_error(StatusCode::UNPROCESSABLE_ENTITY);

    let changed = app
        .post(
            "/api/admin/change-password",
            &token,
            json!({"current_password": "old-password", "new_password": "new-password"}),
        )
        .await;
    assert_eq!(changed.assert_ok(StatusCode::OK)["message"], "Password changed");
    let login = |password: &'static str| {
        app.call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "boss@deskringer.test", "password": password})),
        )
    };
    login("old-password").await.assert_error(StatusCode::UNAUTHORIZED);
    login("new-password").await.assert_ok(StatusCode::OK);
}

#[tokio::test]
async fn password_changes_count_against_the_admin_login_limit() {
    let app = TestApp::spawn().await;
    let id = app.create_admin("boss@deskringer.test", "old-password").await;
    let token = app.token(deskringer::auth::Role::Admin, id);
    let change = |current: &'static str| {
        app.post(
            "/api/admin/change-password",
            &token,
            json!({"current_password": current, "new_password": "new-password"}),
        )
    };

    for guess in ["guess-one", "guess-two", "guess-three", "guess-four", "guess-five"] {
        change(guess).await.assert_error(StatusCode::BAD_REQUEST);
    }
    let limited = change("old-password").await;

    limited.assert_error(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // The password is unchanged, and logging in to the account waits as well.
    let login = app
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            Some(json!({"email": "Boss@deskringer.test", "password": "old-password"})),
        )
        .await;
    login.assert_error(StatusCode::TOO_MANY_REQUESTS);
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap();
    assert!(deskringer::auth::password::verify_password("old-password".to_owned().into(), Some(hash)).await.unwrap());
}

#[tokio::test]
async fn stats_count_customers_and_calls() {
    // Arrange: 4 customers (2 active, 1 trial, 1 cancelled); 3 calls today, 1 two days ago.
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let a = app.insert_customer("A", "a@x.test", "active").await;
    app.insert_customer("B", "b@x.test", "active").await;
    app.insert_customer("C", "c@x.test", "trial").await;
    app.insert_customer("D", "d@x.test", "cancelled").await;
    for seconds in [30, 60, 90] {
        app.insert_call(NewCall { duration_seconds: Some(seconds), ..NewCall::completed(a) }).await;
    }
    app.insert_call(NewCall {
        duration_seconds: Some(200),
        created_at: Utc::now() - Duration::days(2),
        ..NewCall::completed(a)
    })
    .await;
    app.insert_call(NewCall { duration_seconds: None, status: "in_progress", ..NewCall::completed(a) }).await;

    // Act
    let response = app.get("/api/admin/stats", &token).await;

    // Assert: the average ignores the call without a duration: (30+60+90+200)/4 = 95.
    assert_eq!(
        response.assert_ok(StatusCode::OK),
        &json!({
            "customers": {"total": 4, "active": 2, "trial": 1},
            "calls": {"total": 5, "today": 4, "avg_duration_seconds": 95.0},
        })
    );
}

#[tokio::test]
async fn stats_of_an_empty_system_are_zero() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    assert_eq!(
        app.get("/api/admin/stats", &token).await.assert_ok(StatusCode::OK),
        &json!({"customers": {"total": 0, "active": 0, "trial": 0}, "calls": {"total": 0, "today": 0, "avg_duration_seconds": 0.0}})
    );
}

#[tokio::test]
async fn trial_customers_show_time_left_soonest_first() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let later = app.insert_customer("Later", "later@x.test", "trial").await;
    let expired = app.insert_customer("Expired", "expired@x.test", "trial").await;
    let soon = app.insert_customer("Soon", "soon@x.test", "trial").await;
    app.insert_customer("Paying", "paying@x.test", "active").await;
    for (id, ends) in [
        (later, Utc::now() + Duration::days(6) + Duration::hours(1)),
        (expired, Utc::now() - Duration::days(1)),
        (soon, Utc::now() + Duration::days(2) + Duration::hours(1)),
    ] {
        sqlx::query("UPDATE customers SET trial_ends_at = $2 WHERE id = $1")
            .bind(id)
            .bind(ends)
            .execute(&app.db)
            .await
            .unwrap();
    }

    let body = app.get("/api/admin/trial-customers", &token).await.assert_ok(StatusCode::OK).clone();

    assert_eq!(body["count"], 3);
    let list = body["trial_customers"].as_array().unwrap();
    assert_eq!(
        keys(&list[0]),
        [
            "business_name",
            "contact_name",
            "created_at",
            "days_remaining",
            "email",
            "id",
            "is_expired",
            "last_login",
            "trial_ends_at"
        ]
    );
    let summary: Vec<(i64, i64, bool)> = list
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["days_remaining"].as_i64().unwrap(), c["is_expired"].as_bool().unwrap()))
        .collect();
    assert_eq!(summary, [(expired, 0, true), (soon, 2, false), (later, 6, false)]);
}
