//! `POST /api/webhooks/twilio/status`: the call ended. Idempotent under Twilio's retries.

use axum::extract::State;
use serde::Serialize;

use super::TwilioForm;
use crate::http::AppState;
use crate::http::error::{AppError, Result};
use crate::http::extract::AppJson;
use crate::jobs::missed_call::TextMissedCaller;
use crate::jobs::{self, post_call::SummarizeCall};

/// Twilio's final call statuses; anything else (`ringing`, `in-progress`) is progress.
const FINAL_STATUSES: &[&str] = &["completed", "busy", "failed", "no-answer", "canceled"];

/// Records status, duration, end time, cost and transcript the first time a final status
/// arrives, and in the same transaction enqueues the post-call job for a completed call in
/// which the caller said something, or the missed-call text for a call in which they said
/// nothing. Later deliveries change nothing.
/// What became of a status callback.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusRecorded {
    /// `recorded`, `already recorded` or `ignored` (not a final status, or a call refused
    /// unanswered).
    pub status: &'static str,
}

#[utoipa::path(
    post,
    path = "/status",
    tag = "webhooks",
    summary = "Twilio: the call ended",
    request_body(content = super::TwilioWebhookForm, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's request signature")),
    responses((status = 200, body = StatusRecorded), (status = 400, description = "A required field is missing", body = crate::http::error::ErrorBody), (status = 403, description = "Missing or wrong X-Twilio-Signature", body = crate::http::error::ErrorBody), (status = 404, description = "Unknown call", body = crate::http::error::ErrorBody))
)]
#[tracing::instrument(skip_all, fields(call.id))]
pub async fn record_call_status(State(state): State<AppState>, form: TwilioForm) -> Result<AppJson<StatusRecorded>> {
    let call_sid = form.require("CallSid")?;
    let status = form.require("CallStatus")?;
    if !FINAL_STATUSES.contains(&status) {
        return Ok(AppJson(StatusRecorded { status: "ignored" }));
    }
    let duration: i32 = match form.get("CallDuration").map(str::trim).filter(|d| !d.is_empty()) {
        None => 0,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|seconds| *seconds >= 0)
            .ok_or_else(|| AppError::BadRequest("`CallDuration` must be a whole number of seconds".into()))?,
    };

    let mut tx = state.db.begin().await?;
    // The row is locked before the transcript is read, in a statement of its own: a line
    // being stored for the call (which locks the row too, see `gather::record_line`) is
    // committed first and the transcript below, read with a later snapshot, includes it;
    // any line after that finds the call ended and is not stored.
    sqlx::query!("SELECT id FROM calls WHERE twilio_call_sid = $1 FOR NO KEY UPDATE", call_sid)
        .fetch_optional(&mut *tx)
        .await?;
    let updated = sqlx::query!(
        r#"UPDATE calls c SET status = $2, duration_seconds = $3::int4, ended_at = now(),
                twilio_cost = ceil($3::int4 / 60.0) * $4::float8,
                transcript = (SELECT string_agg(CASE l.speaker WHEN 'caller' THEN 'Caller' ELSE 'AI' END || ': ' || l.message,
                                                E'\n' ORDER BY l.timestamp, l.id)
                              FROM call_logs l WHERE l.call_id = c.id)
         WHERE c.twilio_call_sid = $1 AND c.status IN ('in_progress', 'queued', 'ringing')
         RETURNING c.id, c.is_test, c.caller_phone,
                   EXISTS (SELECT 1 FROM call_logs l WHERE l.call_id = c.id AND l.speaker = 'caller') AS "caller_spoke!",
                   (SELECT cu.missed_call_text <> '' FROM customers cu WHERE cu.id = c.customer_id) AS "texts_back!""#,
        call_sid,
        status,
        duration,
        state.config.twilio.cost_per_minute
    )
    .fetch_optional(&mut *tx)
    .await?;

    let Some(ended) = updated else {
        let known = sqlx::query!(
            r#"SELECT EXISTS (SELECT 1 FROM calls WHERE twilio_call_sid = $1) AS "known!",
                      EXISTS (SELECT 1 FROM blocked_calls WHERE twilio_call_sid = $1) AS "refused!""#,
            call_sid
        )
        .fetch_one(&mut *tx)
        .await?;
        return match (known.known, known.refused) {
            (true, _) => Ok(AppJson(StatusRecorded { status: "already recorded" })),
            // A call refused unanswered (a blocked caller) is no call of the business.
            (false, true) => Ok(AppJson(StatusRecorded { status: "ignored" })),
            (false, false) => Err(AppError::NotFound("unknown call".into())),
        };
    };
    let (call_id, is_test, caller_spoke) = (ended.id, ended.is_test, ended.caller_spoke);
    tracing::Span::current().record("call.id", call_id);
    // The call is over: no more retried turns to answer.
    sqlx::query!("DELETE FROM gather_replies WHERE call_id = $1", call_id).execute(&mut *tx).await?;
    // A test call is the owner hearing the receptionist: nothing to summarize or notify.
    let summarize = status == "completed" && caller_spoke && !is_test;
    if summarize {
        jobs::enqueue(&state.db, &mut tx, SummarizeCall { call_id }, format!("summarize-call-{call_id}")).await?;
    }
    // Hung up during the greeting, busy, unanswered, failed: the business's missed-call text
    // goes out through the queue (which applies the once-a-day and opt-out rules).
    let text_back = !caller_spoke
        && !is_test
        && ended.texts_back
        && crate::receptionist::tools::caller_number(ended.caller_phone.as_deref()).is_some();
    if text_back {
        jobs::enqueue(&state.db, &mut tx, TextMissedCaller { call_id }, format!("missed-call-text-{call_id}")).await?;
    }
    tx.commit().await?;
    tracing::info!(status, duration, summarize, text_back, "call ended");
    Ok(AppJson(StatusRecorded { status: "recorded" }))
}
