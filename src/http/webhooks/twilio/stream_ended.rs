//! `POST /api/webhooks/twilio/stream-ended`: a realtime call's media stream ended while the
//! call goes on (`<Connect action>`). What comes next was decided by the instance that
//! bridged the stream and stored in `calls.stream_outcome`: ring the forward number, hang
//! up, or (on a fault, or when nothing was stored) continue in the standard flow. A call
//! that is over (a replayed request) is only hung up on: nothing is stored or asked.

use axum::extract::State;

use super::gather::{record_reply, transfer_without_notice};
use super::{TwiMl, TwilioForm, say_and_hang_up, speak_and_listen};
use crate::db::customers;
use crate::http::AppState;
use crate::http::error::Result;
use crate::receptionist::conversation::CALL_NOT_FOUND;
use crate::receptionist::languages::{self, ENGLISH};
use crate::receptionist::realtime::FALLBACK_APOLOGY;
use crate::receptionist::twiml;

/// Path Twilio posts to when a media stream ends.
pub const STREAM_ENDED_PATH: &str = "/api/webhooks/twilio/stream-ended";

/// Answers what the call does after its media stream.
#[utoipa::path(
    post,
    path = "/stream-ended",
    tag = "webhooks",
    summary = "Twilio: a realtime call's media stream ended",
    request_body(content = super::TwilioWebhookForm, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's request signature")),
    responses((status = 200, description = "TwiML", content_type = "text/xml", body = String), (status = 400, description = "A required field is missing", body = crate::http::error::ErrorBody), (status = 403, description = "Missing or wrong X-Twilio-Signature", body = crate::http::error::ErrorBody))
)]
#[tracing::instrument(skip_all, fields(call.id))]
pub async fn after_stream(State(state): State<AppState>, form: TwilioForm) -> Result<TwiMl> {
    let call_sid = form.require("CallSid")?;
    let call = sqlx::query!(
        r#"SELECT id, customer_id, stream_outcome, status IN ('in_progress', 'queued', 'ringing') AS "live!"
           FROM calls WHERE twilio_call_sid = $1"#,
        call_sid
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(call) = call else {
        tracing::warn!("stream ended for an unknown call");
        return Ok(say_and_hang_up(&state, CALL_NOT_FOUND).await);
    };
    tracing::Span::current().record("call.id", call.id);
    if !call.live {
        // A replay for a call that is over: nobody is on the line to hear anything.
        tracing::info!("stream ended for a call that has ended");
        return Ok(TwiMl::from(twiml::Response::new().hangup()));
    }
    let customer = customers::find(&state.db, call.customer_id).await?;
    match (call.stream_outcome.as_deref(), customer) {
        (Some("hangup"), _) => Ok(TwiMl::from(twiml::Response::new().hangup())),
        (Some("transfer"), Some(customer)) if customer.forward_to_number.is_some() => {
            tracing::info!("transferring the caller after the stream");
            Ok(TwiMl::from(transfer_without_notice(&state, &customer)))
        }
        (outcome, customer) => {
            // A fault, or no decision stored (the bridging instance died): the caller is
            // not dropped; the standard flow takes the call on with its history so far.
            tracing::info!(outcome = outcome.unwrap_or("none"), "continuing in the standard flow");
            if !record_reply(&state, call.id, FALLBACK_APOLOGY, 0.0).await? {
                // The call ended meanwhile.
                return Ok(TwiMl::from(twiml::Response::new().hangup()));
            }
            // The apology is English; the standard flow listens in the business's main
            // language, as its later turns do (the call has no language of its own).
            let language = customer.map_or(ENGLISH, |customer| languages::of_business(&customer.languages)[0]);
            let speech = state.speech.speak(FALLBACK_APOLOGY).await;
            Ok(TwiMl::from(speak_and_listen(&state, [speech], language).await))
        }
    }
}
