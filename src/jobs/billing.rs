//! Scheduled billing work: trials that ended without a subscription become `trial_expired`
//! (their calls then hear that the line is not in service).

use graphile_worker::{TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

use super::context;

/// Moves every ended trial without a subscription to `trial_expired`; scheduled daily at
/// 04:00 UTC by [`super::worker`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExpireTrials {}

impl TaskHandler for ExpireTrials {
    const IDENTIFIER: &'static str = "expire_trials";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let db = &context(&ctx)?.db;
        let expired = expire_trials(db).await?;
        tracing::info!(expired, "ended trials expired");
        anyhow::Ok(())
    }
}

/// Expires every ended trial; returns how many.
pub async fn expire_trials(db: impl PgExecutor<'_>) -> anyhow::Result<u64> {
    let expired = sqlx::query!(
        "UPDATE customers SET subscription_status = 'trial_expired', subscription_status_at = now(), updated_at = now() \
         WHERE subscription_status = 'trial' AND trial_ends_at <= now() AND stripe_subscription_id IS NULL"
    )
    .execute(db)
    .await?;
    Ok(expired.rows_affected())
}

/// Expires one business's trial if it has ended (checked when a call arrives).
pub async fn expire_trial(db: impl PgExecutor<'_>, customer_id: i64) -> anyhow::Result<()> {
    sqlx::query!(
        "UPDATE customers SET subscription_status = 'trial_expired', subscription_status_at = now(), updated_at = now() \
         WHERE id = $1 AND subscription_status = 'trial' AND trial_ends_at <= now() AND stripe_subscription_id IS NULL",
        customer_id
    )
    .execute(db)
    .await?;
    Ok(())
}
