//! Realtime voice: a call bridged between a mock Twilio media stream and a mock OpenAI
//! Realtime server (both small tokio-tungstenite peers), through the real server on a port.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::{Message, http::StatusCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{BASE_URL, Mocks, TWILIO_TOKEN, TestApp, Twiml};

const NUMBER: &str = "+14155550111";
const CALLER: &str = "+14155550199";
const FORWARD: &str = "+14155550122";
const STREAM_URL: &str = "wss://deskringer.test/api/webhooks/twilio/media-stream";
const WAIT: Duration = Duration::from_secs(5);
/// The greeting as the model says it: its own words, not the configured text
/// ("Ciao! Bella Hair here."), which is only its instruction.
const SPOKEN_GREETING: &str = "Hello, Bella Hair, how can I help?";

/// A stand-in for the OpenAI Realtime API: accepts sessions and hands each to the test.
struct MockModel {
    addr: SocketAddr,
    sessions: mpsc::Receiver<ModelSession>,
}

/// One session as the mock model sees it.
struct ModelSession {
    ws: WebSocketStream<TcpStream>,
    uri: String,
    authorization: Option<String>,
}

impl MockModel {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, sessions) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let (mut uri, mut authorization) = (String::new(), None);
                    #[allow(clippy::result_large_err, reason = "the signature tungstenite's callback takes")]
                    let callback = |request: &Request, response: Response| {
                        uri = request.uri().to_string();
                        authorization = request.headers().get("authorization").map(|v| v.to_str().unwrap().to_owned());
                        Ok(response)
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                        let _ = sender.send(ModelSession { ws, uri, authorization }).await;
                    }
                });
            }
        });
        MockModel { addr, sessions }
    }

    fn url(&self) -> String {
        format!("ws://{}/v1/realtime", self.addr)
    }

    /// The next session the server opens.
    async fn session(&mut self) -> ModelSession {
        tokio::time::timeout(WAIT, self.sessions.recv()).await.expect("the server opened no model session").unwrap()
    }

    /// Whether the server opens no session within a short while.
    async fn no_session(&mut self) -> bool {
        tokio::time::timeout(Duration::from_millis(300), self.sessions.recv()).await.is_err()
    }
}

impl ModelSession {
    /// The next event the server sent.
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next()).await.expect("no event from the server");
            match message.expect("the session closed").expect("the session failed") {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(_) => panic!("the session closed"),
                _ => {}
            }
        }
    }

    /// The next event other than caller audio, which must be of type `kind`.
    async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let event = self.next().await;
            if event["type"] == "input_audio_buffer.append" && kind != "input_audio_buffer.append" {
                continue;
            }
            assert_eq!(event["type"], kind, "{event}");
            return event;
        }
    }

    async fn send(&mut self, event: Value) {
        self.ws.send(Message::Text(event.to_string().into())).await.unwrap();
    }

    /// Whether the server closes the session (within a few seconds).
    async fn closed(&mut self) -> bool {
        let ended = tokio::time::timeout(WAIT, async {
            loop {
                match self.ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        });
        ended.await.is_ok()
    }

    /// A response saying `audio` (chunks of mu-law), with its transcript and usage.
    async fn reply(&mut self, response: &str, item: &str, audio: &[Vec<u8>], transcript: &str) {
        self.send(response_created(response)).await;
        for chunk in audio {
            self.send(audio_delta(response, item, chunk)).await;
        }
        self.send(json!({"type": "response.output_audio_transcript.done", "event_id": "ev", "response_id": response,
                         "item_id": item, "output_index": 0, "content_index": 0, "transcript": transcript}))
            .await;
        self.send(response_done(response, "completed")).await;
    }
}

fn response_created(id: &str) -> Value {
    json!({"type": "response.created", "event_id": "ev",
           "response": {"id": id, "object": "realtime.response", "status": "in_progress", "output": []}})
}

fn response_done(id: &str, status: &str) -> Value {
    json!({"type": "response.done", "event_id": "ev", "response": {
        "id": id, "object": "realtime.response", "status": status, "output": [],
        "usage": {"total_tokens": 1400, "input_tokens": 1200, "output_tokens": 200,
                  "input_token_details": {"text_tokens": 1000, "audio_tokens": 200, "cached_tokens": 0,
                                          "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0}},
                  "output_token_details": {"text_tokens": 40, "audio_tokens": 160}}}})
}

fn audio_delta(response: &str, item: &str, bytes: &[u8]) -> Value {
    json!({"type": "response.output_audio.delta", "event_id": "ev", "response_id": response, "item_id": item,
           "output_index": 0, "content_index": 0, "delta": BASE64.encode(bytes)})
}

fn speech_started(item: &str) -> Value {
    json!({"type": "input_audio_buffer.speech_started", "event_id": "ev", "audio_start_ms": 1000, "item_id": item})
}

fn function_call(response: &str, name: &str) -> Value {
    json!({"type": "response.function_call_arguments.done", "event_id": "ev", "response_id": response,
           "item_id": "item_fc", "output_index": 0, "call_id": "call_1", "name": name, "arguments": "{}"})
}

/// `n` bytes of mu-law standing for audio, different for each `seed`.
fn audio(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_mul(31).wrapping_add(i as u8)).collect()
}

