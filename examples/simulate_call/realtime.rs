//! A realtime call: Twilio's side of the media stream, and a stand-in for the OpenAI
//! Realtime API that "hears" the caller's scripted lines and answers each with a short reply
//! (silence standing for speech, with its transcript), then ends the call after the last.
//!
//! A line containing "book", to a business that books, runs the booking script instead of
//! an echo (see [`crate::script`]): the stand-in calls `check_availability` for the first
//! service, books the first slot offered, then says the booked time.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use deskringer::http::webhooks::twilio::signature;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::Args;
use crate::script::{self, Step};

/// 20 ms of mu-law silence.
const FRAME: [u8; 160] = [0xff; 160];

/// Streams the call whose `voice` answer is `twiml`, until the server closes the stream.
pub async fn stream_call(args: &Args, call_sid: &str, twiml: &str) -> anyhow::Result<()> {
    let token = twiml
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("the business is not in realtime mode (no <Stream> in the answer)"))?;
    let (heard_tx, heard_rx) = mpsc::channel(8);
    let listener = TcpListener::bind(("127.0.0.1", args.model_port)).await?;
    tokio::spawn(stand_in_model(listener, args.lines.clone(), heard_rx));

    let base = args.base_url.trim_end_matches('/');
    let url = format!("{}/api/webhooks/twilio/media-stream", deskringer::config::websocket_url(base));
    let mut request = url.as_str().into_client_request()?;
    request.headers_mut().insert("x-twilio-signature", signature::sign(args.auth_token.as_bytes(), &url, &[]).parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    println!("== media stream open: {url}");
    let text = |value: Value| Message::Text(value.to_string().into());
    ws.send(text(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}))).await?;
    ws.send(text(json!({"event": "start", "streamSid": "MZsim", "start": {"streamSid": "MZsim", "callSid": call_sid,
        "customParameters": {"call_sid": call_sid, "token": token}}})))
        .await?;

    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let (mut heard_bytes, mut last_audio) = (0usize, tokio::time::Instant::now());
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                // A reply has played out once no audio came for a moment.
                if heard_bytes > 0 && last_audio.elapsed() > Duration::from_millis(200) {
                    println!("   caller heard {:.2} s of the receptionist", heard_bytes as f64 / 8000.0);
                    heard_bytes = 0;
                    let _ = heard_tx.try_send(());
                }
                let media = json!({"event": "media", "streamSid": "MZsim", "media": {"payload": BASE64.encode(FRAME)}});
                if ws.send(text(media)).await.is_err() {
                    break;
                }
            }
            message = ws.next() => {
                let Some(Ok(Message::Text(message))) = message else { break };
                let message: Value = serde_json::from_str(&message)?;
                match message["event"].as_str() {
                    Some("media") => {
                        heard_bytes += BASE64.decode(message["media"]["payload"].as_str().unwrap_or_default())?.len();
                        last_audio = tokio::time::Instant::now();
                    }
                    // Played at once: echo the mark, as Twilio does when playback reaches it.
                    Some("mark") => ws.send(text(json!({"event": "mark", "streamSid": "MZsim", "mark": message["mark"]}))).await?,
                    Some("clear") => println!("   clear (the caller interrupted)"),
                    _ => {}
                }
            }
        }
    }
    println!("== the server closed the stream");
    Ok(())
}

