//! `GET /api/customers/{id}/appointments`: staff read a business's diary (read-only).

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::appointments as db;
use crate::db::customers;
use crate::http::AppState;
use crate::http::appointments::{AppointmentList, parse_range};
use crate::http::error::{AppError, AuthErrors, InputErrors, NotFound, Result};
use crate::http::extract::{AdminUser, AppJson, AppPath, AppQuery};
use crate::receptionist::hours::time_zone;

/// The route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_business_appointments))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// From this local date (`YYYY-MM-DD`) or instant (RFC 3339); default now.
    from: Option<String>,
    /// Until this local date (exclusive) or instant; default 30 days after `from`.
    to: Option<String>,
}

/// A business's appointments in a range (booked and cancelled), in order.
#[utoipa::path(
    get,
    path = "/{id}/appointments",
    tag = "customers",
    summary = "A business's appointments (read-only)",
    params(("id" = i64, Path, description = "Customer id"), ListQuery),
    responses((status = 200, body = AppointmentList), NotFound, AuthErrors, InputErrors),
    security(("admin_token" = []))
)]
async fn list_business_appointments(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<AppJson<AppointmentList>> {
    let customer =
        customers::find(&state.db, id).await?.ok_or_else(|| AppError::NotFound("customer not found".into()))?;
    let zone = time_zone(&customer.timezone);
    let (from, to) = parse_range(query.from.as_deref(), query.to.as_deref(), zone, Utc::now())?;
    let rows = db::list(&state.db, customer.id, from, to, None, None).await?;
    Ok(AppJson(AppointmentList::from(rows)))
}
