//! `GET /api/admin/calendar-connections`: every business's connected calendar and its health.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{AuthErrors, Result};
use crate::http::extract::{AdminUser, AppJson};

/// The admin's calendar routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_calendar_connections))
}

/// One business's connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminCalendarConnection {
    /// The business.
    pub customer_id: i64,
    /// Its name.
    pub business_name: String,
    /// `google` or `calcom`.
    pub provider: String,
    /// `connected`, `needs_reconnect` or `error`.
    pub status: String,
    /// The last problem.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Changes waiting to be written to the calendar (Google: bookings, moves and
    /// cancellations; Cal.com: cancellations).
    pub pending_writes: i64,
}

/// Every connection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminCalendarConnections {
    /// Connections with a problem first, then by business name.
    pub connections: Vec<AdminCalendarConnection>,
}

/// `GET /api/admin/calendar-connections`.
#[utoipa::path(
    get,
    path = "/calendar-connections",
    tag = "admin",
    summary = "Every business's connected calendar",
    responses((status = 200, body = AdminCalendarConnections), AuthErrors),
    security(("admin_token" = []))
)]
async fn list_calendar_connections(
    _admin: AdminUser,
    State(state): State<AppState>,
) -> Result<AppJson<AdminCalendarConnections>> {
    // A write is pending while the calendar does not show an appointment's latest version:
    // Google, a booked one not yet written or a cancelled one whose event is still there;
    // Cal.com, a cancelled one whose booking is not yet cancelled there.
    let rows = sqlx::query!(
        r#"SELECT c.customer_id, u.business_name, c.provider, c.status, c.last_error, c.last_error_at,
                  (SELECT count(*) FROM appointments a
                   WHERE a.customer_id = c.customer_id
                         AND a.calendar_synced_sequence IS DISTINCT FROM a.sequence
                         AND CASE c.provider
                             WHEN 'google' THEN a.status = 'booked' OR a.google_event_id IS NOT NULL
                             ELSE a.status = 'cancelled' AND a.calcom_uid IS NOT NULL
                             END) AS "pending_writes!"
           FROM calendar_connections c JOIN customers u ON u.id = c.customer_id
           ORDER BY c.status = 'connected', u.business_name, c.customer_id"#
    )
    .fetch_all(&state.db)
    .await?;
    let connections = rows
        .into_iter()
        .map(|row| AdminCalendarConnection {
            customer_id: row.customer_id,
            business_name: row.business_name,
            provider: row.provider,
            status: row.status,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
            pending_writes: row.pending_writes,
        })
        .collect();
    Ok(AppJson(AdminCalendarConnections { connections }))
}
