//! The OpenAI Realtime API (GA protocol) over a WebSocket: opening a session, and the events
//! the receptionist sends and reads.
//!
//! The events are typed here rather than taken from async-openai's `realtime-types`
//! (checked at 0.43, which does follow the GA event names), for two reasons found in its
//! types: its `response.create` parameters have no optional fields, so a response carrying
//! only `instructions` would also send `"input": []`, which tells the API to answer with an
//! empty context (the check-in after a silence would forget the call); and its server events
//! require every field of the full response object, so one field the server leaves out of a
//! `response.done` would fail the whole message, which here means abandoning the session.
//! The types below hold only what the bridge uses, and any event it does not use is skipped.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::{OpenAiConfig, RealtimeConfig};

/// Longest wait for the WebSocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest message accepted from the model (audio deltas are a few KB).
const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Socket read buffer: a few deltas' worth instead of tungstenite's 128 KiB per session
/// (memory per call, bench/RESULTS.md); a larger message still reads.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Twilio's audio: 8 kHz mu-law, passed through untouched.
pub const AUDIO_FORMAT: &str = "audio/pcmu";
/// Transcribes the caller for the call's transcript.
const TRANSCRIPTION_MODEL: &str = "gpt-4o-mini-transcribe";

/// Opens Realtime sessions.
#[derive(Debug, Clone)]
pub struct Realtime {
    url: String,
    api_key: SecretString,
    /// Realtime model (also its price list entry).
    pub model: String,
    voice: String,
}

/// An open session. Counted in the `realtime_model_sessions` gauge while it lives.
#[derive(Debug)]
pub struct ModelSession {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    _open: OpenSession,
}

/// What reading the session gave.
#[derive(Debug)]
pub enum Received {
    /// An event the bridge uses.
    Event(ServerEvent),
    /// The session closed, or its connection failed.
    Closed,
    /// A message that is not a valid event; the text is kept for the log.
    Malformed(String),
}

impl Realtime {
    /// A client for `config`; the key is OpenAI's.
    pub fn new(openai: &OpenAiConfig, config: &RealtimeConfig) -> Option<Self> {
        Some(Self {
            url: format!("{}?model={}", config.url, config.model),
            api_key: openai.api_key.clone()?,
            model: config.model.clone(),
            voice: config.voice.clone(),
        })
    }

    /// Opens a session and configures it: `instructions`, `tools`, mu-law both ways, the
    /// voice, server-side turn detection and input transcription.
    pub async fn open(&self, instructions: String, tools: Vec<Tool>) -> anyhow::Result<ModelSession> {
        let started = Instant::now();
        let opened = self.handshake().await;
        crate::telemetry::record_external("openai_realtime", started, opened.is_ok());
        let mut session = ModelSession { socket: opened?, _open: OpenSession::new() };
        session.send(&ClientEvent::SessionUpdate { session: self.settings(instructions, tools) }).await?;
        Ok(session)
    }