/// The stand-in model: says what it is asked to, then, each time the caller has heard a
/// reply, "hears" the next scripted line and answers it; after the last, ends the call.
///
/// A booking is a chain of responses: the caller's line gets a function call, whose output
/// comes back as a `function_call_output` item followed by `response.create` (with no
/// instructions), which gets the next step. The caller waits until the booking has an
/// outcome: a filler line said meanwhile is not an answer to their line.
async fn stand_in_model(
    listener: TcpListener,
    lines: Vec<String>,
    mut heard: mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    let (stream, _) = listener.accept().await?;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let text = |value: Value| Message::Text(value.to_string().into());
    let mut lines = lines.into_iter();
    let mut replies = 0;
    let mut waiting_for_caller = false;
    // The services of `check_availability` (empty: the business does not book).
    let mut services: Vec<String> = Vec::new();
    // The last tool output, answered at the next `response.create` without instructions.
    let mut tool_output: Option<Value> = None;
    let mut booking = false;
    loop {
        tokio::select! {
            message = ws.next() => {
                let Some(Ok(Message::Text(message))) = message else { return Ok(()) };
                let event: Value = serde_json::from_str(&message)?;
                match event["type"].as_str() {
                    Some("session.update") => {
                        services = script::services(event["session"]["tools"].as_array().into_iter().flatten());
                        println!("   model: session configured ({} chars of instructions, services: {services:?})",
                            event["session"]["instructions"].as_str().unwrap_or_default().len());
                    }
                    Some("conversation.item.create") if event["item"]["type"] == "function_call_output" => {
                        let output = event["item"]["output"].as_str().unwrap_or_default();
                        println!("   model: tool output for {}: {output}", event["item"]["call_id"].as_str().unwrap_or_default());
                        tool_output = Some(serde_json::from_str(output).unwrap_or(Value::Null));
                    }
                    Some("response.create") => {
                        let asked = event["response"]["instructions"].as_str().unwrap_or_default();
                        replies += 1;
                        match tool_output.take().filter(|_| asked.is_empty()) {
                            Some(output) => match script::after_tool(&output) {
                                Step::Call(name, arguments) => call_function(&mut ws, replies, name, arguments).await?,
                                Step::Say(words) => {
                                    booking = false;
                                    speak(&mut ws, replies, &words, false).await?;
                                }
                            },
                            None => {
                                let words = asked.split('"').nth(1).unwrap_or("Happy to help with that.").to_owned();
                                speak(&mut ws, replies, &words, false).await?;
                            }
                        }
                        waiting_for_caller = !booking;
                    }
                    _ => {}
                }
            }
            // Received whether or not the stand-in waits, so that a filler heard during a
            // booking is not taken later for the booked time having been heard.
            Some(()) = heard.recv() => {
                if !waiting_for_caller {
                    continue;
                }
                waiting_for_caller = false;
                tokio::time::sleep(Duration::from_millis(500)).await;
                let item = format!("item_caller_{replies}");
                let Some(line) = lines.next() else {
                    replies += 1;
                    speak(&mut ws, replies, "Thank you for calling. Goodbye!", true).await?;
                    continue;
                };
                println!("   caller says: {line}");
                ws.send(text(json!({"type": "input_audio_buffer.speech_started", "event_id": "e", "audio_start_ms": 0, "item_id": item}))).await?;
                ws.send(text(json!({"type": "input_audio_buffer.speech_stopped", "event_id": "e", "audio_end_ms": 900, "item_id": item}))).await?;
                ws.send(text(json!({"type": "conversation.item.input_audio_transcription.completed", "event_id": "e",
                                    "item_id": item, "content_index": 0, "transcript": line}))).await?;
                replies += 1;
                match script::after_caller(&line, &services) {
                    Step::Call(name, arguments) => {
                        booking = true;
                        call_function(&mut ws, replies, name, arguments).await?;
                    }
                    Step::Say(words) => {
                        speak(&mut ws, replies, &words, false).await?;
                        waiting_for_caller = true;
                    }
                }
            }
        }
    }
}

/// One response that only calls `name` (no audio), as the model does when it needs a tool.
async fn call_function(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    n: usize,
    name: &str,
    arguments: Value,
) -> anyhow::Result<()> {
    let text = |value: Value| Message::Text(value.to_string().into());
    let response = format!("resp_{n}");
    println!("   model calls: {name} {arguments}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.send(text(json!({"type": "response.created", "event_id": "e", "response": {"id": response}}))).await?;
    ws.send(text(json!({"type": "response.function_call_arguments.done", "event_id": "e", "response_id": response,
                        "item_id": format!("item_fc_{n}"), "output_index": 0, "call_id": format!("call_{n}"),
                        "name": name, "arguments": arguments.to_string()})))
        .await?;
    let usage = json!({"input_token_details": {"text_tokens": 900, "audio_tokens": 50}, "output_token_details": {"text_tokens": 20, "audio_tokens": 0}});
    ws.send(text(json!({"type": "response.done", "event_id": "e", "response": {"id": response, "status": "completed", "usage": usage}})))
        .await?;
    Ok(())
}

/// One response: half a second of audio, its transcript, and (to end) the `end_call` tool.
async fn speak(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    n: usize,
    words: &str,
    end_call: bool,
) -> anyhow::Result<()> {
    let text = |value: Value| Message::Text(value.to_string().into());
    let (response, item) = (format!("resp_{n}"), format!("item_{n}"));
    println!("   model says: {words}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.send(text(json!({"type": "response.created", "event_id": "e", "response": {"id": response}}))).await?;
    for _ in 0..25 {
        ws.send(text(json!({"type": "response.output_audio.delta", "event_id": "e", "response_id": response,
                            "item_id": item, "output_index": 0, "content_index": 0, "delta": BASE64.encode(FRAME)})))
            .await?;
    }
    ws.send(text(json!({"type": "response.output_audio_transcript.done", "event_id": "e", "response_id": response,
                        "item_id": item, "output_index": 0, "content_index": 0, "transcript": words})))
        .await?;
    if end_call {
        ws.send(text(json!({"type": "response.function_call_arguments.done", "event_id": "e", "response_id": response,
                            "item_id": "item_fc", "output_index": 1, "call_id": "call_end", "name": "end_call", "arguments": "{}"})))
            .await?;
    }
    let usage = json!({"input_token_details": {"text_tokens": 900, "audio_tokens": 50}, "output_token_details": {"text_tokens": 20, "audio_tokens": 100}});
    ws.send(text(json!({"type": "response.done", "event_id": "e", "response": {"id": response, "status": "completed", "usage": usage}})))
        .await?;
    Ok(())
}
