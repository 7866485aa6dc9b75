//! `POST /api/webhooks/twilio/voice`: a call arrives at a DeskRinger number.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;

use super::media_stream::{CALL_PARAMETER, TOKEN_PARAMETER, stream_url};
use super::screen;
use super::stream_ended::STREAM_ENDED_PATH;
use super::{TwiMl, TwilioForm, business_context, say_and_hang_up, speak_and_listen};
use crate::auth::stream_token;
use crate::clients::realtime::Realtime;
use crate::db::customers::{self, Customer};
use crate::http::AppState;
use crate::http::error::Result;
use crate::http::extract::AppQuery;
use crate::jobs;
use crate::profile::VoiceMode;
use crate::receptionist::conversation::{NOT_IN_SERVICE, UNKNOWN_NUMBER, greeting};
use crate::receptionist::languages;
use crate::receptionist::realtime::{session_instructions, session_tools};
use crate::receptionist::twiml;

/// Finds the business by the number called, records the call (once per `CallSid`), and
/// greets the caller, or says the line is not in service.
#[utoipa::path(
    post,
    path = "/voice",
    tag = "webhooks",
    summary = "Twilio: a call arrives",
    request_body(content = super::TwilioWebhookForm, content_type = "application/x-www-form-urlencoded"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's request signature"), VoiceQuery),
    responses((status = 200, description = "TwiML", content_type = "text/xml", body = String), (status = 400, description = "A required field is missing", body = crate::http::error::ErrorBody), (status = 403, description = "Missing or wrong X-Twilio-Signature", body = crate::http::error::ErrorBody))
)]
#[tracing::instrument(skip_all, fields(call.id))]
pub async fn answer_call(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<VoiceQuery>,
    form: TwilioForm,
) -> Result<TwiMl> {
    let call_sid = form.require("CallSid")?;
    let to = form.require("To")?;
    let from = form.get("From").map(str::trim).filter(|from| !from.is_empty());
    let caller_name = form.get("CallerName").map(str::trim).filter(|name| !name.is_empty());

    let is_test = query.test_call.is_some();
    let customer = match query.test_call {
        // The owner's phone answered a test call: the number called is the owner's own, so
        // the business is the one that asked for the call (the query is covered by
        // Twilio's signature).
        Some(test_call) => test_call_business(&state, test_call, call_sid).await?,
        None => customers::find_by_number(&state.db, to).await?,
    };
    let Some(customer) = customer else {
        tracing::info!("call to a number that belongs to no business");
        return Ok(say_and_hang_up(&state, UNKNOWN_NUMBER).await);
    };

    // Unwanted callers are refused before anything is recorded or said. A test call rings
    // the owner's own phone, and is never screened.
    if !is_test && let Some(refusal) = screen::refusal(&state.db, &customer, from, form.get("StirVerstat")).await? {
        screen::record(&state.db, call_sid, customer.id, refusal).await?;
        tracing::info!(customer.id = customer.id, reason = ?refusal, "call refused");
        return Ok(TwiMl::from(twiml::Response::new().reject_busy()));
    }

    if !customer.is_in_service(Utc::now(), state.config.stripe.past_due_grace) {
        let mut tx = state.db.begin().await?;
        // Recorded all the same (once per CallSid: Twilio may retry), so the business sees
        // the calls it missed.
        sqlx::query!(
            "INSERT INTO calls (customer_id, caller_phone, caller_name, twilio_call_sid, status, direction, is_test) \
             VALUES ($1, $2, $3, $4, 'in_progress', CASE WHEN $5 THEN 'outbound' ELSE 'inbound' END, $5) \
             ON CONFLICT (twilio_call_sid) DO NOTHING",
            customer.id,
            from,
            caller_name,
            call_sid,
            is_test
        )
        .execute(&mut *tx)
        .await?;
        if customer.subscription_status == "trial" {
            // The trial ended since the daily expiry job last ran: record it now.
            jobs::billing::expire_trial(&mut *tx, customer.id).await?;
        }
        tx.commit().await?;
        tracing::info!(customer.id = customer.id, status = %customer.subscription_status, "call to a business out of service");
        return Ok(say_and_hang_up(&state, NOT_IN_SERVICE).await);
    }

    let greeting = greeting(&customer.business_name, customer.greeting_message.as_deref());
    let realtime = realtime_for(&state, &customer);
    // Standard mode greets in the main language, then offers each other one in its own
    // words; the call is held in the main language until the caller chooses another.
    let languages = languages::of_business(&customer.languages);
    let main = languages[0];
    let offers = languages::offers(&languages);
    let spoken: Vec<&str> = std::iter::once(greeting.as_str()).chain(offers.iter().map(|l| l.offer)).collect();
    let spoken = spoken.join(" ");
    // In realtime mode the model says the greeting in its own words: the bridge stores what
    // it said (its transcript), not this text. It follows the caller's language, which is
    // not known here.
    let greeting_line = realtime.is_none().then_some(spoken.as_str());
    let call_language = realtime.is_none().then_some(main.code);
    // The call and its greeting line in one statement: the running call totals it updates
    // (migration 5) stay locked only for that statement and its commit.
    // Once per CallSid: a retry of the same call inserts nothing.
    let inserted = sqlx::query_scalar!(
        r#"WITH call AS (INSERT INTO calls (customer_id, caller_phone, caller_name, twilio_call_sid, status, direction, is_test, language)
                         VALUES ($1, $2, $3, $4, 'in_progress', CASE WHEN $6 THEN 'outbound' ELSE 'inbound' END, $6, $7)
                         ON CONFLICT (twilio_call_sid) DO NOTHING RETURNING id),
                line AS (INSERT INTO call_logs (call_id, speaker, message)
                         SELECT id, 'ai', $5::text FROM call WHERE $5::text IS NOT NULL)
           SELECT id AS "id!" FROM call"#,
        customer.id,
        from,
        caller_name,
        call_sid,
        greeting_line,
        is_test,
        call_language
    )
    .fetch_optional(&state.db)
    .await?;
    if let Some(call_id) = inserted {
        tracing::Span::current().record("call.id", call_id);
    }
    tracing::info!(customer.id = customer.id, is_test, "call answered");
    if let Some(realtime) = realtime {
        // The model's handshake starts now, while Twilio reads the TwiML and opens the
        // stream; the greeting goes to the model, which says it.
        let instructions = session_instructions(&business_context(&customer), Utc::now());
        state.model_sessions.prepare(call_sid, realtime.clone(), instructions, session_tools(&customer));
        return Ok(TwiMl::from(connect_stream(&state, call_sid)));
    }
    let greeting = state.speech.speak_in(&greeting, main);
    let offers =
        futures_util::future::join_all(offers.iter().map(|language| state.speech.speak_in(language.offer, language)));
    let (greeting, offers) = tokio::join!(greeting, offers);
    Ok(TwiMl::from(speak_and_listen(&state, std::iter::once(greeting).chain(offers), main).await))
}

