//! Queries on `calendar_connections` shared by the portal's routes, the diary's busy-time
//! lookup and the calendar-writing job.

use sqlx::PgExecutor;

/// Google refused the stored grant (revoked, expired): the connection needs reconnecting,
/// and says why in words for the owner.
pub async fn mark_needs_reconnect(db: impl PgExecutor<'_>, customer_id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE calendar_connections
         SET status = 'needs_reconnect', last_error = $2, last_error_at = now(), updated_at = now()
         WHERE customer_id = $1",
        customer_id,
        "Google no longer accepts DeskRinger's access (revoked or expired): connect the calendar again"
    )
    .execute(db)
    .await?;
    tracing::info!(customer.id = customer_id, "Google calendar needs reconnecting");
    Ok(())
}

/// Records a failed write to the calendar, in words for the owner and the admin.
pub async fn record_error(db: impl PgExecutor<'_>, customer_id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE calendar_connections SET last_error = $2, last_error_at = now(), updated_at = now()
         WHERE customer_id = $1",
        customer_id,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}
