//! Webhooks from third parties, verified by signature instead of a JWT.

pub mod stripe;
pub mod twilio;

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

/// Routes under `/api/webhooks`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().nest("/twilio", twilio::router()).nest("/stripe", stripe::router())
}