/// Twilio's side of a media stream.
struct TwilioStream {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl TwilioStream {
    /// Opens the stream with `signature` (the right one when `None`).
    async fn open(addr: SocketAddr, signature: Option<&str>) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{addr}/api/webhooks/twilio/media-stream").into_client_request().unwrap();
        let right = deskringer::http::webhooks::twilio::signature::sign(TWILIO_TOKEN.as_bytes(), STREAM_URL, &[]);
        request.headers_mut().insert("x-twilio-signature", signature.unwrap_or(&right).parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(TwilioStream { ws })
    }

    async fn send(&mut self, message: Value) {
        self.ws.send(Message::Text(message.to_string().into())).await.unwrap();
    }

    /// `connected`, then `start` with the TwiML's parameters.
    async fn start(&mut self, call_sid: &str, parameters: &[(String, String)]) {
        self.send(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})).await;
        let parameters: serde_json::Map<String, Value> =
            parameters.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        self.send(json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                         "start": {"accountSid": "AC123", "streamSid": "MZ1", "callSid": call_sid,
                                   "tracks": ["inbound"], "customParameters": parameters,
                                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
            .await;
    }

    async fn media(&mut self, bytes: &[u8]) {
        self.send(json!({"event": "media", "streamSid": "MZ1",
                         "media": {"track": "inbound", "chunk": "1", "timestamp": "20", "payload": BASE64.encode(bytes)}}))
            .await;
    }

    async fn echo(&mut self, mark: &str) {
        self.send(json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": mark}})).await;
    }

    /// The next message from the server; `None` once it closed the stream.
    async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next()).await.expect("nothing from the server")?;
            match message {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads `media` messages (each followed by its mark) until `n` bytes of audio came;
    /// returns the audio and the marks.
    async fn audio(&mut self, n: usize) -> (Vec<u8>, Vec<String>) {
        let (mut bytes, mut marks) = (Vec::new(), Vec::new());
        loop {
            let message = self.next().await.expect("the stream closed");
            match message["event"].as_str() {
                Some("media") => {
                    assert_eq!(message["streamSid"], "MZ1");
                    bytes.extend(BASE64.decode(message["media"]["payload"].as_str().unwrap()).unwrap());
                }
                Some("mark") => marks.push(message["mark"]["name"].as_str().unwrap().to_owned()),
                other => panic!("unexpected {other:?}: {message}"),
            }
            if bytes.len() >= n && message["event"] == "mark" {
                break;
            }
        }
        (bytes, marks)
    }

    /// The frame the server closes the stream with (within a few seconds), skipping what it
    /// sends before; `None` when it closed without one.
    async fn close_frame(&mut self) -> Option<tokio_tungstenite::tungstenite::protocol::CloseFrame> {
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    None | Some(Err(_)) => return None,
                    Some(Ok(_)) => {}
                }
            }
        });
        closed.await.expect("the server did not close the stream")
    }

    /// Whether the server closes the stream (within a few seconds), skipping what it sends.
    async fn closed(&mut self) -> bool {
        tokio::time::timeout(WAIT, async { while self.next().await.is_some() {} }).await.is_ok()
    }
}

/// The app, served on a port, with OpenAI (HTTP and Realtime) pointed at the mocks.
async fn realtime_app(mocks: &Mocks, model: &MockModel, extra: &[(&str, &str)]) -> (TestApp, SocketAddr) {
    let realtime_url = model.url();
    let mut vars = vec![("OPENAI_REALTIME_URL", realtime_url.as_str())];
    vars.extend_from_slice(extra);
    let app = TestApp::spawn_with(mocks.config(true, false, &vars)).await;
    let addr = app.serve().await;
    (app, addr)
}

/// A business in realtime mode.
async fn realtime_business(app: &TestApp, forward: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO customers (business_name, email, deskringer_number, forward_to_number, greeting_message, \
         subscription_status, ai_instructions, voice_mode) \
         VALUES ('Bella Hair', 'owner@bella.test', $1, $2, 'Ciao! Bella Hair here.', 'active', \
                 'You are the receptionist for Bella Hair.', 'realtime') RETURNING id",
    )
    .bind(NUMBER)
    .bind(forward)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

async fn voice(app: &TestApp, sid: &str) -> Twiml {
    Twiml::from(&app.twilio("/api/webhooks/twilio/voice", &[("CallSid", sid), ("From", CALLER), ("To", NUMBER)]).await)
}

async fn stream_ended(app: &TestApp, sid: &str) -> Twiml {
    Twiml::from(
        &app.twilio("/api/webhooks/twilio/stream-ended", &[("CallSid", sid), ("CallStatus", "in-progress")]).await,
    )
}

/// The `<Parameter>`s of the `<Stream>` in a `voice` answer.
fn stream_parameters(twiml: &Twiml) -> Vec<(String, String)> {
    twiml
        .all("Parameter")
        .into_iter()
        .map(|(attributes, _)| (attributes["name"].clone(), attributes["value"].clone()))
        .collect()
}

/// A realtime call up to the greeting request: `voice`, the early session, the stream's start.
async fn start_call(app: &TestApp, addr: SocketAddr, model: &mut MockModel, sid: &str) -> (TwilioStream, ModelSession) {
    let twiml = voice(app, sid).await;
    start_call_with(addr, model, sid, &twiml).await
}

