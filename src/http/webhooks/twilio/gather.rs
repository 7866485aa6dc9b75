//! `POST /api/webhooks/twilio/gather`: the caller spoke (or a transfer ended); the
//! receptionist answers and listens again.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;

use super::{TwiMl, TwilioForm, business_context, gather_url, say_and_hang_up, speak_and_listen};
use crate::db::customers::{self, Customer};
use crate::http::AppState;
use crate::http::error::Result;
use crate::receptionist::conversation::{
    CALL_NOT_FOUND, Line, MAX_UTTERANCE_CHARS, NO_TRANSFER, TRANSFER_UNANSWERED, TRANSFERRING, TurnReply, take_turn,
};
use crate::receptionist::languages::{self, ENGLISH, Language};
use crate::receptionist::summary::truncate;
use crate::receptionist::tools::{self, CallDesk, Mode, caller_number};
use crate::receptionist::twiml;

/// Seconds the forward number rings before the caller is offered to leave a message.
const TRANSFER_RING_SECONDS: u32 = 30;

/// Stores what the caller said, asks the model (or the built-in receptionist) for the
/// answer, stores it, and answers TwiML that speaks it, or transfers the call.
#[utoipa::path(
    post,
    path = "/gather",
    tag = "webhooks",
    summary = "Twilio: the caller spoke, or a transfer ended",
    request_body(content = super::TwilioWebhookForm, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's request signature")),
    responses((status = 200, description = "TwiML", content_type = "text/xml", body = String), (status = 400, description = "A required field is missing", body = crate::http::error::ErrorBody), (status = 403, description = "Missing or wrong X-Twilio-Signature", body = crate::http::error::ErrorBody))
)]
#[tracing::instrument(skip_all, fields(call.id))]
pub async fn continue_call(State(state): State<AppState>, headers: HeaderMap, form: TwilioForm) -> Result<TwiMl> {
    let call_sid = form.require("CallSid")?;
    let call = sqlx::query_as!(
        LiveCall,
        r#"SELECT id, customer_id, caller_phone, language, status IN ('in_progress', 'queued', 'ringing') AS "live!"
           FROM calls WHERE twilio_call_sid = $1"#,
        call_sid
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(call) = call else {
        tracing::warn!("gather for an unknown call");
        return Ok(say_and_hang_up(&state, CALL_NOT_FOUND).await);
    };
    tracing::Span::current().record("call.id", call.id);
    if !call.live {
        // A replay (or a very late retry) for a call that is over: nothing to say to
        // anyone, so nothing is asked or stored.
        tracing::info!("gather for a call that has ended");
        return Ok(hang_up());
    }
    let retry_token = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty() && token.len() <= 200);
    match retry_token {
        Some(token) => answer_once(&state, token, &call, &form).await,
        None => take_caller_turn(&state, &call, &form).await,
    }
}

/// A call `gather` continues, and whether it is still going on.
#[derive(Debug)]
struct LiveCall {
    id: i64,
    customer_id: i64,
    /// The number calling, as `voice` stored it from Twilio's `From`.
    caller_phone: Option<String>,
    /// The language the call is held in (see [`LiveCall::language`]).
    language: Option<String>,
    /// Not yet given a final status by `status`.
    live: bool,
}

