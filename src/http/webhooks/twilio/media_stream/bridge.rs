//! One realtime call: the caller's audio to the model, the model's audio to the caller, and
//! everything in between (barge-in, transcript, tools, silence, length, faults).
//!
//! One task per call, no queues: each message is forwarded as it is read, so a slow peer
//! slows only its own call, through its own socket's buffers. Database writes that the
//! audio need not wait for (transcript lines, costs) run in their own small tasks, and carry
//! the time the words were spoken so the transcript keeps its order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chrono::{DateTime, Utc};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant as Deadline, sleep_until};

use super::StreamCall;
use super::playback::{Playback, base64_len};
use super::twilio_events::{Inbound, Outbound, OutboundMark, OutboundMedia};
use crate::clients::ToolCall;
use crate::clients::realtime::{ClientEvent, Item, ModelSession, Received, ResponseParams, ServerEvent};
use crate::http::AppState;
use crate::http::webhooks::twilio::business_context;
use crate::receptionist::conversation::greeting;
use crate::receptionist::realtime::{
    CHECK_IN_LINE, FILLER_LINE, NO_TRANSFER_OUTPUT, SILENCE_GOODBYE_LINE, TIME_LIMIT_LINE, TRANSFER_LINE,
    response_cost, say_exactly, session_instructions, session_tools,
};
use crate::receptionist::tools::{self, CallDesk, Effect, ToolResult};

/// Longest wait for a session prepared by `voice` (its handshake is usually long done).
const PREPARED_WAIT: Duration = Duration::from_secs(5);
/// Mark sent after the last words of a call; its echo closes the stream.
const ENDING_MARK: &str = "end";
/// Longest wait for the last words to play before the stream is closed anyway.
const ENDING_GRACE: Duration = Duration::from_secs(20);
/// Caller items waiting for their transcript, at most (their speech start times).
const MAX_PENDING_CALLER_ITEMS: usize = 16;
/// A tool slower than this gets a filler line, so the caller does not hear silence.
const FILLER_AFTER: Duration = Duration::from_millis(700);
/// Longest a tool may run; then the model is told the diary cannot be reached.
const TOOL_TIMEOUT: Duration = Duration::from_secs(8);
/// Tool results waiting to be handed to the model, at most.
const TOOL_RESULTS: usize = 8;

/// A tool that finished, for the bridge to hand its output to the model.
struct ToolDone {
    call_id: String,
    result: ToolResult,
}

/// How the stream ends, as `stream-ended` will read it from `calls.stream_outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Ring the forward number.
    Transfer,
    /// Hang up.
    Hangup,
    /// Continue in the standard (Gather) flow.
    Fallback,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Transfer => "transfer",
            Outcome::Hangup => "hangup",
            Outcome::Fallback => "fallback",
        }
    }
}