/// [`start_call`] after `voice` answered `twiml`.
async fn start_call_with(
    addr: SocketAddr,
    model: &mut MockModel,
    sid: &str,
    twiml: &Twiml,
) -> (TwilioStream, ModelSession) {
    let mut session = model.session().await;
    session.expect("session.update").await;
    let mut twilio = TwilioStream::open(addr, None).await.unwrap();
    twilio.start(sid, &stream_parameters(twiml)).await;
    let greeting = session.expect("response.create").await;
    assert!(greeting["response"]["instructions"].as_str().unwrap().contains("Ciao! Bella Hair here."), "{greeting}");
    (twilio, session)
}

/// A business in realtime mode (with `forward`) and a call to it, up to the greeting request.
async fn realtime_call(
    mocks: &Mocks,
    model: &mut MockModel,
    sid: &str,
    forward: Option<&str>,
    extra: &[(&str, &str)],
) -> (TestApp, TwilioStream, ModelSession) {
    let (app, addr) = realtime_app(mocks, model, extra).await;
    realtime_business(&app, forward).await;
    let (twilio, session) = start_call(&app, addr, model, sid).await;
    (app, twilio, session)
}

/// The last words play (their chunks' marks in `marks`), the server sends the ending mark,
/// Twilio echoes everything, and the server closes the stream.
async fn hear_last_words(twilio: &mut TwilioStream, marks: &[String]) {
    assert_eq!(twilio.next().await.unwrap()["mark"]["name"], "end");
    for mark in marks {
        twilio.echo(mark).await;
    }
    twilio.echo("end").await;
    assert!(twilio.closed().await, "the stream closes once the last words were heard");
}

async fn call_logs(app: &TestApp, sid: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT speaker, message FROM call_logs JOIN calls ON calls.id = call_id \
         WHERE twilio_call_sid = $1 ORDER BY timestamp, call_logs.id",
    )
    .bind(sid)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

/// Waits until `check` holds (background writes land shortly after the event).
async fn eventually<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) {
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition never held");
}

#[tokio::test]
async fn voice_connects_a_realtime_business_to_a_signed_stream_and_opens_the_model_early() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, _) = realtime_app(&mocks, &model, &[]).await;
    realtime_business(&app, None).await;

    let twiml = voice(&app, "CA_rt1").await;
    assert_eq!(twiml.verbs(), ["Connect"], "no <Say> or <Play> before the stream");
    let (connect, _) = &twiml.all("Connect")[0];
    assert_eq!(connect["action"], format!("{BASE_URL}/api/webhooks/twilio/stream-ended"));
    assert_eq!(twiml.all("Stream")[0].0["url"], STREAM_URL);
    let parameters = stream_parameters(&twiml);
    assert_eq!(parameters[0], ("call_sid".to_owned(), "CA_rt1".to_owned()));
    assert_eq!(parameters[1].0, "token");

    // The session opens while Twilio is still to connect, configured for the phone line.
    let mut session = model.session().await;
    assert_eq!(session.uri, "/v1/realtime?model=gpt-realtime-mini");
    assert_eq!(session.authorization.as_deref(), Some("Bearer sk-test"));
    let update = session.expect("session.update").await;
    let settings = &update["session"];
    assert_eq!(settings["type"], "realtime");
    assert_eq!(settings["audio"]["input"]["format"]["type"], "audio/pcmu");
    assert_eq!(settings["audio"]["output"]["format"]["type"], "audio/pcmu");
    assert_eq!(settings["audio"]["output"]["voice"], "marin");
    assert_eq!(settings["audio"]["input"]["turn_detection"]["type"], "server_vad");
    assert!(settings["audio"]["input"]["transcription"]["model"].is_string());
    let instructions = settings["instructions"].as_str().unwrap();
    assert!(instructions.starts_with("You are the receptionist for Bella Hair."), "{instructions}");
    assert!(instructions.contains("local time") && instructions.contains("answering the phone for Bella Hair"));
    let tools: Vec<&str> = settings["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["transfer_to_human", "end_call", "send_text"]);

    // The call is recorded once, with no line yet: the greeting is stored as the model says it.
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls WHERE twilio_call_sid = 'CA_rt1'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(call_logs(&app, "CA_rt1").await, []);

    // Without OpenAI, the same business gets the standard flow.
    let app = TestApp::spawn_with(mocks.config(false, false, &[])).await;
    realtime_business(&app, None).await;
    assert_eq!(voice(&app, "CA_rt2").await.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
}

#[tokio::test]
async fn streams_without_a_valid_signature_or_token_are_refused_and_no_audio_flows() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, addr) = realtime_app(&mocks, &model, &[]).await;
    realtime_business(&app, None).await;

    for signature in [Some("bm90IHRoZSBzaWduYXR1cmU="), Some("")] {
        match TwilioStream::open(addr, signature).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN)
            }
            other => panic!("the upgrade went through: {:?}", other.is_ok()),
        }
    }
    let plain = app
        .send(axum::http::Request::get("/api/webhooks/twilio/media-stream").body(axum::body::Body::empty()).unwrap())
        .await;
    plain.assert_error(axum::http::StatusCode::FORBIDDEN);

    let twiml = voice(&app, "CA_bad").await;
    let mut early = model.session().await;
    early.expect("session.update").await;
    let mut parameters = stream_parameters(&twiml);
    let token = parameters[1].1.clone();
    for (sid, token) in [
        ("CA_bad", "1.AAAA".to_owned()),                              // forged
        ("CA_other", token.clone()),                                  // another call's token
        ("CA_bad", format!("{}{}", &token[..token.len() - 2], "xx")), // tampered
    ] {
        parameters[1].1 = token;
        parameters[0].1 = sid.to_owned();
        let mut twilio = TwilioStream::open(addr, None).await.unwrap();
        twilio.start(sid, &parameters).await;
        twilio.media(&audio(1, 160)).await;
        assert!(twilio.closed().await, "the stream is closed");
    }
    // The session opened early for the call is closed, and none is opened for the streams.
    assert!(early.closed().await);
    assert!(model.no_session().await);

    // An expired token is refused too.
    let expired = deskringer::auth::stream_token::sign(
        b"test-secret-test-secret-test-secret!",
        "CA_bad",
        chrono::Utc::now() - chrono::Duration::seconds(1),
    );
    let mut twilio = TwilioStream::open(addr, None).await.unwrap();
    twilio.start("CA_bad", &[("call_sid".into(), "CA_bad".into()), ("token".into(), expired)]).await;
    assert!(twilio.closed().await);
    assert!(model.no_session().await);
}