impl LiveCall {
    /// The language the call is held in: the one stored (the main one when the call began,
    /// or the caller's choice), else the first of `served` (a call that began in realtime
    /// mode and fell back to this flow).
    fn language(&self, served: &[&'static Language]) -> &'static Language {
        self.language.as_deref().and_then(languages::find).unwrap_or_else(|| served.first().copied().unwrap_or(ENGLISH))
    }
}

/// `<Hangup/>`: the answer for a call that is over.
fn hang_up() -> TwiMl {
    TwiMl::from(twiml::Response::new().hangup())
}

/// Twilio's header naming a request; its retries carry the same value.
const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";
/// How long a retry waits for the first request's answer before answering on its own.
const RETRY_WAIT: Duration = Duration::from_secs(12);

/// Answers a `gather` Twilio may retry: the first request with `token` claims it, takes the
/// turn and keeps its TwiML; a repeat gets that same TwiML, with no second model call or
/// stored line. A repeat arriving while the first is still working waits for its answer.
async fn answer_once(state: &AppState, token: &str, call: &LiveCall, form: &TwilioForm) -> Result<TwiMl> {
    let waited_since = tokio::time::Instant::now();
    loop {
        // Only a call still going on is claimed: `status` deletes the claims of a call
        // that ended, and none may be added after it.
        let claimed = sqlx::query!(
            "INSERT INTO gather_replies (idempotency_token, call_id) \
             SELECT $1, id FROM calls WHERE id = $2 AND status IN ('in_progress', 'queued', 'ringing') \
             ON CONFLICT DO NOTHING",
            token,
            call.id
        )
        .execute(&state.db)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            return match take_caller_turn(state, call, form).await {
                Ok(answer) => {
                    sqlx::query!("UPDATE gather_replies SET twiml = $2 WHERE idempotency_token = $1", token, answer.0)
                        .execute(&state.db)
                        .await?;
                    Ok(answer)
                }
                Err(error) => {
                    // Give the claim up so that Twilio's retry can take the turn.
                    let _ = sqlx::query!("DELETE FROM gather_replies WHERE idempotency_token = $1", token)
                        .execute(&state.db)
                        .await;
                    Err(error)
                }
            };
        }
        let kept = sqlx::query_scalar!("SELECT twiml FROM gather_replies WHERE idempotency_token = $1", token)
            .fetch_optional(&state.db)
            .await?;
        match kept {
            Some(Some(twiml)) => {
                tracing::info!("repeated gather answered with the first answer");
                return Ok(TwiMl(twiml));
            }
            // No claim, and none could be taken: the call ended meanwhile.
            None if !is_live(state, call.id).await? => return Ok(hang_up()),
            _ if waited_since.elapsed() >= RETRY_WAIT => {
                // The first request is still working (or died): ask again, with no model call.
                let language = call.language(&[]);
                let speech = state.speech.speak_in(language.did_not_catch, language).await;
                return Ok(TwiMl::from(speak_and_listen(state, [speech], language).await));
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Whether call `call_id` has no final status yet.
async fn is_live(state: &AppState, call_id: i64) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM calls WHERE id = $1 AND status IN ('in_progress', 'queued', 'ringing')) AS "live!""#,
        call_id
    )
    .fetch_one(&state.db)
    .await?)
}

/// One turn: stores the caller's line, asks for the answer, stores it, answers TwiML.
/// A call that ends meanwhile (its `status` arrives during the turn) gets `<Hangup/>`, and
/// no line is stored after its transcript was taken.
async fn take_caller_turn(state: &AppState, call: &LiveCall, form: &TwilioForm) -> Result<TwiMl> {
    let call_id = call.id;
    let Some(customer) = customers::find(&state.db, call.customer_id).await? else {
        return Ok(say_and_hang_up(state, CALL_NOT_FOUND).await);
    };

    let served = languages::of_business(&customer.languages);
    let mut language = call.language(&served);

    // Twilio posts here when a transfer (`<Dial>`) ends.
    if let Some(dial_status) = form.get("DialCallStatus") {
        return after_transfer(state, call_id, dial_status, language).await;
    }

    let said = form.get("SpeechResult").map(str::trim).unwrap_or_default();
    if said.is_empty() {
        // Nothing recognised: a gentle re-prompt, no model call.
        let speech = state.speech.speak_in(language.did_not_catch, language).await;
        return Ok(TwiMl::from(speak_and_listen(state, [speech], language).await));
    }
    let said = truncate(said, MAX_UTTERANCE_CHARS);
    if !record_line(state, call_id, "caller", &said, 0.0).await? {
        return Ok(hang_up());
    }
    // The caller named another of the business's languages ("español"): the rest of the
    // call is held in it, this reply included.
    if let Some(chosen) = languages::chosen_by(&said, &served, language) {
        sqlx::query!("UPDATE calls SET language = $2 WHERE id = $1", call_id, chosen.code).execute(&state.db).await?;
        tracing::info!(language = chosen.code, "the caller chose a language");
        language = chosen;
    }

    let history = history(state, call_id).await?;
    let mut business = business_context(&customer);
    business.reply_language = Some(language);
    // The booking tools act for the number calling (Twilio's `From`), never for a number
    // the model names.
    let specs = tools::for_call(&customer, Mode::Standard);
    let desk = CallDesk {
        db: state.db.clone(),
        customer: customer.clone(),
        call_id,
        caller: caller_number(call.caller_phone.as_deref().or(form.get("From"))),
        notify: super::call_notices(),
        outside: crate::http::outside_calendar::for_business(state, customer.id).await?,
        channel: crate::db::calls::Channel::Voice,
        texter: super::texter(state),
    };
    let outcome = take_turn(
        state.clients.openai.as_ref(),
        state.config.openai.reply_deadline,
        &business,
        &history,
        Utc::now(),
        Some((&desk, &specs)),
    )
    .await;

    match outcome.reply {
        TurnReply::Say(reply) => {
            if !record_reply(state, call_id, &reply, outcome.cost).await? {
                return Ok(hang_up());
            }
            let speech = state.speech.speak_in(&reply, language).await;
            Ok(TwiMl::from(speak_and_listen(state, [speech], language).await))
        }
        TurnReply::Transfer { .. } => match &customer.forward_to_number {
            Some(_) => {
                if !record_reply(state, call_id, TRANSFERRING, outcome.cost).await? {
                    return Ok(hang_up());
                }
                tracing::info!("transferring the caller");
                Ok(TwiMl::from(transfer(state, &customer).await))
            }
            None => {
                if !record_reply(state, call_id, NO_TRANSFER, outcome.cost).await? {
                    return Ok(hang_up());
                }
                let speech = state.speech.speak(NO_TRANSFER).await;
                Ok(TwiMl::from(speak_and_listen(state, [speech], language).await))
            }
        },
    }
}

/// The call's lines so far, in order.
async fn history(state: &AppState, call_id: i64) -> Result<Vec<Line>> {
    let rows =
        sqlx::query!("SELECT speaker, message FROM call_logs WHERE call_id = $1 ORDER BY timestamp, id", call_id)
            .fetch_all(&state.db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|row| if row.speaker == "caller" { Line::Caller(row.message) } else { Line::Receptionist(row.message) })
        .collect())
}