/// The query of a test call's voice URL.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VoiceQuery {
    /// Set by the portal's test call: the test call's id (the call rings the owner's phone).
    pub test_call: Option<i64>,
}

/// The business that asked for test call `test_call`, once the call is known to be that
/// test call (its SID is recorded when Twilio accepts the call; a call answered before the
/// SID was recorded claims the row).
async fn test_call_business(state: &AppState, test_call: i64, call_sid: &str) -> Result<Option<Customer>> {
    let customer_id = sqlx::query_scalar!(
        "UPDATE test_calls SET twilio_call_sid = coalesce(twilio_call_sid, $2) WHERE id = $1 \
         AND (twilio_call_sid = $2 OR (twilio_call_sid IS NULL \
              AND NOT EXISTS (SELECT 1 FROM test_calls WHERE twilio_call_sid = $2))) \
         RETURNING customer_id",
        test_call,
        call_sid
    )
    .fetch_optional(&state.db)
    .await?;
    match customer_id {
        Some(id) => Ok(customers::find(&state.db, id).await?),
        None => {
            tracing::warn!(test_call, "a test call URL used by another call; refused");
            Ok(None)
        }
    }
}

/// The Realtime client, when this business's calls are in realtime mode and OpenAI is on.
fn realtime_for<'a>(state: &'a AppState, customer: &Customer) -> Option<&'a Realtime> {
    let realtime = VoiceMode::parse(&customer.voice_mode) == Some(VoiceMode::Realtime);
    state.clients.realtime.as_ref().filter(|_| realtime)
}

/// `<Connect><Stream>` to the media stream, with the call and its signed token as
/// parameters; `stream-ended` says what follows the stream.
fn connect_stream(state: &AppState, call_sid: &str) -> twiml::Response {
    let token =
        stream_token::sign(state.config.jwt_secret_bytes(), call_sid, Utc::now() + stream_token::STREAM_TOKEN_LIFETIME);
    twiml::Response::new().connect(twiml::Connect {
        action: format!("{}{STREAM_ENDED_PATH}", state.config.api_base_url),
        stream_url: stream_url(state),
        parameters: vec![(CALL_PARAMETER.into(), call_sid.into()), (TOKEN_PARAMETER.into(), token)],
    })
}