/// Why the bridge stopped.
enum Stop {
    /// The stream is handed back to Twilio with this outcome (`reason` for logs and metrics).
    Close(Outcome, &'static str),
    /// Twilio ended the stream: the caller hung up.
    CallerLeft,
}

/// Bridges the call until it ends.
pub async fn run(state: AppState, socket: WebSocket, call: StreamCall) {
    let (twilio_out, twilio_in) = socket.split();
    let started = Instant::now();
    let model = match open_model(&state, &call).await {
        Ok(model) => model,
        Err(error) => {
            tracing::warn!(call.id = call.id, error = format!("{error:#}"), "no model session; standard flow");
            let mut out = twilio_out;
            close_stream(&state, &call, &mut out, Outcome::Fallback, "model_unavailable").await;
            return;
        }
    };
    // The connected calendar's busy times are read by the tools as they run; what is
    // needed to read them is looked up once (a database read) before the call starts.
    let outside = crate::http::outside_calendar::for_business(&state, call.customer.id).await.unwrap_or_else(|error| {
        tracing::warn!(call.id = call.id, %error, "cannot read the calendar connection");
        Some(crate::booking::diary::OutsideCalendar::busy(std::sync::Arc::new(|_, _| {
            Box::pin(async { Err("its connection cannot be read".to_owned()) })
        })))
    });
    let mut bridge = Bridge::new(state, call, twilio_out, model, started, outside);
    let stop = match bridge.greet().await {
        Ok(()) => bridge.relay(twilio_in).await,
        Err(_) => Stop::Close(Outcome::Fallback, "model_failed"),
    };
    bridge.finish(stop).await;
}

/// The session `voice` prepared for this call, or a new one.
async fn open_model(state: &AppState, call: &StreamCall) -> anyhow::Result<ModelSession> {
    if let Some(opening) = state.model_sessions.take(&call.sid) {
        match tokio::time::timeout(PREPARED_WAIT, opening).await {
            Ok(Ok(Ok(session))) => return Ok(session),
            Ok(Ok(Err(error))) => {
                tracing::info!(error = format!("{error:#}"), "the prepared session failed; opening one")
            }
            _ => tracing::info!("the prepared session is not ready; opening one"),
        }
    }
    open_new(state, call).await
}

async fn open_new(state: &AppState, call: &StreamCall) -> anyhow::Result<ModelSession> {
    let realtime = state.clients.realtime.as_ref().ok_or_else(|| anyhow::anyhow!("OpenAI is not configured"))?;
    let instructions = session_instructions(&business_context(&call.customer), Utc::now());
    realtime.open(instructions, session_tools(&call.customer)).await
}

/// Stores the outcome (before closing, so `stream-ended` finds it), then closes the stream.
async fn close_stream(
    state: &AppState,
    call: &StreamCall,
    twilio: &mut SplitSink<WebSocket, Message>,
    outcome: Outcome,
    reason: &'static str,
) {
    if outcome == Outcome::Fallback {
        metrics::counter!("realtime_fallbacks_total", "reason" => reason).increment(1);
    }
    tracing::info!(call.id = call.id, outcome = outcome.as_str(), reason, "closing the media stream");
    let stored = sqlx::query!("UPDATE calls SET stream_outcome = $2 WHERE id = $1", call.id, outcome.as_str())
        .execute(&state.db)
        .await;
    if let Err(error) = stored {
        // `stream-ended` reads a missing outcome as fallback: the caller still gets an answer.
        tracing::warn!(%error, "cannot store the stream outcome");
    }
    let frame = CloseFrame { code: 1000, reason: Utf8Bytes::from_static("") };
    let _ = twilio.send(Message::Close(Some(frame))).await;
    let _ = twilio.close().await;
}

struct Bridge {
    state: AppState,
    call: StreamCall,
    twilio: SplitSink<WebSocket, Message>,
    model: ModelSession,
    /// Whether the model session was already reopened once.
    reopened: bool,
    playback: Playback,
    /// The response in progress, and whether it has sent audio.
    response: Option<(String, bool)>,
    /// A response interrupted by the caller: its late audio is dropped.
    silenced: Option<String>,
    /// When each recent response started (its transcript line's time).
    response_started: VecDeque<(String, DateTime<Utc>)>,
    /// When each caller item's speech started (its transcript line's time).
    caller_started: VecDeque<(String, DateTime<Utc>)>,
    /// The greeting is asked for and its response not yet created (that response is
    /// never the call's last words). Its transcript is stored like every other line.
    awaiting_greeting: bool,
    /// A response to ask for once the one in progress is done.
    queued: Option<ResponseParams>,
    /// How the call will end once its last words are heard.
    ending: Option<Outcome>,
    /// The response carrying the last words; `None` while it is still to be created.
    ending_response: Option<String>,
    awaiting_ending_response: bool,
    ending_deadline: Option<Deadline>,
    caller_speaking: bool,
    /// Silences in a row the receptionist has checked in on.
    idle_strikes: u8,
    last_activity: Deadline,
    call_deadline: Deadline,
    started: Instant,
    first_audio: bool,
    /// What the call's tools reach.
    desk: CallDesk,
    /// Tools running in their own tasks send their results here (bounded: at most a few
    /// run at once, and the bridge reads them as they come).
    tool_done: (tokio::sync::mpsc::Sender<ToolDone>, tokio::sync::mpsc::Receiver<ToolDone>),
    /// Tools still running.
    tools_running: usize,
    /// When the caller hears a filler line if a tool is still running.
    filler_at: Option<Deadline>,
}

impl Bridge {
    fn new(
        state: AppState,
        call: StreamCall,
        twilio: SplitSink<WebSocket, Message>,
        model: ModelSession,
        started: Instant,
        outside: Option<crate::booking::diary::OutsideCalendar>,
    ) -> Self {
        let now = Deadline::now();
        let call_deadline = now + state.config.realtime.max_call;
        let desk = CallDesk {
            db: state.db.clone(),
            customer: call.customer.clone(),
            call_id: call.id,
            caller: tools::caller_number(call.caller_phone.as_deref()),
            notify: crate::http::webhooks::twilio::call_notices(),
            outside,
            channel: crate::db::calls::Channel::Voice,
            texter: crate::http::webhooks::twilio::texter(&state),
        };
        Bridge {
            state,
            call,
            twilio,
            model,
            reopened: false,
            playback: Playback::default(),
            response: None,
            silenced: None,
            response_started: VecDeque::new(),
            caller_started: VecDeque::new(),
            awaiting_greeting: false,
            queued: None,
            ending: None,
            ending_response: None,
            awaiting_ending_response: false,
            ending_deadline: None,
            caller_speaking: false,
            idle_strikes: 0,
            last_activity: now,
            call_deadline,
            started,
            first_audio: false,
            desk,
            tool_done: tokio::sync::mpsc::channel(TOOL_RESULTS),
            tools_running: 0,
            filler_at: None,
        }
    }

