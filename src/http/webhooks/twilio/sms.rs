//! `POST /api/webhooks/twilio/sms`: a text arrives at a business's DeskRinger number.
//!
//! The whole message, trimmed and in any case, is a keyword:
//! - `C` cancels the sender's next appointment at the business and says which (the owner
//!   is told);
//! - the carriers' opt-out words record that the sender wants no more texts from the
//!   business, and the opt-in words undo that. Twilio itself acts on them and answers the
//!   sender on long codes, and still posts the message here, so we answer nothing: "By
//!   default, Twilio handles standard English-language reply messages - STOP, UNSUBSCRIBE,
//!   END, QUIT, STOPALL, REVOKE, OPTOUT, and CANCEL - for long code numbers"; START, YES and
//!   UNSTOP opt back in; only single-word messages count
//!   (<https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out>,
//!   <https://help.twilio.com/articles/223134027-Twilio-support-for-opt-out-keywords-SMS-STOP-filtering->).
//!   `CANCEL` is one of them, which is why cancelling an appointment is `C`;
//! - `HELP` and `INFO` (and an empty text) get one line with the business's name and number.
//!
//! Anything else is a conversation (issue 21): it joins the sender's text thread with the
//! business (a `calls` row with `channel = 'sms'`, see [`crate::receptionist::texting`] for
//! when a thread is new) and the model answers it as on a call, with the business's
//! instructions and booking tools, the sender's number standing for the caller's. The
//! owner is told of a new thread (then at most once an hour), a sender gets at most ten
//! answers an hour (then one line saying someone will reply, then nothing), and each text
//! in or out adds its cost to the thread. Without OpenAI the answer is the help line.
//!
//! Nothing is answered to a number that opted out (Twilio would refuse the reply), to a
//! short code or an alphanumeric sender (automated senders: answering could loop), or for a
//! number that belongs to no business. A redelivery of a `MessageSid` already handled
//! changes nothing (no model call, no line, no notice) and answers what the first delivery
//! answered.

use axum::extract::State;
use chrono::Utc;

use super::{TwiMl, TwilioForm, business_context};
use crate::booking::notices::{Audience, Change};
use crate::db::appointments as diary;
use crate::db::calls::{self, Channel};
use crate::db::customers::{self, Customer};
use crate::db::{sms_opt_outs, sms_threads};
use crate::http::AppState;
use crate::http::error::Result;
use crate::jobs::appointments as notices;
use crate::jobs::appointments::{NoticeKind, caller_text};
use crate::jobs::notify;
use crate::receptionist::conversation::{Line, MAX_UTTERANCE_CHARS, TurnReply, take_turn};
use crate::receptionist::hours::time_zone;
use crate::receptionist::summary::truncate;
use crate::receptionist::texting::{self, Answer, LIMIT_LINE, MAX_REPLY_CHARS, NOTICE_INTERVAL, TEAM_WILL_REPLY};
use crate::receptionist::tools::{self, CallDesk, Mode};
use crate::receptionist::twiml;

/// The fields of Twilio's incoming-message webhook that the server reads, for the OpenAPI
/// document (the handler keeps every parameter: the signature covers them all).
#[derive(utoipa::ToSchema)]
#[expect(non_snake_case, dead_code, reason = "Twilio's parameter names; a description, never built")]
pub struct TwilioMessageForm {
    MessageSid: String,
    From: String,
    To: String,
    Body: Option<String>,
}

/// What a text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `C`: cancel my next appointment.
    Cancel,
    /// A carrier opt-out word: no more texts.
    OptOut,
    /// A carrier opt-in word: texts again.
    OptIn,
    /// `HELP`, `INFO` (or nothing at all): who is this?
    Help,
    /// Anything else: a message for the receptionist.
    Conversation,
}

/// The carriers' opt-out words, which Twilio acts on by default on long codes.
pub const OPT_OUT_WORDS: [&str; 8] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
/// The words that opt back in.
pub const OPT_IN_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];
/// The words that ask who is texting.
pub const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];