#[tokio::test]
async fn a_second_start_for_a_call_whose_stream_is_open_is_closed_and_opens_no_model_session() {
    // Arrange: a realtime call whose stream is open, on its model session.
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, addr) = realtime_app(&mocks, &model, &[]).await;
    realtime_business(&app, None).await;
    let twiml = voice(&app, "CA_twice").await;
    let parameters = stream_parameters(&twiml);
    let (mut twilio, mut session) = start_call_with(addr, &mut model, "CA_twice", &twiml).await;

    // Act: the same `start`, with the same token, on a second stream; and on a server
    // instance of its own (same database and secrets, no session prepared there).
    let mut second = TwilioStream::open(addr, None).await.unwrap();
    second.start("CA_twice", &parameters).await;
    let other_instance = app.serve_another_instance().await;
    let mut third = TwilioStream::open(other_instance, None).await.unwrap();
    third.start("CA_twice", &parameters).await;

    // Assert: both are closed as a policy violation, no model session is opened for them,
    // and the first stream carries on.
    for stream in [&mut second, &mut third] {
        let close = stream.close_frame().await;
        assert_eq!(close.map(|frame| u16::from(frame.code)), Some(1008));
    }
    assert!(model.no_session().await, "no second model session");
    let chunk = audio(4, 320);
    session.reply("resp_greet", "item_greet", std::slice::from_ref(&chunk), "Ciao! Bella Hair here.").await;
    assert_eq!(twilio.audio(chunk.len()).await.0, chunk);
    twilio.media(&audio(5, 160)).await;
    session.expect("input_audio_buffer.append").await;
}

#[tokio::test]
async fn a_realtime_call_relays_audio_both_ways_in_order_and_keeps_the_transcript() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_flow", None, &[]).await;

    // The greeting: the model's audio reaches Twilio byte for byte, each chunk marked.
    let chunks: Vec<Vec<u8>> = (0..5).map(|seed| audio(seed, 160 + seed as usize)).collect();
    session.reply("resp_greet", "item_greet", &chunks, SPOKEN_GREETING).await;
    let (heard, marks) = twilio.audio(chunks.iter().map(Vec::len).sum()).await;
    assert_eq!(heard, chunks.concat());
    assert!(!marks.is_empty());

    // The caller's frames reach the model unchanged and in order.
    let frames: Vec<Vec<u8>> = (10..60).map(|seed| audio(seed, 160)).collect();
    for frame in &frames {
        twilio.media(frame).await;
    }
    for frame in &frames {
        let append = session.expect("input_audio_buffer.append").await;
        assert_eq!(BASE64.decode(append["audio"].as_str().unwrap()).unwrap(), *frame);
    }

    // Transcripts are stored in spoken order, even when the caller's arrives last; the
    // greeting is what the model said, not the configured text it was asked to say.
    session.send(speech_started("item_caller1")).await;
    session.send(json!({"type": "input_audio_buffer.speech_stopped", "event_id": "ev", "audio_end_ms": 2000, "item_id": "item_caller1"})).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    session.send(response_created("resp_2")).await;
    session
        .send(json!({"type": "response.output_audio_transcript.done", "event_id": "ev", "response_id": "resp_2",
                        "item_id": "item_2", "output_index": 0, "content_index": 0, "transcript": "We open at nine."}))
        .await;
    session
        .send(json!({"type": "conversation.item.input_audio_transcription.completed", "event_id": "ev",
                        "item_id": "item_caller1", "content_index": 0, "transcript": "When do you open?",
                        "usage": {"type": "duration", "seconds": 2}}))
        .await;
    session.send(response_done("resp_2", "completed")).await;
    let expected = lines(&[("ai", SPOKEN_GREETING), ("caller", "When do you open?"), ("ai", "We open at nine.")]);
    eventually(|| async { call_logs(&app, "CA_flow").await == expected }).await;

    // Both responses' usage is priced at gpt-realtime-mini's rates.
    let per_response = (1000.0 * 0.60 + 200.0 * 10.0 + 40.0 * 2.40 + 160.0 * 20.0) / 1e6;
    eventually(|| async {
        let cost: f64 = sqlx::query_scalar("SELECT openai_cost::float8 FROM calls WHERE twilio_call_sid = 'CA_flow'")
            .fetch_one(&app.db)
            .await
            .unwrap();
        (cost - 2.0 * per_response).abs() < 1e-9
    })
    .await;

    // The caller hangs up: the model session is closed, nothing is stored as an outcome.
    twilio
        .send(json!({"event": "stop", "streamSid": "MZ1", "stop": {"accountSid": "AC123", "callSid": "CA_flow"}}))
        .await;
    assert!(session.closed().await);
    let outcome: Option<String> =
        sqlx::query_scalar("SELECT stream_outcome FROM calls WHERE twilio_call_sid = 'CA_flow'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(outcome, None);
}

