//! Load for realtime voice: N simulated calls at once, each streaming 20 ms frames in real
//! time through a running server to a local stand-in for the OpenAI Realtime API (in this
//! process), which answers each turn after a fixed delay. Run by `bench/realtime.sh`, which
//! starts the server; see `bench/RESULTS.md`.
//!
//! Every frame carries its send time and sequence number in its first bytes, so both ends
//! (in this one process, one clock) measure the time through the server and notice any frame
//! lost or out of order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Parser;
use deskringer::http::webhooks::twilio::signature;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser, Clone)]
struct Args {
    /// The server's `API_BASE_URL` (an `http://` address on this machine).
    #[arg(long, default_value = "http://127.0.0.1:5090")]
    base_url: String,
    /// The server's `TWILIO_AUTH_TOKEN`.
    #[arg(long, default_value = "bench-twilio-token")]
    auth_token: String,
    /// The realtime business's number.
    #[arg(long, default_value = "+14155550999")]
    to: String,
    /// Port of the stand-in model (the server's `OPENAI_REALTIME_URL` points here).
    #[arg(long, default_value_t = 5092)]
    model_port: u16,
    /// Calls at once.
    #[arg(long, default_value_t = 50)]
    calls: usize,
    /// Seconds each call streams.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds over which the calls start.
    #[arg(long, default_value_t = 2)]
    ramp: u64,
    /// The stand-in model's WebSocket handshake delay.
    #[arg(long, default_value_t = 150)]
    handshake_ms: u64,
    /// The stand-in model's delay before it answers a turn.
    #[arg(long, default_value_t = 200)]
    reply_delay_ms: u64,
    /// Time between `voice`'s answer and the stream's start (Twilio fetching the TwiML and
    /// opening the socket).
    #[arg(long, default_value_t = 200)]
    stream_delay_ms: u64,
    /// The server's process id, for its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// 20 ms of 8 kHz mu-law.
const FRAME_BYTES: usize = 160;
/// Length of each reply the stand-in model speaks.
const REPLY_FRAMES: u32 = 50;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A frame: send time (µs since the epoch), the call's number, and a sequence number.
fn frame(call: u32, seq: u32) -> String {
    let mut bytes = vec![0xffu8; FRAME_BYTES];
    bytes[..8].copy_from_slice(&(epoch().elapsed().as_micros() as u64).to_le_bytes());
    bytes[8..12].copy_from_slice(&call.to_le_bytes());
    bytes[12..16].copy_from_slice(&seq.to_le_bytes());
    BASE64.encode(bytes)
}

/// (µs in transit, call, sequence) of a frame.
fn read_frame(payload: &str) -> Option<(u64, u32, u32)> {
    let bytes = BASE64.decode(payload).ok()?;
    let sent = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let call = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
    let seq = u32::from_le_bytes(bytes.get(12..16)?.try_into().ok()?);
    Some(((epoch().elapsed().as_micros() as u64).saturating_sub(sent), call, seq))
}

/// What both ends measured.
#[derive(Default)]
struct Measured {
    to_model_us: Mutex<Vec<u32>>,
    to_twilio_us: Mutex<Vec<u32>>,
    first_delta_us: Mutex<Vec<u32>>,
    start_to_greeting_us: Mutex<Vec<u32>>,
    sent_to_model: AtomicU64,
    received_by_model: AtomicU64,
    sent_to_twilio: AtomicU64,
    /// Frames missing between two received ones (the model speaks on after a call's end, so
    /// the count of frames sent to Twilio has a tail no call reads).
    missing_at_twilio: AtomicU64,
    out_of_order: AtomicU64,
    failed_calls: AtomicU64,
}

fn record(samples: &Mutex<Vec<u32>>, us: u64) {
    samples.lock().unwrap().push(us.min(u64::from(u32::MAX)) as u32);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    epoch();
    let measured = Arc::new(Measured::default());
    let listener = TcpListener::bind(("127.0.0.1", args.model_port)).await?;
    tokio::spawn(run_model(listener, args.clone(), measured.clone()));

    let before = args.server_pid.map(server_figures);
    let started = Instant::now();
    let mut calls = Vec::new();
    for n in 0..args.calls {
        let delay = Duration::from_millis(args.ramp * 1000 * n as u64 / args.calls.max(1) as u64);
        let (args, measured) = (args.clone(), measured.clone());
        calls.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(error) = run_call(n as u32, &args, &measured).await {
                eprintln!("call {n}: {error:#}");
                measured.failed_calls.fetch_add(1, Relaxed);
            }
        }));
    }
    // Memory at the middle of the run, when every call is streaming.
    tokio::time::sleep(Duration::from_secs(args.ramp) + Duration::from_secs(args.seconds) / 2).await;
    let middle = args.server_pid.map(server_figures);
    for call in calls {
        call.await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let after = args.server_pid.map(server_figures);
    report(&args, &measured, wall, before, middle, after);
    Ok(())
}

