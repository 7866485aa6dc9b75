//! Service endpoints for load balancers and people: `/`, `/health`, `/ready`.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use super::extract::AppJson;

/// How long `/ready` waits for the database before calling it unavailable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Routes at the root.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(root)).route("/health", get(health)).route("/ready", get(ready))
}

/// `GET /`: what this is.
async fn root() -> AppJson<Value> {
    AppJson(json!({"message": "DeskRinger API", "version": env!("CARGO_PKG_VERSION"), "status": "running"}))
}

/// `GET /health`: the process runs (liveness). Never touches the database.
async fn health() -> AppJson<Value> {
    AppJson(json!({"status": "healthy"}))
}

/// `GET /ready`: the database answers (readiness); 503 otherwise.
async fn ready(State(state): State<AppState>) -> (StatusCode, AppJson<Value>) {
    let ping = tokio::time::timeout(READY_TIMEOUT, sqlx::query("SELECT 1").execute(&state.db)).await;
    match ping {
        Ok(Ok(_)) => (StatusCode::OK, AppJson(json!({"status": "ready", "database": "ok"}))),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, AppJson(json!({"status": "unavailable", "database": "unavailable"})))
        }
        Err(_) => {
            tracing::warn!("readiness check: database timed out");
            (StatusCode::SERVICE_UNAVAILABLE, AppJson(json!({"status": "unavailable", "database": "timeout"})))
        }
    }
}