fn lines(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(speaker, line)| (speaker.to_string(), line.to_string())).collect()
}

#[tokio::test]
async fn a_greeting_cut_short_is_stored_as_far_as_the_model_said_it_and_one_without_words_not_at_all() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;

    // The caller talks over the greeting: its partial transcript is kept, marked, before
    // the caller's line.
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_greet_cut", None, &[]).await;
    session.send(response_created("resp_greet")).await;
    for seed in 0..3 {
        session.send(audio_delta("resp_greet", "item_greet", &audio(seed, 1600))).await;
    }
    let (_, marks) = twilio.audio(4800).await;
    twilio.echo(&marks[0]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    session.send(speech_started("item_caller")).await;
    session.expect("conversation.item.truncate").await;
    session.expect("response.cancel").await;
    session
        .send(json!({"type": "response.output_audio_transcript.done", "event_id": "ev", "response_id": "resp_greet",
                     "item_id": "item_greet", "output_index": 0, "content_index": 0, "transcript": "Hello, Bella Hair,"}))
        .await;
    session.send(response_done("resp_greet", "cancelled")).await;
    session
        .send(json!({"type": "conversation.item.input_audio_transcription.completed", "event_id": "ev",
                     "item_id": "item_caller", "content_index": 0, "transcript": "Do you do colour?"}))
        .await;
    let expected = lines(&[("ai", "Hello, Bella Hair, (interrupted)"), ("caller", "Do you do colour?")]);
    eventually(|| async { call_logs(&app, "CA_greet_cut").await == expected }).await;

    // The model never transcribes its greeting: no line stands in for it (least of all the
    // configured text); the lines after it are stored as usual.
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_greet_mute", None, &[]).await;
    session.send(response_created("resp_greet")).await;
    session.send(audio_delta("resp_greet", "item_greet", &audio(1, 160))).await;
    session.send(response_done("resp_greet", "completed")).await;
    let (_, marks) = twilio.audio(160).await;
    twilio.echo(&marks[0]).await;
    session.send(speech_started("item_caller")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    session
        .send(json!({"type": "conversation.item.input_audio_transcription.completed", "event_id": "ev",
                     "item_id": "item_caller", "content_index": 0, "transcript": "Is anyone there?"}))
        .await;
    session.reply("resp_2", "item_2", &[audio(2, 160)], "Yes, this is Bella Hair.").await;
    let expected = lines(&[("caller", "Is anyone there?"), ("ai", "Yes, this is Bella Hair.")]);
    eventually(|| async { call_logs(&app, "CA_greet_mute").await == expected }).await;
}

#[tokio::test]
async fn a_media_stream_outlives_the_http_header_and_idle_timeouts() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let short = [("HEADER_READ_TIMEOUT_SECONDS", "1"), ("IDLE_TIMEOUT_SECONDS", "1")];
    let (_app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_long", None, &short).await;

    // Quiet for longer than both HTTP timeouts: the upgraded socket keeps its own rules.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let chunk = audio(7, 320);
    session.reply("resp_late", "item_late", std::slice::from_ref(&chunk), "Still here.").await;
    assert_eq!(twilio.audio(chunk.len()).await.0, chunk);
    twilio.media(&audio(8, 160)).await;
    let append = session.expect("input_audio_buffer.append").await;
    assert_eq!(BASE64.decode(append["audio"].as_str().unwrap()).unwrap(), audio(8, 160));
}

#[tokio::test]
async fn the_caller_interrupts_and_the_reply_stops_where_they_stopped_hearing_it() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (_app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_barge", None, &[]).await;

    // Three 200 ms chunks of a reply; Twilio has played two of them.
    session.send(response_created("resp_1")).await;
    for seed in 0..3 {
        session.send(audio_delta("resp_1", "item_1", &audio(seed, 1600))).await;
    }
    let (_, marks) = twilio.audio(4800).await;
    twilio.echo(&marks[0]).await;
    twilio.echo(&marks[1]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    session.send(speech_started("item_caller")).await;
    let clear = twilio.next().await.unwrap();
    assert_eq!(clear, json!({"event": "clear", "streamSid": "MZ1"}));
    let truncate = session.expect("conversation.item.truncate").await;
    assert_eq!(truncate["item_id"], "item_1");
    assert_eq!(truncate["content_index"], 0);
    let played = truncate["audio_end_ms"].as_u64().unwrap();
    assert!((400..650).contains(&played), "{played} ms: 400 ms were echoed just before");
    session.expect("response.cancel").await;

    // Audio the model had already sent for the interrupted reply never reaches the caller.
    session.send(audio_delta("resp_1", "item_1", &audio(9, 1600))).await;
    session.send(response_done("resp_1", "cancelled")).await;
    session.send(response_created("resp_2")).await;
    session.send(audio_delta("resp_2", "item_2", &audio(7, 320))).await;
    let next = twilio.next().await.unwrap();
    assert_eq!(next["event"], "media");
    assert_eq!(BASE64.decode(next["media"]["payload"].as_str().unwrap()).unwrap(), audio(7, 320));

    let barge_ins = deskringer::http::metrics::handle().render();
    assert!(barge_ins.contains("realtime_barge_ins_total"), "the barge-in is counted");
}

#[tokio::test]
async fn a_transfer_ends_the_stream_after_its_line_and_stream_ended_dials_the_forward_number() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, addr) = realtime_app(&mocks, &model, &[]).await;
    realtime_business(&app, Some(FORWARD)).await;
    let (mut twilio, mut session) = start_call(&app, addr, &mut model, "CA_xfer").await;

    session.send(response_created("resp_fc")).await;
    session.send(function_call("resp_fc", "transfer_to_human")).await;
    let output = session.expect("conversation.item.create").await;
    assert_eq!(output["item"]["type"], "function_call_output");
    assert_eq!(output["item"]["call_id"], "call_1");
    session.send(response_done("resp_fc", "completed")).await;
    // The short line, asked for once the tool's response is done.
    let line = session.expect("response.create").await;
    assert!(line["response"]["instructions"].as_str().unwrap().contains("transfer you"), "{line}");
    session.reply("resp_line", "item_line", &[audio(3, 800)], "Please hold while I transfer you.").await;
    let (_, marks) = twilio.audio(800).await;
    hear_last_words(&mut twilio, &marks).await;
    assert!(session.closed().await);

    let dial = stream_ended(&app, "CA_xfer").await;
    assert_eq!(dial.verbs(), ["Dial"]);
    let (attributes, _) = &dial.all("Dial")[0];
    assert_eq!(attributes["callerId"], NUMBER);
    assert_eq!(attributes["timeout"], "30");
    assert_eq!(dial.all("Number")[0].1, FORWARD);
    // Nobody answers: the standard fallback offers to take a message.
    let after =
        app.twilio("/api/webhooks/twilio/gather", &[("CallSid", "CA_xfer"), ("DialCallStatus", "no-answer")]).await;
    assert_eq!(Twiml::from(&after).verbs()[0], "Gather");
}

