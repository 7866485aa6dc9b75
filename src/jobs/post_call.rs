//! The post-call job: summarise the call, save summary, intent and callback flag, and
//! enqueue the owner's notifications in the same transaction.

use graphile_worker::{TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::notify::{EmailOwner, TextOwner};
use super::{JobContext, context, enqueue};
use crate::receptionist::conversation::Line;
use crate::receptionist::{languages, summary};

/// Summarise call `call_id` and notify its business.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SummarizeCall {
    /// The call's id.
    pub call_id: i64,
}

impl TaskHandler for SummarizeCall {
    const IDENTIFIER: &'static str = "summarize_call";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let result = async { summarize_call(context(&ctx)?, self.call_id).await }.await;
        if let Err(error) = &result {
            tracing::warn!(
                call.id = self.call_id,
                attempt = ctx.job().attempts(),
                error = format!("{error:#}"),
                "summarize_call failed; will retry"
            );
        }
        result
    }
}

#[derive(FromRow)]
struct CallToSummarize {
    caller_phone: Option<String>,
    summary: Option<String>,
    notification_email: Option<String>,
    notification_phone: Option<String>,
    /// The business's languages, the main one first.
    languages: Vec<String>,
    /// The language the call was held in, when known.
    language: Option<String>,
}

#[derive(FromRow)]
struct LogLine {
    speaker: String,
    message: String,
}

/// Runs the job. Re-running it after it committed changes nothing.
pub async fn summarize_call(job: &JobContext, call_id: i64) -> anyhow::Result<()> {
    let call = sqlx::query_as!(
        CallToSummarize,
        "SELECT c.caller_phone, c.summary, cu.notification_email, cu.notification_phone, cu.languages, c.language \
         FROM calls c JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1",
        call_id
    )
    .fetch_optional(&job.db)
    .await?;
    let Some(call) = call else {
        tracing::info!(call.id = call_id, "call no longer exists; nothing to summarise");
        return Ok(());
    };
    if call.summary.is_some() {
        return Ok(());
    }

    let logs = sqlx::query_as!(
        LogLine,
        "SELECT speaker, message FROM call_logs WHERE call_id = $1 ORDER BY timestamp, id",
        call_id
    )
    .fetch_all(&job.db)
    .await?;
    let lines: Vec<Line> = logs
        .into_iter()
        .map(|log| if log.speaker == "caller" { Line::Caller(log.message) } else { Line::Receptionist(log.message) })
        .collect();
    // The model call happens outside any transaction: nothing is held open while we wait.
    let languages = summary::SummaryLanguages {
        main: languages::of_business(&call.languages)[0],
        call: call.language.as_deref().and_then(languages::find),
    };
    let result = summary::summarize(job.clients.openai.as_ref(), call.caller_phone.as_deref(), &lines, languages).await;

    let mut tx = job.db.begin().await?;
    let saved = sqlx::query!(
        "UPDATE calls SET summary = $2, intent = $3, callback_requested = callback_requested OR $4, \
         openai_cost = openai_cost + $5 WHERE id = $1 AND summary IS NULL",
        call_id,
        result.summary,
        result.intent,
        result.callback_requested,
        result.cost
    )
    .execute(&mut *tx)
    .await?;
    if saved.rows_affected() == 0 {
        // Another run got there first; it enqueued the notifications.
        return Ok(());
    }
    if call.notification_email.is_some() {
        enqueue(&job.db, &mut tx, EmailOwner { call_id }, format!("email-owner-{call_id}")).await?;
    }
    if call.notification_phone.is_some() {
        enqueue(&job.db, &mut tx, TextOwner { call_id }, format!("text-owner-{call_id}")).await?;
    }
    tx.commit().await?;
    tracing::info!(call.id = call_id, intent = %result.intent, "call summarised");
    Ok(())
}
