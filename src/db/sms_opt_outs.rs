//! Queries on `sms_opt_outs`: numbers that texted a carrier opt-out word (STOP, ...) to a
//! business's number, and get no more texts from that business until they opt back in.

use sqlx::PgExecutor;

/// Whether `phone` has opted out of texts from business `customer_id`.
pub async fn is_opted_out(db: impl PgExecutor<'_>, customer_id: i64, phone: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sms_opt_outs WHERE customer_id = $1 AND phone = $2) AS "opted_out!""#,
        customer_id,
        phone
    )
    .fetch_one(db)
    .await
}

/// Records that `phone` wants no more texts from business `customer_id` (again is a no-op).
pub async fn opt_out(db: impl PgExecutor<'_>, customer_id: i64, phone: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO sms_opt_outs (customer_id, phone) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        customer_id,
        phone
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Lifts `phone`'s opt-out from business `customer_id`, if any.
pub async fn opt_in(db: impl PgExecutor<'_>, customer_id: i64, phone: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM sms_opt_outs WHERE customer_id = $1 AND phone = $2", customer_id, phone)
        .execute(db)
        .await?;
    Ok(())
}