#[tokio::test]
async fn without_a_forward_number_the_model_is_told_to_take_a_message_and_end_call_hangs_up() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_end", None, &[]).await;

    session.send(response_created("resp_fc")).await;
    session.send(function_call("resp_fc", "transfer_to_human")).await;
    let output = session.expect("conversation.item.create").await;
    assert!(output["item"]["output"].as_str().unwrap().contains("take a message"), "{output}");
    session.send(response_done("resp_fc", "completed")).await;
    let answer = session.expect("response.create").await;
    assert_eq!(answer["response"], json!({}), "the model answers the tool's output itself");

    // The model says goodbye and ends the call in the same response.
    session.send(response_created("resp_bye")).await;
    session.send(audio_delta("resp_bye", "item_bye", &audio(5, 400))).await;
    session.send(function_call("resp_bye", "end_call")).await;
    session.expect("conversation.item.create").await;
    session.send(response_done("resp_bye", "completed")).await;
    let (_, marks) = twilio.audio(400).await;
    hear_last_words(&mut twilio, &marks).await;
    assert_eq!(stream_ended(&app, "CA_end").await.verbs(), ["Hangup"]);
}

#[tokio::test]
async fn silence_gets_a_check_in_then_a_goodbye_and_long_calls_are_closed_politely() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, mut twilio, mut session) =
        realtime_call(&mocks, &mut model, "CA_idle", None, &[("REALTIME_IDLE_SECONDS", "0.3")]).await;
    session.reply("resp_greet", "item_greet", &[audio(1, 160)], "Ciao! Bella Hair here.").await;
    let (_, marks) = twilio.audio(160).await;
    twilio.echo(&marks[0]).await;

    let check_in = session.expect("response.create").await;
    assert!(check_in["response"]["instructions"].as_str().unwrap().contains("Are you still there?"), "{check_in}");
    session.reply("resp_check", "item_check", &[audio(2, 160)], "Are you still there?").await;
    let (_, marks) = twilio.audio(160).await;
    twilio.echo(&marks[0]).await;

    let goodbye = session.expect("response.create").await;
    assert!(goodbye["response"]["instructions"].as_str().unwrap().contains("Goodbye"), "{goodbye}");
    session.reply("resp_bye", "item_bye", &[audio(3, 160)], "Thank you for calling. Goodbye!").await;
    let (_, marks) = twilio.audio(160).await;
    hear_last_words(&mut twilio, &marks).await;
    assert_eq!(stream_ended(&app, "CA_idle").await.verbs(), ["Hangup"]);

    // A call that reaches MAX_CALL_MINUTES hears the time limit line, then is closed.
    let (app, mut twilio, mut session) =
        realtime_call(&mocks, &mut model, "CA_long", None, &[("MAX_CALL_MINUTES", "0.01")]).await;
    session.reply("resp_greet", "item_greet", &[audio(1, 160)], "Ciao! Bella Hair here.").await;
    let limit = session.expect("response.create").await;
    assert!(limit["response"]["instructions"].as_str().unwrap().contains("time limit"), "{limit}");
    session.reply("resp_limit", "item_limit", &[audio(4, 160)], "We've reached the time limit.").await;
    twilio.audio(160).await;
    loop {
        let message = twilio.next().await.unwrap();
        if message["event"] == "mark" && message["mark"]["name"] == "end" {
            break;
        }
    }
    twilio.echo("end").await;
    assert!(twilio.closed().await);
    assert_eq!(stream_ended(&app, "CA_long").await.verbs(), ["Hangup"]);
}

