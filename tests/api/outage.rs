//! A database outage: the server keeps running, answers 503 JSON quickly (never hangs),
//! `/ready` reports it, `/health` stays up, and it recovers by itself when the database
//! returns; a job enqueued before the outage still runs afterwards. Uses a PostgreSQL of
//! its own, which it stops and starts.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use deskringer::config::Config;
use deskringer::db::local_cluster::LocalCluster;
use deskringer::http::{self, AppState};
use sqlx::postgres::PgPoolOptions;
use tower::ServiceExt;

#[tokio::test]
async fn the_server_rides_out_a_database_outage() {
    // Arrange: a cluster of our own, migrated, with a pool like the server's.
    let cluster = tokio::task::spawn_blocking(LocalCluster::start_throwaway).await.unwrap().unwrap();
    deskringer::db::create_database_if_missing(&cluster.connect_options("postgres"), "outage").await.unwrap();
    let pool = deskringer::db::pool(cluster.connect_options("outage"));
    deskringer::migrate(&pool).await.unwrap();
    let state = AppState::new(pool.clone(), Config::for_tests()).unwrap();
    let app = http::app(state.clone());
    let admin: i64 =
        sqlx::query_scalar("INSERT INTO admins (email, password_hash) VALUES ('a@x.test', 'x') RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let token = state
        .jwt
        .issue(deskringer::auth::Principal { role: deskringer::auth::Role::Admin, id: admin, generation: 0 })
        .unwrap();
    let customer: i64 =
        sqlx::query_scalar("INSERT INTO customers (business_name, email) VALUES ('B', 'b@x.test') RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let call: i64 = sqlx::query_scalar(
        "INSERT INTO calls (customer_id, twilio_call_sid, status) VALUES ($1, 'CA-out', 'completed') RETURNING id",
    )
    .bind(customer)
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO call_logs (call_id, speaker, message) VALUES ($1, 'caller', 'Call me back please')")
        .bind(call)
        .execute(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    deskringer::jobs::enqueue(
        &pool,
        &mut tx,
        deskringer::jobs::post_call::SummarizeCall { call_id: call },
        "before".into(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let get = |uri: &'static str, token: Option<String>| {
        let app = app.clone();
        async move {
            let mut request = axum::http::Request::builder().method(Method::GET).uri(uri);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let started = Instant::now();
            let response = app.oneshot(request.body(axum::body::Body::empty()).unwrap()).await.unwrap();
            let status = response.status();
            let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
            (status, content_type, started.elapsed())
        }
    };
    assert_eq!(get("/api/customers", Some(token.clone())).await.0, StatusCode::OK);

    // Act: the database goes away.
    let stopper = cluster.clone();
    tokio::task::spawn_blocking(move || stopper.stop()).await.unwrap().unwrap();

    // Assert: quick JSON 503s, readiness down, liveness up.
    let (status, content_type, took) = get("/api/customers", Some(token.clone())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert!(took < Duration::from_secs(6), "answered in {took:?}, not hung");
    let (status, _, took) = get("/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < Duration::from_secs(4));
    assert_eq!(get("/health", None).await.0, StatusCode::OK);

    // Act: the database comes back.
    let starter = cluster.clone();
    tokio::task::spawn_blocking(move || starter.start(&[])).await.unwrap().unwrap();

    // Assert: recovery within seconds, without a restart.
    let started = Instant::now();
    loop {
        if get("/api/customers", Some(token.clone())).await.0 == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get("/ready", None).await.0, StatusCode::OK);

    // The job enqueued before the outage still runs.
    let worker_pool =
        PgPoolOptions::new().max_connections(4).connect_with(cluster.connect_options("outage")).await.unwrap();
    let mut context = state.job_context();
    context.db = worker_pool.clone();
    let worker = deskringer::jobs::worker(context, std::future::pending()).await.unwrap();
    worker.run_once().await.unwrap();
    let summary: Option<String> =
        sqlx::query_scalar("SELECT summary FROM calls WHERE id = $1").bind(call).fetch_one(&worker_pool).await.unwrap();
    assert!(summary.is_some_and(|s| s.contains("Call me back")));
}
