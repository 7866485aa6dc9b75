//! Service endpoints for load balancers and people: `/`, `/health`, `/ready`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::AppJson;

/// How long `/ready` waits for the database before calling it unavailable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What this is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RootInfo {
    /// Always "DeskRinger API".
    pub message: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Always "running".
    pub status: &'static str,
}

/// Liveness.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always "healthy".
    pub status: &'static str,
}

/// Readiness: whether the database answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// "ready" or "unavailable".
    pub status: &'static str,
    /// "ok", "unavailable" or "timeout".
    pub database: &'static str,
}

/// Routes at the root.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(root)).routes(routes!(health)).routes(routes!(ready))
}

/// `GET /`: what this is.
#[utoipa::path(
    get,
    path = "/",
    tag = "service",
    summary = "What this is",
    responses((status = 200, body = RootInfo))
)]
async fn root() -> AppJson<RootInfo> {
    AppJson(RootInfo { message: "DeskRinger API", version: env!("CARGO_PKG_VERSION"), status: "running" })
}

/// `GET /health`: the process runs (liveness). Never touches the database.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "Liveness",
    responses((status = 200, body = Health))
)]
async fn health() -> AppJson<Health> {
    AppJson(Health { status: "healthy" })
}

/// `GET /ready`: the database answers (readiness); 503 otherwise.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "service",
    summary = "Readiness: the database answers",
    responses((status = 200, body = Ready), (status = 503, description = "Database unavailable", body = Ready))
)]
async fn ready(State(state): State<AppState>) -> (StatusCode, AppJson<Ready>) {
    let ping = tokio::time::timeout(READY_TIMEOUT, sqlx::query_scalar!("SELECT 1 AS one").fetch_one(&state.db)).await;
    match ping {
        Ok(Ok(_)) => (StatusCode::OK, AppJson(Ready { status: "ready", database: "ok" })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, AppJson(Ready { status: "unavailable", database: "unavailable" }))
        }
        Err(_) => {
            tracing::warn!("readiness check: database timed out");
            (StatusCode::SERVICE_UNAVAILABLE, AppJson(Ready { status: "unavailable", database: "timeout" }))
        }
    }
}