/// What `stream-ended` answers after a fault: the apology, and a `<Gather>` that goes on.
async fn assert_standard_flow_continues(app: &TestApp, sid: &str) {
    let twiml = stream_ended(app, sid).await;
    assert_eq!(twiml.verbs(), ["Gather", "Gather", "Say", "Hangup"], "the caller is not dropped");
    let lines = call_logs(app, sid).await;
    assert_eq!(lines.last().unwrap().1, deskringer::receptionist::realtime::FALLBACK_APOLOGY);
    let outcome: Option<String> = sqlx::query_scalar("SELECT stream_outcome FROM calls WHERE twilio_call_sid = $1")
        .bind(sid)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(outcome.as_deref(), Some("fallback"));
}

#[tokio::test]
async fn every_model_fault_falls_back_to_the_standard_flow_without_dropping_the_caller() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;

    // Malformed messages from the model.
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_junk", None, &[]).await;
    session.send(json!({"type": "response.output_audio.delta", "delta": 42})).await;
    assert!(twilio.closed().await);
    assert!(session.closed().await);
    assert_standard_flow_continues(&app, "CA_junk").await;

    // The session drops and the one reconnect fails.
    let (app, mut twilio, session) = realtime_call(&mocks, &mut model, "CA_drop", None, &[]).await;
    drop(session);
    let mut retry = model.session().await;
    retry.expect("session.update").await;
    drop(retry);
    assert!(twilio.closed().await);
    assert_standard_flow_continues(&app, "CA_drop").await;

    // The session drops and the reconnect works: the call goes on with its history (the
    // greeting as the model said it).
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_again", None, &[]).await;
    session.reply("resp_greet", "item_greet", &[], SPOKEN_GREETING).await;
    eventually(|| async { call_logs(&app, "CA_again").await.len() == 1 }).await;
    drop(session);
    let mut second = model.session().await;
    second.expect("session.update").await;
    let history = second.expect("conversation.item.create").await;
    assert_eq!(history["item"]["content"][0]["text"], SPOKEN_GREETING);
    second.reply("resp_x", "item_x", &[audio(8, 160)], "Sorry, where were we?").await;
    let (heard, _) = twilio.audio(160).await;
    assert_eq!(heard, audio(8, 160));

    // The model cannot be reached at all.
    let (app, addr) = realtime_app(&mocks, &model, &[("OPENAI_REALTIME_URL", "ws://127.0.0.1:9/v1/realtime")]).await;
    realtime_business(&app, None).await;
    let twiml = voice(&app, "CA_down").await;
    let mut twilio = TwilioStream::open(addr, None).await.unwrap();
    twilio.start("CA_down", &stream_parameters(&twiml)).await;
    assert!(twilio.closed().await);
    assert_standard_flow_continues(&app, "CA_down").await;
    let metrics = deskringer::http::metrics::handle().render();
    assert!(metrics.contains("realtime_fallbacks_total"), "fallbacks are counted");

    // A stream that ends with nothing stored (its instance died) also continues.
    let (app, _) = realtime_app(&mocks, &model, &[]).await;
    realtime_business(&app, None).await;
    voice(&app, "CA_lost").await;
    let twiml = stream_ended(&app, "CA_lost").await;
    assert_eq!(twiml.verbs(), ["Gather", "Gather", "Say", "Hangup"]);
}

#[tokio::test]
async fn stream_ended_replayed_after_the_call_ended_hangs_up_and_stores_nothing() {
    // Arrange: a realtime call falls back to the standard flow (one apology), then ends.
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, mut twilio, mut session) = realtime_call(&mocks, &mut model, "CA_over", None, &[]).await;
    session.send(json!({"type": "response.output_audio.delta", "delta": 42})).await;
    assert!(twilio.closed().await);
    assert_standard_flow_continues(&app, "CA_over").await;
    let ended = app
        .twilio(
            "/api/webhooks/twilio/status",
            &[("CallSid", "CA_over"), ("CallStatus", "completed"), ("CallDuration", "40")],
        )
        .await;
    ended.assert_ok(axum::http::StatusCode::OK);
    let lines_before = call_logs(&app, "CA_over").await;
    let asked_before = mocks.openai.received_requests().await.unwrap().len();

    // Act: Twilio's `stream-ended` for the call, replayed three times.
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(
            app.twilio("/api/webhooks/twilio/stream-ended", &[("CallSid", "CA_over"), ("CallStatus", "in-progress")])
                .await,
        );
    }

    // Assert: each is exactly a hang-up; no apology stored, no speech or model asked for.
    for answer in &answers {
        assert_eq!(answer.status, axum::http::StatusCode::OK);
        assert_eq!(answer.text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>");
    }
    assert_eq!(call_logs(&app, "CA_over").await, lines_before);
    assert_eq!(mocks.openai.received_requests().await.unwrap().len(), asked_before);
    assert!(model.no_session().await);
}

