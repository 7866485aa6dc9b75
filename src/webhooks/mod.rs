//! Webhooks from third parties, verified by signature instead of a JWT.

pub mod stripe;
pub mod twilio;

use axum::Router;

use crate::http::AppState;

/// Routes under `/api/webhooks`.
pub fn router() -> Router<AppState> {
    Router::new().nest("/twilio", twilio::router()).nest("/stripe", stripe::router())
}