impl Keyword {
    /// The keyword a whole message is (surrounding space and case ignored); anything that is
    /// not one of the words is a conversation.
    pub fn of(body: &str) -> Self {
        let word = body.trim();
        let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(word));
        if word.eq_ignore_ascii_case("C") {
            Keyword::Cancel
        } else if is(&OPT_OUT_WORDS) {
            Keyword::OptOut
        } else if is(&OPT_IN_WORDS) {
            Keyword::OptIn
        } else if word.is_empty() || is(&HELP_WORDS) {
            Keyword::Help
        } else {
            Keyword::Conversation
        }
    }
}

/// Whether `from` is a phone number a person texts from (E.164, 8 to 15 digits), not a short code (fewer than 8
/// digits) or an alphanumeric sender ID.
pub fn is_personal_number(from: &str) -> bool {
    from.strip_prefix('+')
        .is_some_and(|digits| (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Acts on a text's keyword and answers it in TwiML (`<Message>` or an empty `<Response/>`).
#[utoipa::path(
    post,
    path = "/sms",
    tag = "webhooks",
    summary = "Twilio: a text arrives",
    request_body(content = TwilioMessageForm, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's request signature")),
    responses((status = 200, description = "TwiML: a `<Message>`, or an empty `<Response/>`", content_type = "text/xml", body = String), (status = 400, description = "A required field is missing", body = crate::http::error::ErrorBody), (status = 403, description = "Missing or wrong X-Twilio-Signature", body = crate::http::error::ErrorBody))
)]
#[tracing::instrument(skip_all, fields(customer.id, call.id))]
pub async fn receive_text(State(state): State<AppState>, form: TwilioForm) -> Result<TwiMl> {
    let message_sid = form.require("MessageSid")?;
    let to = form.require("To")?;
    let from = form.get("From").map(str::trim).unwrap_or_default();
    let body = form.get("Body").unwrap_or_default();
    let keyword = Keyword::of(body);

    let Some(business) = customers::find_by_number(&state.db, to).await? else {
        tracing::info!("text to a number that belongs to no business");
        return Ok(answer(None));
    };
    tracing::Span::current().record("customer.id", business.id);
    if !is_personal_number(from) {
        tracing::info!("text from a short code or sender ID; not answered");
        return Ok(answer(None));
    }
    // A number blocked by the business (or for every business) reaches the receptionist by
    // text no more than by phone.
    if super::screen::refusal(&state.db, &business, Some(from), None).await?.is_some() {
        tracing::info!("text from a blocked number; not answered");
        return Ok(answer(None));
    }

    let mut tx = state.db.begin().await?;
    // Claimed first: a concurrent redelivery waits here for this one to commit, then finds
    // the row and only repeats its answer.
    let claimed = sqlx::query!(
        "INSERT INTO inbound_texts (message_sid, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        message_sid,
        business.id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        drop(tx);
        let reply = earlier_reply(&state, message_sid).await?;
        tracing::info!("text already handled; answered as before");
        return Ok(answer(reply));
    }

    let opted_out = sms_opt_outs::is_opted_out(&mut *tx, business.id, from).await?;
    if keyword == Keyword::Conversation
        && !opted_out
        && business.is_in_service(Utc::now(), state.config.stripe.past_due_grace)
    {
        return converse(&state, tx, &business, message_sid, from, body).await;
    }
    let reply = match keyword {
        Keyword::OptOut => {
            sms_opt_outs::opt_out(&mut *tx, business.id, from).await?;
            None
        }
        Keyword::OptIn => {
            sms_opt_outs::opt_in(&mut *tx, business.id, from).await?;
            None
        }
        Keyword::Cancel => Some(cancel_next(&state, &mut tx, &business, from).await?),
        Keyword::Help | Keyword::Conversation => Some(help_line(&business)),
    };
    // Twilio refuses any text to a number that opted out, TwiML replies included.
    let reply = reply.filter(|_| !opted_out);
    sqlx::query!("UPDATE inbound_texts SET reply = $2 WHERE message_sid = $1", message_sid, reply)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(?keyword, answered = reply.is_some(), "text handled");
    Ok(answer(reply))
}

/// How long a redelivery waits for the first delivery's answer while the model is still
/// writing it (Twilio gives up on a webhook after 15 s).
const REDELIVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the first delivery of `message_sid` answered; a redelivery arriving while the model
/// is still answering the first waits for that answer (a while at most), so the sender gets
/// it once, from whichever answer Twilio reads.
async fn earlier_reply(state: &AppState, message_sid: &str) -> Result<Option<String>> {
    let waited_since = tokio::time::Instant::now();
    loop {
        let first = sqlx::query!("SELECT reply, outcome FROM inbound_texts WHERE message_sid = $1", message_sid)
            .fetch_optional(&state.db)
            .await?;
        match first {
            Some(first) if first.reply.is_none() && first.outcome == "answered" => {
                if waited_since.elapsed() >= REDELIVERY_WAIT {
                    return Ok(None);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            first => return Ok(first.and_then(|first| first.reply)),
        }
    }
}

/// A conversational text from `from`, with the claim of its `MessageSid` in `tx`: joins the
/// sender's thread, stores the message, applies the hourly limit and the owner's notice,
/// commits, and only then asks the model (the sender's texts wait on the thread's lock only
/// while the transaction lasts).
async fn converse(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    business: &Customer,
    message_sid: &str,
    from: &str,
    body: &str,
) -> Result<TwiMl> {
    let now = Utc::now();
    let cost_per_sms = state.config.twilio.cost_per_sms;
    sms_threads::lock_sender(&mut tx, business.id, from).await?;
    let thread =
        sms_threads::join(&mut tx, business.id, from, now, |last| texting::starts_new_thread(last, now)).await?;
    tracing::Span::current().record("call.id", thread.call_id);
    let said = truncate(body.trim(), MAX_UTTERANCE_CHARS);
    sms_threads::add_message(&mut *tx, thread.call_id, "caller", &said, cost_per_sms, 0.0).await?;
    let (answered, limited) = sms_threads::answers_last_hour(&mut tx, business.id, from, now).await?;
    let answer = Answer::for_sender(answered, limited);
    sms_threads::record_text(&mut tx, message_sid, from, Some(thread.call_id), answer.outcome()).await?;
    if let Some(notice) = sms_threads::take_notice(&mut tx, thread.call_id, now, now - NOTICE_INTERVAL).await? {
        notify::queue_thread_notice(&state.db, &mut tx, thread.call_id, notice).await?;
    }
    if answer != Answer::Model {
        let reply = (answer == Answer::LimitLine).then(|| LIMIT_LINE.to_owned());
        if let Some(line) = &reply {
            sms_threads::add_message(&mut *tx, thread.call_id, "ai", line, cost_per_sms, 0.0).await?;
        }
        sqlx::query!("UPDATE inbound_texts SET reply = $2 WHERE message_sid = $1", message_sid, reply)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(?answer, started = thread.started, "text over the hourly limit");
        return Ok(self::answer(reply));
    }
    tx.commit().await?;

    let (reply, model_cost) = model_reply(state, business, thread.call_id, from, now).await?;
    let mut tx = state.db.begin().await?;
    sms_threads::add_message(&mut *tx, thread.call_id, "ai", &reply, cost_per_sms, model_cost).await?;
    sqlx::query!("UPDATE inbound_texts SET reply = $2 WHERE message_sid = $1", message_sid, reply)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(started = thread.started, "text answered");
    Ok(self::answer(Some(reply)))
}

/// The receptionist's answer to thread `call_id` so far, and what the model cost: as a
/// call's turn, with the booking tools acting for `from`; the help line without OpenAI.
async fn model_reply(
    state: &AppState,
    business: &Customer,
    call_id: i64,
    from: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(String, f64)> {
    let Some(openai) = state.clients.openai.as_ref() else {
        return Ok((help_line(business), 0.0));
    };
    let history: Vec<Line> = calls::logs(&state.db, call_id)
        .await?
        .into_iter()
        .map(|log| if log.speaker == "caller" { Line::Caller(log.message) } else { Line::Receptionist(log.message) })
        .collect();
    let context = texting::business_for_texts(business_context(business), &texting::languages(business));
    let specs = tools::for_call(business, Mode::Text);
    let desk = CallDesk {
        db: state.db.clone(),
        customer: business.clone(),
        call_id,
        caller: Some(from.to_owned()),
        notify: super::call_notices(),
        outside: crate::http::outside_calendar::for_business(state, business.id).await?,
        channel: Channel::Sms,
        texter: super::texter(state),
    };
    let outcome =
        take_turn(Some(openai), state.config.openai.reply_deadline, &context, &history, now, Some((&desk, &specs)))
            .await;
    let reply = match outcome.reply {
        TurnReply::Say(text) => text,
        TurnReply::Transfer { .. } => TEAM_WILL_REPLY.to_owned(),
    };
    Ok((truncate(reply.trim(), MAX_REPLY_CHARS), outcome.cost))
}

/// Cancels `from`'s next booked appointment at `business` and queues the owner's notice,
/// in `tx`; the line that says what happened.
async fn cancel_next(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    business: &Customer,
    from: &str,
) -> anyhow::Result<String> {
    let now = Utc::now();
    for next in diary::upcoming_for_caller(&mut **tx, business.id, from, now).await? {
        // `None`: cancelled meanwhile (by the owner, a call); the next one is then the next.
        let Some(cancelled) = diary::cancel(&mut **tx, next.id).await? else { continue };
        notices::queue(&state.db, tx, &cancelled, Change::Cancelled, Audience { caller: false, owner: true }, now)
            .await?;
        tracing::info!(appointment.id = cancelled.id, "appointment cancelled by text");
        return Ok(caller_text(
            &business.business_name,
            &cancelled.service,
            NoticeKind::Cancelled,
            cancelled.starts_at,
            time_zone(&business.timezone),
        ));
    }
    Ok(format!(
        "{}: you have no upcoming appointment to cancel. Questions? Call {}.",
        business.business_name,
        contact_number(business)
    ))
}

/// Who the business is and how to reach it, and what can be texted.
fn help_line(business: &Customer) -> String {
    format!(
        "{}: questions or bookings, call {}. Reply C to cancel your next appointment, STOP to opt out.",
        business.business_name,
        contact_number(business)
    )
}

/// The business's own phone, else its DeskRinger number.
fn contact_number(business: &Customer) -> &str {
    business
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|phone| !phone.is_empty())
        .or(business.deskringer_number.as_deref())
        .unwrap_or_default()
}

fn answer(reply: Option<String>) -> TwiMl {
    let response = twiml::Response::new();
    TwiMl::from(match reply {
        Some(text) => response.message(text),
        None => response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_message_is_the_keyword_in_any_case() {
        for (body, keyword) in [
            ("C", Keyword::Cancel),
            ("  c\n", Keyword::Cancel),
            ("stop", Keyword::OptOut),
            ("Cancel", Keyword::OptOut),
            ("STOPALL", Keyword::OptOut),
            ("unsubscribe", Keyword::OptOut),
            ("End", Keyword::OptOut),
            ("quit", Keyword::OptOut),
            ("revoke", Keyword::OptOut),
            ("OptOut", Keyword::OptOut),
            ("start", Keyword::OptIn),
            ("Unstop", Keyword::OptIn),
            ("yes", Keyword::OptIn),
            ("HELP", Keyword::Help),
            ("info", Keyword::Help),
            ("", Keyword::Help),
            ("C please", Keyword::Conversation),
            ("stop it", Keyword::Conversation),
            ("Can I come at 3?", Keyword::Conversation),
        ] {
            assert_eq!(Keyword::of(body), keyword, "{body:?}");
        }
    }

    #[test]
    fn only_e164_numbers_are_answered() {
        assert!(is_personal_number("+14155550199"));
        assert!(is_personal_number("+447700900123"));
        assert!(!is_personal_number("12345"));
        assert!(!is_personal_number("898211"));
        assert!(!is_personal_number("+12345"));
        assert!(!is_personal_number("BellaHair"));
        assert!(!is_personal_number("+1415555abcd"));
        assert!(!is_personal_number(""));
    }
}
