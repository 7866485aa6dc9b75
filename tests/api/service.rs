//! `/`, `/health`, `/ready`, routing edges, CORS and the JSON error shape for the router's
//! own answers.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use deskringer::config::Config;
use deskringer::http::{AppState, app};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt;

use crate::helpers::{NewCall, TestApp};

#[tokio::test]
async fn root_names_the_service_and_its_version() {
    let app = TestApp::spawn().await;
    let response = app.call(Method::GET, "/", None, None).await;
    assert_eq!(
        response.assert_ok(StatusCode::OK),
        &serde_json::json!({"message": "DeskRinger API", "version": env!("CARGO_PKG_VERSION"), "status": "running"})
    );
}

#[tokio::test]
async fn health_and_ready_answer_when_the_database_is_up() {
    let app = TestApp::spawn().await;
    assert_eq!(app.call(Method::GET, "/health", None, None).await.assert_ok(StatusCode::OK)["status"], "healthy");
    assert_eq!(app.call(Method::GET, "/ready/", None, None).await.assert_ok(StatusCode::OK)["status"], "ready");
}

#[tokio::test]
async fn ready_is_503_json_when_the_database_is_away() {
    // Arrange: a pool pointing at a socket folder where no server runs.
    let options = PgConnectOptions::new().socket("/nonexistent-deskringer").database("none");
    let pool = PgPoolOptions::new().acquire_timeout(std::time::Duration::from_secs(1)).connect_lazy_with(options);
    let service = app(AppState::new(pool, Config::for_tests()).unwrap());

    let response = service.oneshot(Request::get("/ready").body(Body::empty()).unwrap()).await.unwrap();

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestApp::spawn().await;
    app.call(Method::GET, "/api/nothing-here", None, None).await.assert_error(StatusCode::NOT_FOUND);
    let token = app.admin_token().await;
    let response = app.call(Method::PATCH, "/api/customers/", Some(&token), None).await;
    assert_eq!(response.assert_error(StatusCode::METHOD_NOT_ALLOWED), "method not allowed");
}

#[tokio::test]
async fn paths_work_with_and_without_a_trailing_slash() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for path in ["/api/customers", "/api/customers/", "/api/calls", "/api/calls/", "/api/admin/me/", "/health/"] {
        assert_eq!(app.get(path, &token).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = TestApp::spawn().await;
    let generated = app.call(Method::GET, "/health", None, None).await;
    assert!(!generated.headers["x-request-id"].is_empty());
    let request = Request::get("/health").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    assert_eq!(app.send(request).await.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let config = Config::from_lookup(|name| match name {
        "CORS_ALLOWED_ORIGINS" => Some("https://admin.deskringer.test, https://portal.deskringer.test".into()),
        "JWT_SECRET_KEY" => Some("test-secret".into()),
        _ => None,
    })
    .unwrap();
    let app = TestApp::spawn_with(config).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/customers/")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap()
    };

    let allowed = app.send(preflight("https://portal.deskringer.test")).await;
    assert_eq!(allowed.headers["access-control-allow-origin"], "https://portal.deskringer.test");
    let allowed_headers = allowed.headers["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));

    let refused = app.send(preflight("https://evil.example")).await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.call(Method::GET, "/health", None, None).await;
    app.call(Method::GET, "/api/customers/12345", None, None).await;

    let response = app.call(Method::GET, "/metrics", None, None).await;

    assert_eq!(response.status, StatusCode::OK);
    assert!(response.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = &response.text;
    assert!(text.contains("http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"), "{text}");
    assert!(text.contains("route=\"/api/customers/{id}\",status=\"401\""), "routes, not raw paths: {text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    for gauge in ["db_pool_connections", "job_queue_depth", "job_queue_failing", "active_calls"] {
        assert!(text.contains(gauge), "{gauge} missing");
    }
}

#[tokio::test]
async fn a_flood_of_metrics_requests_reads_the_database_once_every_few_seconds() {
    let app = TestApp::spawn().await;
    let gauge = |text: &str, name: &str| {
        text.lines().find_map(|line| line.strip_prefix(&format!("{name} "))).map(str::to_owned)
    };
    let first = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(gauge(&first.text, "active_calls").as_deref(), Some("0"), "{}", first.text);

    // A call starts right after the first scrape.
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    app.insert_call(NewCall { status: "in_progress", duration_seconds: None, ..NewCall::completed(id) }).await;
    let in_progress: i64 =
        sqlx::query_scalar("SELECT count(*) FROM calls WHERE status = 'in_progress'").fetch_one(&app.db).await.unwrap();
    assert_eq!(in_progress, 1);

    // Requests within the next seconds show the figures of the first: no new query.
    for _ in 0..20 {
        let again = app.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(gauge(&again.text, "active_calls").as_deref(), Some("0"), "the figures were read again");
    }
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let config = Config::from_lookup(|name| match name {
        "METRICS_TOKEN" => Some("scrape-me".into()),
        "JWT_SECRET_KEY" => Some("test-secret".into()),
        _ => None,
    })
    .unwrap();
    let app = TestApp::spawn_with(config).await;
    app.call(Method::GET, "/metrics", None, None).await.assert_error(StatusCode::UNAUTHORIZED);
    app.call(Method::GET, "/metrics", Some("wrong"), None).await.assert_error(StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(Method::GET, "/metrics", Some("scrape-me"), None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn json_responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    for response in
        [app.call(Method::GET, "/health", None, None).await, app.call(Method::GET, "/nope", None, None).await]
    {
        assert_eq!(response.headers["x-content-type-options"], "nosniff");
        assert_eq!(response.headers["x-frame-options"], "DENY");
        assert_eq!(response.headers["cache-control"], "no-store");
        assert!(response.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    }
}