#[tokio::test]
async fn admins_and_businesses_choose_the_voice_mode_and_new_businesses_get_the_default() {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, false, &[("DEFAULT_VOICE_MODE", "realtime")])).await;
    let admin = app.admin_token().await;
    let created =
        app.post("/api/customers", &admin, json!({"business_name": "Bella Hair", "email": "o@bella.test"})).await;
    let customer = &created.assert_ok(axum::http::StatusCode::CREATED)["customer"];
    assert_eq!(customer["voice_mode"], "realtime");
    let id = customer["id"].as_i64().unwrap();

    let updated = app.put(&format!("/api/customers/{id}"), &admin, json!({"voice_mode": "standard"})).await;
    assert_eq!(updated.assert_ok(axum::http::StatusCode::OK)["customer"]["voice_mode"], "standard");
    let refused = app.put(&format!("/api/customers/{id}/settings"), &admin, json!({"voice_mode": "fast"})).await;
    let message = refused.assert_error(axum::http::StatusCode::UNPROCESSABLE_ENTITY).to_owned();
    assert!(message.contains("voice_mode"), "{message}");

    let owner = app.token(deskringer::auth::Role::Customer, id);
    let saved = app.put("/api/portal/settings", &owner, json!({"voice_mode": "realtime"})).await;
    saved.assert_ok(axum::http::StatusCode::OK);
    let stored: String =
        sqlx::query_scalar("SELECT voice_mode FROM customers WHERE id = $1").bind(id).fetch_one(&app.db).await.unwrap();
    assert_eq!(stored, "realtime");
}

fn tool_call_event(response: &str, call_id: &str, name: &str, arguments: Value) -> Value {
    json!({"type": "response.function_call_arguments.done", "event_id": "ev", "response_id": response,
           "item_id": format!("item_{call_id}"), "output_index": 0, "call_id": call_id, "name": name,
           "arguments": arguments.to_string()})
}

#[tokio::test]
async fn a_realtime_caller_books_and_a_slow_diary_gets_a_filler_line_not_silence() {
    let mocks = Mocks::start().await;
    let mut model = MockModel::start().await;
    let (app, addr) = realtime_app(&mocks, &model, &[]).await;
    let id = realtime_business(&app, None).await;
    let every_day: serde_json::Map<String, Value> =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            .iter()
            .map(|day| (day.to_string(), json!({"open": "09:00", "close": "17:00"})))
            .collect();
    sqlx::query(
        "UPDATE customers SET appointment_handling = 'book', timezone = 'America/New_York', \
         business_hours = $2::json, booking = '{\"services\": [{\"name\": \"Haircut\", \"minutes\": 60}]}' WHERE id = $1",
    )
    .bind(id)
    .bind(Value::Object(every_day).to_string())
    .execute(&app.db)
    .await
    .unwrap();
    let (_twilio, mut session) = start_call(&app, addr, &mut model, "CA_rt_book").await;
    let day = chrono::Utc::now().with_timezone(&chrono_tz::America::New_York).date_naive() + chrono::Days::new(2);

    // The model checks the diary: the output offers three times, then the model answers it.
    session.send(response_created("resp_check")).await;
    session
        .send(tool_call_event(
            "resp_check",
            "call_1",
            "check_availability",
            json!({"service": "Haircut", "date": day.to_string(), "earliest": "10:00"}),
        ))
        .await;
    session.send(response_done("resp_check", "completed")).await;
    let output = session.expect("conversation.item.create").await;
    assert_eq!(output["item"]["call_id"], "call_1");
    let offered: Value = serde_json::from_str(output["item"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(offered["slots"].as_array().unwrap().len(), 3, "{offered}");
    assert_eq!(offered["slots"][0]["slot_id"], "S1");
    session.expect("response.create").await;

    // The diary is slow (the offered slot is locked by another transaction): the caller hears
    // a filler line instead of silence, and the booking lands once the diary answers.
    let mut blocker = app.db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM call_slots WHERE slot_id = 'S1' FOR UPDATE").execute(&mut *blocker).await.unwrap();
    session.send(response_created("resp_book")).await;
    session
        .send(tool_call_event(
            "resp_book",
            "call_2",
            "book_appointment",
            json!({"slot_id": "S1", "caller_name": "Ana"}),
        ))
        .await;
    session.send(response_done("resp_book", "completed")).await;
    let filler = session.expect("response.create").await;
    assert!(
        filler["response"]["instructions"].as_str().unwrap().contains("One moment while I check the diary"),
        "{filler}"
    );
    // The caller talks over the filler, and the model asks to book again: still one booking.
    session.send(speech_started("item_barge")).await;
    session.send(response_created("resp_again")).await;
    session
        .send(tool_call_event(
            "resp_again",
            "call_3",
            "book_appointment",
            json!({"slot_id": "S1", "caller_name": "Ana"}),
        ))
        .await;
    session.send(response_done("resp_again", "completed")).await;
    blocker.rollback().await.unwrap();
    let mut outputs = Vec::new();
    while outputs.len() < 2 {
        let event = session.next().await;
        if event["type"] == "conversation.item.create" {
            outputs.push(event);
        }
    }
    outputs.sort_by_key(|event| event["item"]["call_id"].as_str().unwrap().to_owned());
    let output = outputs.remove(0);
    assert_eq!(output["item"]["call_id"], "call_2");
    let repeat: Value = serde_json::from_str(outputs[0]["item"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(repeat["booked"], true, "{repeat}");
    let booked: Value = serde_json::from_str(output["item"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(booked["booked"], true, "{booked}");

    assert_eq!(repeat["appointment_id"], booked["appointment_id"], "the repeat returns the first booking");
    let row: (String, Option<String>, String) =
        sqlx::query_as("SELECT source, caller_phone, caller_name FROM appointments").fetch_one(&app.db).await.unwrap();
    assert_eq!(row, ("call".to_owned(), Some(CALLER.to_owned()), "Ana".to_owned()));
}
