//! `GET /api/webhooks/twilio/media-stream`: the WebSocket Twilio opens for a call in realtime
//! voice mode. The upgrade must carry Twilio's signature over the stream URL; the `start`
//! message must carry the token `voice` signed for that call, and be the call's first: a
//! call has one stream (claimed in the database, so on any instance), and a second `start`
//! is closed with 1008 before any model session is opened. Then [`bridge`] joins the call's
//! audio to an OpenAI Realtime session until the call ends, is handed on, or falls back to
//! the standard flow.

mod bridge;
pub mod playback;
pub mod prepared;
pub mod twilio_events;

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use futures_util::StreamExt;
use secrecy::ExposeSecret;

use super::signature;
use crate::auth::stream_token;
use crate::config::websocket_url;
use crate::db::customers::{self, Customer};
use crate::http::AppState;
use crate::http::error::{AppError, Result};
use twilio_events::{Inbound, Start};

/// Path of the media stream.
pub const STREAM_PATH: &str = "/api/webhooks/twilio/media-stream";
/// `<Parameter>` naming the call the token was signed for.
pub const CALL_PARAMETER: &str = "call_sid";
/// `<Parameter>` carrying the stream token.
pub const TOKEN_PARAMETER: &str = "token";
/// Largest message accepted from Twilio (a `media` message is well under 1 KB).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Socket read buffer. tungstenite's default (128 KiB) made each call cost about 300 KB of
/// memory for messages under 1 KB (bench/RESULTS.md, realtime); larger messages still read.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Longest wait for Twilio's `start` message after the upgrade.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The stream URL exactly as written in the TwiML (and signed by Twilio): `API_BASE_URL` as
/// `ws(s)://`, no query.
pub fn stream_url(state: &AppState) -> String {
    format!("{}{STREAM_PATH}", websocket_url(&state.config.api_base_url))
}

/// Accepts Twilio's WebSocket for a call's audio.
#[utoipa::path(
    get,
    path = "/media-stream",
    tag = "webhooks",
    summary = "Twilio: a realtime call's audio (WebSocket)",
    description = "Twilio Media Streams, bidirectional. The upgrade is signed (X-Twilio-Signature over the stream URL); the `start` message's parameters carry the call's token.",
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the stream URL")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = crate::http::error::ErrorBody),
        (status = 403, description = "Missing or wrong X-Twilio-Signature", body = crate::http::error::ErrorBody)
    )
)]
pub async fn open_media_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    let signed = headers.get("x-twilio-signature").and_then(|value| value.to_str().ok());
    let token = state.config.twilio.auth_token.as_ref();
    let valid = match (signed, token) {
        (Some(signed), Some(token)) => {
            signature::verify(token.expose_secret().as_bytes(), &stream_url(&state), &[], signed)
        }
        _ => false,
    };
    if !valid {
        tracing::warn!("refused a media stream without a valid Twilio signature");
        return Err(AppError::Forbidden("invalid Twilio signature".into()));
    }
    let upgrade = upgrade.map_err(|_| AppError::BadRequest("this address takes a WebSocket upgrade".into()))?;
    let upgrade = upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        // Every message is flushed as it is sent (audio cannot wait): nothing to gather.
        .write_buffer_size(0);
    Ok(upgrade.on_upgrade(move |socket| run_stream(state, socket)))
}

/// A call whose stream was accepted.
#[derive(Debug)]
pub struct StreamCall {
    /// `calls.id`.
    pub id: i64,
    /// Twilio's `CallSid`.
    pub sid: String,
    /// Twilio's `streamSid`.
    pub stream_sid: String,
    /// The business answering.
    pub customer: Customer,
    /// The number calling, as Twilio gave it (`From`).
    pub caller_phone: Option<String>,
}

async fn run_stream(state: AppState, mut socket: WebSocket) {
    metrics::gauge!("realtime_streams_in_progress").increment(1.0);
    match accept(&state, &mut socket).await {
        Ok(call) => bridge::run(state, socket, call).await,
        Err(refusal) => {
            metrics::counter!("realtime_streams_refused_total").increment(1);
            tracing::warn!(reason = refusal, "media stream refused");
            let _ = socket
                .send(Message::Close(Some(axum::extract::ws::CloseFrame { code: 1008, reason: refusal.into() })))
                .await;
        }
    }
    metrics::gauge!("realtime_streams_in_progress").decrement(1.0);
}

/// Waits for `start`, checks its token and call, and claims the call's one stream. On
/// refusal, any session prepared for the call is closed, unless the call's stream is
/// already open (that session is the open stream's).
async fn accept(state: &AppState, socket: &mut WebSocket) -> std::result::Result<StreamCall, &'static str> {
    let start = tokio::time::timeout(START_TIMEOUT, read_start(socket)).await.map_err(|_| "no start message")??;
    let claimed = start.custom_parameters.get(CALL_PARAMETER);
    let token = start.custom_parameters.get(TOKEN_PARAMETER).map(String::as_str).unwrap_or_default();
    let refuse = |reason| {
        state.model_sessions.discard(&start.call_sid);
        if let Some(claimed) = claimed {
            state.model_sessions.discard(claimed);
        }
        Err(reason)
    };
    if claimed != Some(&start.call_sid)
        || !stream_token::verify(state.config.jwt_secret_bytes(), &start.call_sid, token, Utc::now())
    {
        return refuse("the stream token is missing, wrong or expired");
    }
    // The claim is one statement on the call's row, so of two `start`s for a call (on any
    // instances) exactly one finds `stream_started_at` unset. The query reads the call as
    // it was before the claim, to say why a refused one was refused.
    let call = sqlx::query!(
        r#"WITH claim AS (
               UPDATE calls SET stream_started_at = now()
               WHERE twilio_call_sid = $1 AND status = 'in_progress' AND stream_started_at IS NULL
               RETURNING id)
           SELECT id, customer_id, status, caller_phone, EXISTS (SELECT 1 FROM claim) AS "claimed!"
           FROM calls WHERE twilio_call_sid = $1"#,
        start.call_sid
    )
    .fetch_optional(&state.db)
    .await;
    let Ok(Some(call)) = call else { return refuse("no such call") };
    if call.status != "in_progress" {
        return refuse("the call is not in progress");
    }
    if !call.claimed {
        // The session prepared for the call belongs to the stream already open: kept.
        return Err("the call's media stream has already started");
    }
    let Ok(Some(customer)) = customers::find(&state.db, call.customer_id).await else {
        return refuse("no such business");
    };
    Ok(StreamCall {
        id: call.id,
        sid: start.call_sid,
        stream_sid: start.stream_sid,
        customer,
        caller_phone: call.caller_phone,
    })
}

/// Reads past `connected` to `start`.
async fn read_start(socket: &mut WebSocket) -> std::result::Result<Start, &'static str> {
    while let Some(message) = socket.next().await {
        let Ok(Message::Text(text)) = message else {
            return Err("the stream closed before it started");
        };
        match serde_json::from_str::<Inbound>(&text) {
            Ok(Inbound::Start { start }) => return Ok(start),
            Ok(Inbound::Connected | Inbound::Other) => {}
            _ => return Err("the stream did not start with `start`"),
        }
    }
    Err("the stream closed before it started")
}
