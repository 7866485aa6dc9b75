//! The access rules, checked on every admin route: no token, a malformed header, an
//! expired, tampered or foreign token all answer 401; a customer's token answers 403.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Duration, Utc};
use deskringer::auth::{JwtKeys, Principal, Role};
use serde_json::json;

use crate::helpers::TestApp;

/// Every admin-only route, with a body where it takes one.
fn admin_routes(customer_id: i64, call_id: i64) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/api/admin/me".into()),
        (Method::POST, "/api/admin/create".into()),
        (Method::POST, "/api/admin/change-password".into()),
        (Method::GET, "/api/admin/stats".into()),
        (Method::GET, "/api/admin/trial-customers".into()),
        (Method::POST, "/api/admin/test-email".into()),
        (Method::GET, "/api/customers/".into()),
        (Method::POST, "/api/customers/".into()),
        (Method::GET, format!("/api/customers/{customer_id}")),
        (Method::PUT, format!("/api/customers/{customer_id}")),
        (Method::DELETE, format!("/api/customers/{customer_id}")),
        (Method::PUT, format!("/api/customers/{customer_id}/settings")),
        (Method::POST, format!("/api/customers/{customer_id}/set-password")),
        (Method::GET, "/api/calls/".into()),
        (Method::GET, format!("/api/calls/{call_id}")),
        (Method::GET, format!("/api/calls/{call_id}/transcript")),
        (Method::GET, "/api/calls/stats".into()),
        (Method::GET, "/api/calls/recent".into()),
        (Method::POST, format!("/api/stripe/create-payment-link/{customer_id}")),
        (Method::POST, format!("/api/stripe/create-checkout-session/{customer_id}")),
        (Method::GET, format!("/api/stripe/subscription-status/{customer_id}")),
        (Method::POST, format!("/api/stripe/cancel-subscription/{customer_id}")),
        (Method::POST, format!("/api/customers/{customer_id}/phone-number")),
        (Method::PUT, format!("/api/customers/{customer_id}/phone-number")),
        (Method::DELETE, format!("/api/customers/{customer_id}/phone-number")),
        (Method::GET, "/api/admin/phone-numbers".into()),
        (Method::POST, "/api/admin/phone-numbers/sync".into()),
    ]
}

fn request(method: &Method, uri: &str, authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method.clone()).uri(uri);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    let body = if method == Method::GET || method == Method::DELETE {
        Body::empty()
    } else {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
        Body::from(json!({"business_name": "X", "email": "x@example.com", "password": "password123"}).to_string())
    };
    builder.body(body).unwrap()
}

#[tokio::test]
async fn every_admin_route_refuses_missing_and_bad_tokens_with_401() {
    // Arrange
    let app = TestApp::spawn().await;
    let customer_id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let call_id = app.insert_call(crate::helpers::NewCall::completed(customer_id)).await;
    let admin = Principal { role: Role::Admin, id: 1, generation: 0 };
    let expired = app.state.jwt.issue_with_expiry(admin, Utc::now() - Duration::hours(2)).unwrap();
    let foreign = JwtKeys::new(b"someone-else's-secret").issue(admin).unwrap();
    let valid = app.state.jwt.issue(admin).unwrap();
    // Change one character well inside the signature (the last one carries padding bits).
    let mut tampered = valid.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let bad_headers = [
        None,
        Some("Bearer".to_owned()),
        Some(format!("Basic {valid}")),
        Some("Bearer not-a-jwt".to_owned()),
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {foreign}")),
        Some(format!("Bearer {tampered}")),
    ];

    for (method, uri) in admin_routes(customer_id, call_id) {
        for authorization in &bad_headers {
            // Act
            let response = app.send(request(&method, &uri, authorization.as_deref())).await;
            // Assert
            response.assert_error(StatusCode::UNAUTHORIZED);
            assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{method} {uri} with {authorization:?}");
        }
    }
    // Nothing was changed by the refused requests.
    assert_eq!(app.count("admins").await, 0);
    assert_eq!(app.count("customers").await, 1);
    let status: String =
        sqlx::query_scalar("SELECT subscription_status FROM customers").fetch_one(&app.db).await.unwrap();
    assert_eq!(status, "trial");
}

#[tokio::test]
async fn every_admin_route_refuses_a_customer_token_with_403() {
    let app = TestApp::spawn().await;
    let customer_id = app.insert_customer("Bella Hair", "owner@bella.test", "trial").await;
    let call_id = app.insert_call(crate::helpers::NewCall::completed(customer_id)).await;
    let customer_token = app.token(Role::Customer, customer_id);

    for (method, uri) in admin_routes(customer_id, call_id) {
        let response = app.send(request(&method, &uri, Some(&format!("Bearer {customer_token}")))).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{method} {uri}: {}", response.text);
        response.assert_error(StatusCode::FORBIDDEN);
    }
    let status: String =
        sqlx::query_scalar("SELECT subscription_status FROM customers").fetch_one(&app.db).await.unwrap();
    assert_eq!(status, "trial", "the refused DELETE must not cancel the customer");
}