/// Stores the receptionist's line and what producing it cost; false (and no line stored)
/// when the call has ended. See [`record_line`].
pub async fn record_reply(state: &AppState, call_id: i64, reply: &str, cost: f64) -> Result<bool> {
    record_line(state, call_id, "ai", reply, cost).await
}

/// Stores a line of the call, only while the call has no final status, and adds `cost`
/// (spent whether or not the call is still going on), in one statement: the running call
/// totals it updates stay locked only for that statement. Returns whether the line was
/// stored.
///
/// The call row is read `FOR SHARE`, which waits for a `status` that is ending the call
/// (it locks the row first) and then sees it ended; a `status` arriving while the line is
/// stored waits for it, and its transcript includes the line.
async fn record_line(state: &AppState, call_id: i64, speaker: &str, line: &str, cost: f64) -> Result<bool> {
    let stored = sqlx::query_scalar!(
        r#"WITH live AS (SELECT id FROM calls WHERE id = $1 AND status IN ('in_progress', 'queued', 'ringing') FOR NO KEY UPDATE),
                line AS (INSERT INTO call_logs (call_id, speaker, message) SELECT id, $2, $3 FROM live RETURNING id),
                cost AS (UPDATE calls SET openai_cost = openai_cost + $4::float8 WHERE id = $1 AND $4::float8 > 0)
           SELECT EXISTS (SELECT 1 FROM line) AS "stored!""#,
        call_id,
        speaker,
        line,
        cost
    )
    .fetch_one(&state.db)
    .await?;
    if !stored {
        tracing::info!(speaker, "the call ended during the turn; its line is not stored");
    }
    Ok(stored)
}

/// A short line, then the forward number rings (see [`transfer_without_notice`]).
async fn transfer(state: &AppState, customer: &Customer) -> twiml::Response {
    let notice = twiml::Response::new().speak(state.speech.speak(TRANSFERRING).await);
    dial_forward_number(state, customer, notice)
}

/// The forward number rings with the business's number as caller id; Twilio posts the
/// outcome back to `/gather`, which offers to take a message if nobody answered. For a
/// realtime call, whose receptionist already said it is transferring.
pub fn transfer_without_notice(state: &AppState, customer: &Customer) -> twiml::Response {
    dial_forward_number(state, customer, twiml::Response::new())
}

fn dial_forward_number(state: &AppState, customer: &Customer, before: twiml::Response) -> twiml::Response {
    before.dial(twiml::Dial {
        action: Some(gather_url(state)),
        caller_id: customer.deskringer_number.clone(),
        timeout_seconds: TRANSFER_RING_SECONDS,
        number: customer.forward_to_number.clone().unwrap_or_default(),
    })
}

/// After a transfer: hang up if somebody answered, else offer to take a message (and
/// listen in the call's `language`).
async fn after_transfer(
    state: &AppState,
    call_id: i64,
    dial_status: &str,
    language: &'static Language,
) -> Result<TwiMl> {
    if dial_status == "completed" || dial_status == "answered" {
        return Ok(hang_up());
    }
    tracing::info!(dial_status, "transfer not answered");
    if !record_reply(state, call_id, TRANSFER_UNANSWERED, 0.0).await? {
        return Ok(hang_up());
    }
    let speech = state.speech.speak(TRANSFER_UNANSWERED).await;
    Ok(TwiMl::from(speak_and_listen(state, [speech], language).await))
}