/// (CPU ticks, RSS in KB) of the server.
fn server_figures(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

fn percentiles(samples: &Mutex<Vec<u32>>) -> String {
    let mut samples = samples.lock().unwrap().clone();
    if samples.is_empty() {
        return "-".into();
    }
    samples.sort_unstable();
    let at = |q: f64| f64::from(samples[((samples.len() - 1) as f64 * q) as usize]) / 1000.0;
    format!("{:.2} / {:.2} / {:.1}", at(0.5), at(0.99), at(1.0))
}

fn report(
    args: &Args,
    m: &Measured,
    wall: f64,
    before: Option<(u64, u64)>,
    middle: Option<(u64, u64)>,
    after: Option<(u64, u64)>,
) {
    let lost_up = m.sent_to_model.load(Relaxed) - m.received_by_model.load(Relaxed).min(m.sent_to_model.load(Relaxed));
    let lost_down = m.missing_at_twilio.load(Relaxed);
    let (cpu, rss_per_call) = match (before, middle, after) {
        (Some((t0, rss0)), Some((_, rss1)), Some((t1, _))) => {
            let ticks_per_second = 100.0;
            let cpu = (t1 - t0) as f64 / ticks_per_second / wall * 100.0;
            (format!("{cpu:.0} %"), format!("{:.0} KB", (rss1.saturating_sub(rss0)) as f64 / args.calls as f64))
        }
        _ => ("-".into(), "-".into()),
    };
    println!(
        "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
        args.calls,
        percentiles(&m.to_model_us),
        percentiles(&m.to_twilio_us),
        percentiles(&m.first_delta_us),
        percentiles(&m.start_to_greeting_us),
        lost_up,
        lost_down,
        m.out_of_order.load(Relaxed),
        m.failed_calls.load(Relaxed),
        cpu,
        rss_per_call,
    );
    eprintln!("frames: {} to the model, {} to Twilio", m.sent_to_model.load(Relaxed), m.sent_to_twilio.load(Relaxed));
}

/// One call, as Twilio places it: `voice`, then the media stream for `args.seconds`.
async fn run_call(n: u32, args: &Args, m: &Measured) -> anyhow::Result<()> {
    let base = args.base_url.trim_end_matches('/');
    let call_sid = format!("CA{:016x}{n:016x}", rand::random::<u64>());
    let params = vec![
        ("CallSid".to_owned(), call_sid.clone()),
        ("From".into(), "+14155550100".into()),
        ("To".into(), args.to.clone()),
    ];
    let url = format!("{base}/api/webhooks/twilio/voice");
    let signed = signature::sign(args.auth_token.as_bytes(), &url, &params);
    let twiml = reqwest::Client::new()
        .post(&url)
        .header("X-Twilio-Signature", signed)
        .form(&params)
        .send()
        .await?
        .text()
        .await?;
    let token = twiml
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("no stream in the answer: {twiml}"))?
        .to_owned();
    tokio::time::sleep(Duration::from_millis(args.stream_delay_ms)).await;

    let stream_url = format!("{}/api/webhooks/twilio/media-stream", deskringer::config::websocket_url(base));
    let mut request = stream_url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("x-twilio-signature", signature::sign(args.auth_token.as_bytes(), &stream_url, &[]).parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
    let send = |value: Value| Message::Text(value.to_string().into());
    ws.send(send(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}))).await?;
    let started = Instant::now();
    ws.send(send(json!({"event": "start", "streamSid": format!("MZ{n}"), "start": {
        "streamSid": format!("MZ{n}"), "callSid": call_sid, "customParameters": {"call_sid": call_sid, "token": token}}})))
        .await?;

    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let ends = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let (mut seq, mut last_down, mut greeted) = (0u32, None::<u32>, false);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if tokio::time::Instant::now() >= ends + Duration::from_millis(500) {
                    break;
                }
                if tokio::time::Instant::now() >= ends {
                    continue; // half a second to read what is still on its way
                }
                let media = json!({"event": "media", "streamSid": format!("MZ{n}"), "media": {"payload": frame(n, seq)}});
                ws.send(send(media)).await?;
                m.sent_to_model.fetch_add(1, Relaxed);
                seq += 1;
            }
            message = ws.next() => {
                let Some(Ok(Message::Text(text))) = message else { anyhow::bail!("the server closed the stream") };
                let message: Value = serde_json::from_str(&text)?;
                match message["event"].as_str() {
                    Some("media") => {
                        let Some((us, _, down_seq)) = read_frame(message["media"]["payload"].as_str().unwrap_or_default()) else { continue };
                        record(&m.to_twilio_us, us);
                        if down_seq % REPLY_FRAMES == 0 {
                            record(&m.first_delta_us, us);
                        }
                        match last_down {
                            Some(last) if down_seq <= last => { m.out_of_order.fetch_add(1, Relaxed); }
                            Some(last) => { m.missing_at_twilio.fetch_add(u64::from(down_seq - last - 1), Relaxed); }
                            None => {}
                        }
                        last_down = Some(down_seq);
                        if !greeted {
                            greeted = true;
                            record(&m.start_to_greeting_us, started.elapsed().as_micros() as u64);
                        }
                    }
                    Some("mark") => ws.send(send(json!({"event": "mark", "streamSid": format!("MZ{n}"), "mark": message["mark"]}))).await?,
                    _ => {}
                }
            }
        }
    }
    ws.send(send(json!({"event": "stop", "streamSid": format!("MZ{n}")}))).await?;
    let _ = ws.close(None).await;
    Ok(())
}

