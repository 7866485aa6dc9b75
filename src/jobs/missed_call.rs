//! The missed-call text-back: when a call ends before the caller said anything (they hung
//! up during the greeting, or the call was busy, unanswered or failed), the business's
//! `missed_call_text` is texted to them from its number, at most once a day per number.
//!
//! Nothing goes to a withheld number, a number that opted out of the business's texts, or
//! from a business that is out of service or has turned the text off since. The text is
//! claimed in `missed_call_texts` before it is sent, under a lock per business and number,
//! so two missed calls at once send one text; a failed send gives the claim back for the
//! retry.

use chrono::{DateTime, Duration, Utc};
use graphile_worker::{TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};

use super::{JobContext, context, run_logged};
use crate::clients::twilio::{SmsDelivery, TwilioError};
use crate::db::{customers, sms_opt_outs};
use crate::receptionist::tools::caller_number;

/// The shortest time between two missed-call texts to one number from one business.
pub const ONCE_PER: Duration = Duration::hours(24);

/// Text the caller of call `call_id` the business's missed-call text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextMissedCaller {
    /// The call that ended before the caller said anything.
    pub call_id: i64,
}

impl TaskHandler for TextMissedCaller {
    const IDENTIFIER: &'static str = "text_missed_caller";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let span = tracing::info_span!("missed_call_text", call.id = self.call_id);
        run_logged::<Self>(&ctx, span, async { text_missed_caller(context(&ctx)?, self.call_id, Utc::now()).await })
            .await
    }
}

/// Sends call `call_id`'s caller the missed-call text, unless one of the rules above says no.
pub async fn text_missed_caller(job: &JobContext, call_id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    let call = sqlx::query!("SELECT customer_id, caller_phone FROM calls WHERE id = $1", call_id)
        .fetch_optional(&job.db)
        .await?;
    let Some(call) = call else { return Ok(()) };
    let Some(business) = customers::find(&job.db, call.customer_id).await? else { return Ok(()) };
    let text = business.missed_call_text.trim();
    let Some(to) = caller_number(call.caller_phone.as_deref()) else { return Ok(()) };
    if text.is_empty() || !business.is_in_service(now, job.config.stripe.past_due_grace) {
        tracing::info!("missed-call text turned off, or the business is out of service; not sent");
        return Ok(());
    }
    let Some(from) = business.deskringer_number.as_deref() else {
        tracing::warn!(customer.id = business.id, "the business has no number to text the caller from");
        return Ok(());
    };
    if sms_opt_outs::is_opted_out(&job.db, business.id, &to).await? {
        tracing::info!("the caller opted out of texts; not sent");
        return Ok(());
    }

    let mut tx = job.db.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1::int8::text || ':' || $2, 18))", business.id, to)
        .execute(&mut *tx)
        .await?;
    let already = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM missed_call_texts
                          WHERE customer_id = $1 AND phone = $2 AND (call_id = $3 OR sent_at > $4)) AS "already!""#,
        business.id,
        to,
        call_id,
        now - ONCE_PER
    )
    .fetch_one(&mut *tx)
    .await?;
    if already {
        tracing::info!("the number had a missed-call text in the last day; not sent");
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO missed_call_texts (call_id, customer_id, phone, sent_at) VALUES ($1, $2, $3, $4)",
        call_id,
        business.id,
        to,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let release =
        || async { sqlx::query!("DELETE FROM missed_call_texts WHERE call_id = $1", call_id).execute(&job.db).await };
    match job.clients.twilio.send_sms(from, &to, text).await {
        Ok(delivery) => {
            let sid = match &delivery {
                SmsDelivery::Sent(sid) => Some(sid.as_str()),
                SmsDelivery::Logged => None,
            };
            sqlx::query!("UPDATE missed_call_texts SET provider_id = $2 WHERE call_id = $1", call_id, sid)
                .execute(&job.db)
                .await?;
            tracing::info!(sent = sid.is_some(), "missed caller texted");
            Ok(())
        }
        Err(error) => {
            release().await?;
            match error.downcast_ref::<TwilioError>() {
                // They texted STOP without us hearing of it: remember, as if they had.
                Some(twilio) if twilio.is_unsubscribed() => {
                    sms_opt_outs::opt_out(&job.db, business.id, &to).await?;
                    Ok(())
                }
                // A number that cannot take texts (a landline): the same text would be refused again.
                Some(twilio @ TwilioError::Api { status: 400, .. }) => {
                    tracing::warn!(error = twilio.for_log(), "Twilio refused the missed-call text; not retried");
                    Ok(())
                }
                _ => Err(error),
            }
        }
    }
}