    async fn handshake(&self) -> anyhow::Result<WebSocketStream<MaybeTlsStream<TcpStream>>> {
        let mut request = self.url.as_str().into_client_request().context("the Realtime URL is invalid")?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", self.api_key.expose_secret()))
            .context("the OpenAI key is not a valid header value")?;
        request.headers_mut().insert("authorization", bearer);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(0);
        let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let (socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .context("the Realtime API did not answer the handshake in time")?
            .context("cannot open a Realtime session")?;
        Ok(socket)
    }

    fn settings(&self, instructions: String, tools: Vec<Tool>) -> SessionSettings {
        let format = AudioFormat { r#type: AUDIO_FORMAT };
        SessionSettings {
            r#type: "realtime",
            model: self.model.clone(),
            instructions,
            output_modalities: ["audio"],
            audio: SessionAudio {
                input: AudioInput {
                    format,
                    transcription: Transcription { model: TRANSCRIPTION_MODEL },
                    turn_detection: TurnDetection {
                        r#type: "server_vad",
                        create_response: true,
                        interrupt_response: true,
                    },
                },
                output: AudioOutput { format, voice: self.voice.clone() },
            },
            tool_choice: "auto",
            tools,
        }
    }
}

impl ModelSession {
    /// Sends one event.
    pub async fn send(&mut self, event: &ClientEvent<'_>) -> anyhow::Result<()> {
        let text = serde_json::to_string(event)?;
        self.socket.send(Message::Text(Utf8Bytes::from(text))).await.context("the Realtime session is closed")
    }

    /// Reads messages until the next event the bridge uses, the end of the session, or a
    /// message that does not read as an event. Cancel-safe: a partly read message stays
    /// buffered for the next call.
    pub async fn receive(&mut self) -> Received {
        loop {
            match self.socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Received::Closed,
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerEvent>(&text) {
                    Ok(ServerEvent::Other) => {}
                    Ok(event) => return Received::Event(event),
                    Err(error) => {
                        let start: String = text.chars().take(200).collect();
                        return Received::Malformed(format!("{error}: {start}"));
                    }
                },
                Some(Ok(Message::Binary(_))) => return Received::Malformed("a binary message".into()),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes the session (best effort: the other side may already be gone).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(None)).await;
    }
}

/// Keeps `realtime_model_sessions` equal to the sessions open in this process.
#[derive(Debug)]
struct OpenSession;

impl OpenSession {
    fn new() -> Self {
        metrics::gauge!("realtime_model_sessions").increment(1.0);
        OpenSession
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        metrics::gauge!("realtime_model_sessions").decrement(1.0);
    }
}

/// A function the model may call (no arguments).
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    r#type: &'static str,
    /// The function's name.
    pub name: String,
    description: String,
    parameters: serde_json::Value,
}

impl From<&super::ToolSpec> for Tool {
    fn from(spec: &super::ToolSpec) -> Self {
        Self {
            r#type: "function",
            name: spec.name.to_owned(),
            description: spec.description.clone(),
            parameters: spec.parameters.clone(),
        }
    }
}

/// The session settings sent in `session.update`.
#[derive(Debug, Serialize)]
pub struct SessionSettings {
    r#type: &'static str,
    model: String,
    instructions: String,
    output_modalities: [&'static str; 1],
    audio: SessionAudio,
    tool_choice: &'static str,
    tools: Vec<Tool>,
}

#[derive(Debug, Serialize)]
struct SessionAudio {
    input: AudioInput,
    output: AudioOutput,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct AudioFormat {
    r#type: &'static str,
}

#[derive(Debug, Serialize)]
struct AudioInput {
    format: AudioFormat,
    transcription: Transcription,
    turn_detection: TurnDetection,
}

#[derive(Debug, Serialize)]
/// No `language`: a business may serve several, and the caller's is not known in advance,
/// so the transcriber detects it.
struct Transcription {
    model: &'static str,
}

#[derive(Debug, Serialize)]
struct TurnDetection {
    r#type: &'static str,
    create_response: bool,
    interrupt_response: bool,
}

#[derive(Debug, Serialize)]
struct AudioOutput {
    format: AudioFormat,
    voice: String,
}

/// What the server sends to the model.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ClientEvent<'a> {
    /// Configures the session.
    #[serde(rename = "session.update")]
    SessionUpdate { session: SessionSettings },
    /// Caller audio, base64 mu-law as Twilio sent it.
    #[serde(rename = "input_audio_buffer.append")]
    AppendAudio { audio: &'a str },
    /// Asks for a response; `instructions` steer this response only.
    #[serde(rename = "response.create")]
    CreateResponse { response: ResponseParams },
    /// Stops the response in progress.
    #[serde(rename = "response.cancel")]
    CancelResponse,
    /// Cuts the model's memory of a reply at what the caller heard.
    #[serde(rename = "conversation.item.truncate")]
    Truncate { item_id: &'a str, content_index: u32, audio_end_ms: u64 },
    /// Adds an item to the conversation.
    #[serde(rename = "conversation.item.create")]
    CreateItem { item: Item<'a> },
}

/// Parameters of `response.create`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResponseParams {
    /// Instructions for this response only; the session's otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

/// A conversation item the server adds.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item<'a> {
    /// The result of a function call.
    FunctionCallOutput { call_id: &'a str, output: &'a str },
    /// A line already spoken (when a session is reopened mid-call).
    Message { role: &'static str, content: [Content<'a>; 1] },
}

/// The text of a message item.
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    r#type: &'static str,
    text: &'a str,
}

impl<'a> Item<'a> {
    /// Something the caller said earlier in the call.
    pub fn caller_line(text: &'a str) -> Self {
        Item::Message { role: "user", content: [Content { r#type: "input_text", text }] }
    }

    /// Something the receptionist said earlier in the call.
    pub fn receptionist_line(text: &'a str) -> Self {
        Item::Message { role: "assistant", content: [Content { r#type: "output_text", text }] }
    }
}

/// The events the bridge acts on; every other type is [`ServerEvent::Other`].
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    /// The API reports a problem with an event the server sent.
    #[serde(rename = "error")]
    Error { error: ApiError },
    /// The caller started speaking.
    #[serde(rename = "input_audio_buffer.speech_started")]
    SpeechStarted {
        /// The caller's item to come.
        #[serde(default)]
        item_id: Option<String>,
    },
    /// The caller stopped speaking.
    #[serde(rename = "input_audio_buffer.speech_stopped")]
    SpeechStopped {
        /// The caller's item.
        #[serde(default)]
        item_id: Option<String>,
    },
    /// What the caller said, transcribed.
    #[serde(rename = "conversation.item.input_audio_transcription.completed")]
    CallerTranscript { item_id: String, transcript: String },
    /// A response began.
    #[serde(rename = "response.created")]
    ResponseCreated { response: ResponseRef },
    /// Audio of the reply: base64 mu-law.
    #[serde(rename = "response.output_audio.delta")]
    AudioDelta { response_id: String, item_id: String, delta: String },
    /// The words of a spoken reply.
    #[serde(rename = "response.output_audio_transcript.done")]
    ReplyTranscript { response_id: String, item_id: String, transcript: String },
    /// The model calls a function.
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCall {
        response_id: String,
        call_id: String,
        name: String,
        /// The arguments as a JSON object in a string.
        #[serde(default)]
        arguments: String,
    },
    /// A response ended (completed, cancelled, failed or incomplete), with its usage.
    #[serde(rename = "response.done")]
    ResponseDone { response: ResponseRef },
    /// Any event the bridge does not use.
    #[serde(other)]
    Other,
}

/// An error the API reports.
#[derive(Debug, Deserialize)]
pub struct ApiError {
    /// Its kind, such as `invalid_request_error`.
    #[serde(default)]
    pub r#type: Option<String>,
    /// Its code, such as `response_cancel_not_active`.
    #[serde(default)]
    pub code: Option<String>,
    /// Its description.
    #[serde(default)]
    pub message: Option<String>,
}

/// The parts of a response object the bridge reads.
#[derive(Debug, Deserialize)]
pub struct ResponseRef {
    /// `resp_...`.
    pub id: String,
    /// `in_progress`, `completed`, `cancelled`, `failed` or `incomplete`.
    #[serde(default)]
    pub status: Option<String>,
    /// Tokens used, on `response.done`.
    #[serde(default)]
    pub usage: Option<ResponseUsage>,
}

/// Tokens a response used, by kind, as billed.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ResponseUsage {
    /// Input tokens (the whole conversation so far is input to each response).
    #[serde(default)]
    pub input_token_details: Option<InputTokens>,
    /// Output tokens.
    #[serde(default)]
    pub output_token_details: Option<OutputTokens>,
}

/// Input tokens by kind; cached ones are part of these counts.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct InputTokens {
    /// Text tokens (instructions, transcripts).
    #[serde(default)]
    pub text_tokens: u32,
    /// Audio tokens.
    #[serde(default)]
    pub audio_tokens: u32,
    /// Of those, the ones read from the cache.
    #[serde(default)]
    pub cached_tokens_details: Option<CachedTokens>,
}

/// Cached input tokens by kind.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct CachedTokens {
    /// Cached text tokens.
    #[serde(default)]
    pub text_tokens: u32,
    /// Cached audio tokens.
    #[serde(default)]
    pub audio_tokens: u32,
}

/// Output tokens by kind.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct OutputTokens {
    /// Text tokens.
    #[serde(default)]
    pub text_tokens: u32,
    /// Audio tokens.
    #[serde(default)]
    pub audio_tokens: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_events_have_the_ga_shape() {
        let event = ClientEvent::Truncate { item_id: "item_1", content_index: 0, audio_end_ms: 1500 };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": 1500})
        );
        let event = ClientEvent::CreateResponse { response: ResponseParams::default() };
        assert_eq!(serde_json::to_value(&event).unwrap(), json!({"type": "response.create", "response": {}}));
        let event = ClientEvent::CreateItem { item: Item::FunctionCallOutput { call_id: "c1", output: "ok" } };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c1", "output": "ok"}})
        );
        assert_eq!(serde_json::to_value(ClientEvent::CancelResponse).unwrap(), json!({"type": "response.cancel"}));
    }

    #[test]
    fn unused_events_are_skipped_and_used_ones_read() {
        let other: ServerEvent =
            serde_json::from_value(json!({"type": "rate_limits.updated", "rate_limits": []})).unwrap();
        assert!(matches!(other, ServerEvent::Other));
        let delta: ServerEvent = serde_json::from_value(json!({
            "type": "response.output_audio.delta", "event_id": "e", "response_id": "r", "item_id": "i",
            "output_index": 0, "content_index": 0, "delta": "AAEC"
        }))
        .unwrap();
        assert!(matches!(delta, ServerEvent::AudioDelta { delta, .. } if delta == "AAEC"));
        assert!(serde_json::from_value::<ServerEvent>(json!({"type": "response.output_audio.delta"})).is_err());
    }
}