/// The stand-in model: accepts sessions after the handshake delay and speaks a reply after
/// the reply delay, whenever asked and every two seconds after its last reply.
async fn run_model(listener: TcpListener, args: Args, m: Arc<Measured>) {
    while let Ok((stream, _)) = listener.accept().await {
        let (args, m) = (args.clone(), m.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            tokio::time::sleep(Duration::from_millis(args.handshake_ms)).await;
            let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
            let _ = model_session(ws, &args, &m).await;
        });
    }
}

async fn model_session(
    mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    args: &Args,
    m: &Measured,
) -> anyhow::Result<()> {
    let event = |value: Value| Message::Text(value.to_string().into());
    let mut last_seen: HashMap<u32, u32> = HashMap::new();
    let (mut seq, mut replies) = (0u32, 0u32);
    // A reply in progress: (its id, frames sent, next frame at); or when the next one starts.
    let mut speaking: Option<(String, u32)> = None;
    let mut next_reply: Option<tokio::time::Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            message = ws.next() => {
                let Some(Ok(Message::Text(text))) = message else { return Ok(()) };
                let value: Value = serde_json::from_str(&text)?;
                match value["type"].as_str() {
                    Some("input_audio_buffer.append") => {
                        let Some((us, call, up_seq)) = read_frame(value["audio"].as_str().unwrap_or_default()) else { continue };
                        m.received_by_model.fetch_add(1, Relaxed);
                        record(&m.to_model_us, us);
                        if last_seen.insert(call, up_seq).is_some_and(|last| up_seq != last + 1) {
                            m.out_of_order.fetch_add(1, Relaxed);
                        }
                    }
                    Some("response.create") if speaking.is_none() => {
                        next_reply = Some(tokio::time::Instant::now() + Duration::from_millis(args.reply_delay_ms));
                    }
                    _ => {}
                }
            }
            _ = ticker.tick() => {
                if speaking.is_none() && next_reply.is_some_and(|at| tokio::time::Instant::now() >= at) {
                    next_reply = None;
                    replies += 1;
                    let id = format!("resp_{replies}");
                    ws.send(event(json!({"type": "response.created", "event_id": "e", "response": {"id": id}}))).await?;
                    speaking = Some((id, 0));
                }
                if let Some((id, sent)) = &mut speaking {
                    // `seq` counts every frame of the session, so Twilio sees one sequence.
                    let delta = json!({"type": "response.output_audio.delta", "event_id": "e", "response_id": id,
                                       "item_id": format!("item_{replies}"), "output_index": 0, "content_index": 0,
                                       "delta": frame(u32::MAX, seq)});
                    ws.send(event(delta)).await?;
                    m.sent_to_twilio.fetch_add(1, Relaxed);
                    seq += 1;
                    *sent += 1;
                    if *sent == REPLY_FRAMES {
                        ws.send(event(json!({"type": "response.done", "event_id": "e", "response": {"id": id, "status": "completed"}}))).await?;
                        speaking = None;
                        next_reply = Some(tokio::time::Instant::now() + Duration::from_secs(2) + Duration::from_millis(args.reply_delay_ms));
                    }
                }
            }
        }
    }
}