    /// Asks the model to say the business's greeting.
    async fn greet(&mut self) -> anyhow::Result<()> {
        let words = greeting(&self.call.customer.business_name, self.call.customer.greeting_message.as_deref());
        self.awaiting_greeting = true;
        self.model.send(&create_response(Some(say_exactly(&words)))).await
    }

    /// Forwards both ways until the call ends or is handed on.
    async fn relay(&mut self, mut twilio_in: SplitStream<WebSocket>) -> Stop {
        loop {
            let idle_at = self.idle_deadline();
            let ending_at = self.ending_deadline;
            let step = tokio::select! {
                message = twilio_in.next() => self.on_twilio_message(message).await,
                received = self.model.receive() => self.on_model_message(received).await,
                () = sleep_until(idle_at.unwrap_or(self.call_deadline)), if idle_at.is_some() => self.on_silence().await,
                () = sleep_until(self.call_deadline), if self.ending.is_none() => {
                    self.end_with(Outcome::Hangup, TIME_LIMIT_LINE).await
                }
                () = sleep_until(ending_at.unwrap_or(self.call_deadline)), if ending_at.is_some() => {
                    Err(Stop::Close(self.ending.unwrap_or(Outcome::Hangup), "last_words_timeout"))
                }
                Some(done) = self.tool_done.1.recv() => self.tool_finished(done).await,
                () = sleep_until(self.filler_at.unwrap_or(self.call_deadline)), if self.filler_at.is_some() => {
                    self.filler().await
                }
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    /// When the caller will have been silent long enough to check in, if the line is quiet.
    fn idle_deadline(&self) -> Option<Deadline> {
        let quiet = self.ending.is_none()
            && self.response.is_none()
            && self.tools_running == 0
            && !self.caller_speaking
            && !self.playback.is_playing();
        quiet.then(|| self.last_activity + self.state.config.realtime.idle)
    }

    async fn on_twilio_message(&mut self, message: Option<Result<Message, axum::Error>>) -> Result<(), Stop> {
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(Stop::CallerLeft),
            Some(Ok(_)) => return Ok(()),
        };
        match serde_json::from_str::<Inbound>(&text) {
            Ok(Inbound::Media { media }) => {
                self.send_model(&ClientEvent::AppendAudio { audio: &media.payload }).await?;
            }
            Ok(Inbound::Mark { mark }) => {
                if mark.name == ENDING_MARK && self.ending_response.is_some() {
                    return Err(Stop::Close(self.ending.unwrap_or(Outcome::Hangup), "ended"));
                }
                if self.playback.echoed(&mark.name, Instant::now()) {
                    self.last_activity = Deadline::now();
                }
            }
            Ok(Inbound::Stop) => return Err(Stop::CallerLeft),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "unreadable Twilio message skipped"),
        }
        Ok(())
    }

    async fn on_model_message(&mut self, received: Received) -> Result<(), Stop> {
        let event = match received {
            Received::Event(event) => event,
            Received::Malformed(what) => {
                tracing::warn!(call.id = self.call.id, what, "malformed message from the model");
                return Err(Stop::Close(Outcome::Fallback, "model_malformed"));
            }
            Received::Closed => return self.reopen().await,
        };
        match event {
            ServerEvent::AudioDelta { response_id, item_id, delta } => {
                self.play(&response_id, &item_id, &delta).await?
            }
            ServerEvent::SpeechStarted { item_id } => self.caller_starts(item_id).await?,
            ServerEvent::SpeechStopped { .. } => {
                self.caller_speaking = false;
                self.last_activity = Deadline::now();
            }
            ServerEvent::ResponseCreated { response } => {
                if self.awaiting_greeting {
                    self.awaiting_greeting = false;
                } else if self.awaiting_ending_response {
                    self.awaiting_ending_response = false;
                    self.ending_response = Some(response.id.clone());
                }
                remember(&mut self.response_started, response.id.clone(), Utc::now());
                self.response = Some((response.id, false));
            }
            ServerEvent::ResponseDone { response } => {
                if let Some(usage) = response.usage {
                    let model = self.state.clients.realtime.as_ref().map(|r| r.model.as_str()).unwrap_or_default();
                    self.record_cost(response_cost(model, &usage));
                }
                if self.response.as_ref().is_some_and(|(id, _)| *id == response.id) {
                    self.response = None;
                }
                self.last_activity = Deadline::now();
                if self.ending_response.as_deref() == Some(&response.id) {
                    // Twilio echoes this once the last words have played.
                    let mark =
                        Outbound::Mark { stream_sid: &self.call.stream_sid, mark: OutboundMark { name: ENDING_MARK } };
                    self.send_twilio(text(&mark)).await?;
                }
                if let Some(queued) = self.queued.take() {
                    self.send_model(&ClientEvent::CreateResponse { response: queued }).await?;
                }
            }
            ServerEvent::CallerTranscript { item_id, transcript } => {
                let spoken_at = take(&mut self.caller_started, &item_id).unwrap_or_else(Utc::now);
                self.record_line("caller", transcript, spoken_at);
            }
            ServerEvent::ReplyTranscript { response_id, transcript, .. } => {
                // Every reply, the greeting included: the transcript records what the caller
                // heard, in the model's words. A reply without words leaves no line.
                let spoken_at = take(&mut self.response_started, &response_id).unwrap_or_else(Utc::now);
                let interrupted = self.silenced.as_deref() == Some(&response_id);
                if !transcript.trim().is_empty() {
                    let line = if interrupted { format!("{transcript} (interrupted)") } else { transcript };
                    self.record_line("ai", line, spoken_at);
                }
            }
            ServerEvent::FunctionCall { response_id, call_id, name, arguments } => {
                self.call_tool(&response_id, ToolCall { id: call_id, name, arguments }).await?;
            }
            ServerEvent::Error { error } => {
                tracing::info!(
                    call.id = self.call.id,
                    code = error.code.as_deref().unwrap_or_default(),
                    message = error.message.as_deref().unwrap_or_default(),
                    "the model reported an error"
                );
            }
            ServerEvent::Other => {}
        }
        Ok(())
    }

    /// Sends a reply's audio to the caller, with a mark after it.
    async fn play(&mut self, response_id: &str, item_id: &str, delta: &str) -> Result<(), Stop> {
        if self.silenced.as_deref() == Some(response_id) {
            return Ok(());
        }
        if let Some((id, had_audio)) = &mut self.response
            && id == response_id
        {
            *had_audio = true;
        }
        let media = Outbound::Media { stream_sid: &self.call.stream_sid, media: OutboundMedia { payload: delta } };
        self.send_twilio(text(&media)).await?;
        let mark = self.playback.sent(item_id, base64_len(delta), Instant::now());
        let mark = Outbound::Mark { stream_sid: &self.call.stream_sid, mark: OutboundMark { name: &mark } };
        self.send_twilio(text(&mark)).await?;
        if !self.first_audio {
            self.first_audio = true;
            metrics::histogram!("realtime_first_audio_duration_seconds").record(self.started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// The caller started speaking: if the receptionist is talking, it stops (barge-in).
    async fn caller_starts(&mut self, item_id: Option<String>) -> Result<(), Stop> {
        self.caller_speaking = true;
        self.idle_strikes = 0;
        self.last_activity = Deadline::now();
        if let Some(item_id) = item_id {
            remember(&mut self.caller_started, item_id, Utc::now());
        }
        if self.ending.is_some() {
            // The last words play out; the call is ending.
            return Ok(());
        }
        let playing = self.playback.is_playing();
        if !playing && self.response.is_none() {
            return Ok(());
        }
        metrics::counter!("realtime_barge_ins_total").increment(1);
        if playing {
            self.send_twilio(text(&Outbound::Clear { stream_sid: &self.call.stream_sid })).await?;
            if let Some(heard) = self.playback.interrupt(Instant::now()) {
                let truncate = ClientEvent::Truncate {
                    item_id: &heard.item_id,
                    content_index: 0,
                    audio_end_ms: heard.audio_end_ms,
                };
                self.send_model(&truncate).await?;
            }
        }
        if let Some((response_id, _)) = self.response.take() {
            self.send_model(&ClientEvent::CancelResponse).await?;
            self.silenced = Some(response_id);
        }
        self.queued = None;
        Ok(())
    }

    async fn call_tool(&mut self, response_id: &str, call: ToolCall) -> Result<(), Stop> {
        let spoke = self.response.as_ref().is_some_and(|(id, had_audio)| id == response_id && *had_audio);
        let ending = match call.name.as_str() {
            tools::TRANSFER if self.call.customer.forward_to_number.is_some() => {
                Some(("Transferring the caller now.", Outcome::Transfer, TRANSFER_LINE))
            }
            tools::TRANSFER => {
                self.answer_tool(&call.id, NO_TRANSFER_OUTPUT).await?;
                return self.ask(ResponseParams::default()).await;
            }
            tools::END_CALL => Some(("Ending the call.", Outcome::Hangup, SILENCE_GOODBYE_LINE)),
            _ => None,
        };
        let Some((output, outcome, line)) = ending else {
            // The diary's tools wait on the database: they run in their own task, and their
            // result comes back through `tool_done`, so audio keeps flowing meanwhile.
            self.tools_running += 1;
            self.filler_at.get_or_insert(Deadline::now() + FILLER_AFTER);
            let (desk, results) = (self.desk.clone(), self.tool_done.0.clone());
            tokio::spawn(async move {
                let result = match tokio::time::timeout(TOOL_TIMEOUT, desk.run(&call, Utc::now())).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(call.id = desk.call_id, tool = %call.name, "a tool timed out");
                        ToolResult { output: tools::diary_down(), effect: Effect::None }
                    }
                };
                let _ = results.send(ToolDone { call_id: call.id, result }).await;
            });
            return Ok(());
        };
        self.answer_tool(&call.id, output).await?;
        if spoke {
            // The model already spoke in this response (its own short line): the call ends
            // once that has played.
            tracing::info!(call.id = self.call.id, tool = %call.name, "the call ends after the words playing");
            self.ending = Some(outcome);
            self.ending_response = Some(response_id.to_owned());
            self.ending_deadline = Some(Deadline::now() + ENDING_GRACE);
            Ok(())
        } else {
            self.end_with(outcome, line).await
        }
    }

    async fn answer_tool(&mut self, call_id: &str, output: &str) -> Result<(), Stop> {
        self.send_model(&ClientEvent::CreateItem { item: Item::FunctionCallOutput { call_id, output } }).await
    }

    /// A tool finished: the model gets its output and answers it (after whatever is being
    /// said, the filler included). A caller who interrupted meanwhile loses nothing: the
    /// booking stands and the model is told.
    async fn tool_finished(&mut self, done: ToolDone) -> Result<(), Stop> {
        self.tools_running = self.tools_running.saturating_sub(1);
        if self.tools_running == 0 {
            self.filler_at = None;
        }
        self.last_activity = Deadline::now();
        self.answer_tool(&done.call_id, &done.result.output).await?;
        if self.ending.is_none() {
            self.ask(ResponseParams::default()).await?;
        }
        Ok(())
    }

    /// A tool is still running: the caller hears a short line instead of silence.
    async fn filler(&mut self) -> Result<(), Stop> {
        self.filler_at = None;
        if self.tools_running == 0 || self.ending.is_some() || self.response.is_some() || self.caller_speaking {
            return Ok(());
        }
        self.ask(ResponseParams { instructions: Some(say_exactly(FILLER_LINE)) }).await
    }

    /// Says `line`, then ends the call with `outcome` once it has been heard.
    async fn end_with(&mut self, outcome: Outcome, line: &str) -> Result<(), Stop> {
        tracing::info!(call.id = self.call.id, outcome = outcome.as_str(), "the call is ending");
        self.ending = Some(outcome);
        self.ending_response = None;
        self.awaiting_ending_response = true;
        self.ending_deadline = Some(Deadline::now() + ENDING_GRACE);
        self.ask(ResponseParams { instructions: Some(say_exactly(line)) }).await
    }

    /// Asks for a response now, or after the one in progress.
    async fn ask(&mut self, params: ResponseParams) -> Result<(), Stop> {
        if self.response.is_some() {
            self.queued = Some(params);
            Ok(())
        } else {
            self.send_model(&ClientEvent::CreateResponse { response: params }).await
        }
    }

    /// The caller has been silent: check in once, then say goodbye.
    async fn on_silence(&mut self) -> Result<(), Stop> {
        self.idle_strikes += 1;
        self.last_activity = Deadline::now();
        if self.idle_strikes >= 2 {
            return self.end_with(Outcome::Hangup, SILENCE_GOODBYE_LINE).await;
        }
        tracing::info!(call.id = self.call.id, "the caller is silent; checking in");
        self.ask(ResponseParams { instructions: Some(say_exactly(CHECK_IN_LINE)) }).await
    }

    /// The model session closed: reopen it once, with the call so far; else fall back.
    async fn reopen(&mut self) -> Result<(), Stop> {
        if self.reopened {
            return Err(Stop::Close(Outcome::Fallback, "model_dropped"));
        }
        self.reopened = true;
        tracing::warn!(call.id = self.call.id, "the model session dropped; reopening it");
        let lines = sqlx::query!(
            "SELECT speaker, message FROM call_logs WHERE call_id = $1 ORDER BY timestamp, id",
            self.call.id
        )
        .fetch_all(&self.state.db)
        .await
        .unwrap_or_default();
        let Ok(mut model) = open_new(&self.state, &self.call).await else {
            return Err(Stop::Close(Outcome::Fallback, "model_dropped"));
        };
        for line in &lines {
            let item = if line.speaker == "caller" {
                Item::caller_line(&line.message)
            } else {
                Item::receptionist_line(&line.message)
            };
            if model.send(&ClientEvent::CreateItem { item }).await.is_err() {
                return Err(Stop::Close(Outcome::Fallback, "model_dropped"));
            }
        }
        self.model = model;
        self.response = None;
        self.queued = None;
        if self.awaiting_ending_response || self.ending_response.is_some() {
            // The last words were lost with the session: end now.
            return Err(Stop::Close(self.ending.unwrap_or(Outcome::Hangup), "ended"));
        }
        Ok(())
    }

    async fn send_model(&mut self, event: &ClientEvent<'_>) -> Result<(), Stop> {
        if self.model.send(event).await.is_err() {
            return self.reopen().await;
        }
        Ok(())
    }

    /// Sends a message to Twilio (serialized first, so it may borrow from `self`).
    async fn send_twilio(&mut self, text: String) -> Result<(), Stop> {
        self.twilio.send(Message::Text(Utf8Bytes::from(text))).await.map_err(|_| Stop::CallerLeft)
    }

    fn record_line(&self, speaker: &'static str, text: String, spoken_at: DateTime<Utc>) {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return;
        }
        let (db, call_id) = (self.state.db.clone(), self.call.id);
        tokio::spawn(async move {
            let stored = sqlx::query!(
                "INSERT INTO call_logs (call_id, speaker, message, timestamp) VALUES ($1, $2, $3, $4)",
                call_id,
                speaker,
                text,
                spoken_at
            )
            .execute(&db)
            .await;
            if let Err(error) = stored {
                tracing::warn!(call.id = call_id, %error, "cannot store a transcript line");
            }
        });
    }

    fn record_cost(&self, cost: f64) {
        if cost <= 0.0 {
            return;
        }
        let (db, call_id) = (self.state.db.clone(), self.call.id);
        tokio::spawn(async move {
            let stored =
                sqlx::query!("UPDATE calls SET openai_cost = openai_cost + $2::float8 WHERE id = $1", call_id, cost)
                    .execute(&db)
                    .await;
            if let Err(error) = stored {
                tracing::warn!(call.id = call_id, %error, "cannot add the model's cost");
            }
        });
    }

    async fn finish(mut self, stop: Stop) {
        match stop {
            Stop::Close(outcome, reason) => {
                close_stream(&self.state, &self.call, &mut self.twilio, outcome, reason).await;
            }
            Stop::CallerLeft => tracing::info!(call.id = self.call.id, "the caller hung up"),
        }
        self.model.close().await;
    }
}

/// A message to Twilio as JSON text.
fn text(message: &Outbound<'_>) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

fn create_response(instructions: Option<String>) -> ClientEvent<'static> {
    ClientEvent::CreateResponse { response: ResponseParams { instructions } }
}

/// Keeps `(id, time)`, forgetting the oldest beyond a few.
fn remember(times: &mut VecDeque<(String, DateTime<Utc>)>, id: String, at: DateTime<Utc>) {
    if times.len() == MAX_PENDING_CALLER_ITEMS {
        times.pop_front();
    }
    times.push_back((id, at));
}

/// Takes the time kept for `id`.
fn take(times: &mut VecDeque<(String, DateTime<Utc>)>, id: &str) -> Option<DateTime<Utc>> {
    let position = times.iter().position(|(kept, _)| kept == id)?;
    times.remove(position).map(|(_, at)| at)
}
