//! Drives a whole phone call against a running DeskRinger server with signed requests, the
//! way Twilio would: `voice`, one `gather` per line the caller says, then `status`.
//!
//! ```text
//! cargo run --example simulate_call -- --to +14155550111 "What are your hours?" "Please call me back"
//! ```
//!
//! With `--realtime`, the call is a media stream to a business in realtime voice mode, with a
//! stand-in for the OpenAI Realtime API started by this example (see `realtime.rs`).
//!
//! With `--model` (standard mode), a stand-in for OpenAI's chat completions runs on
//! `--model-port` (see `chat.rs`; speech answers 500, so the server says its words with
//! `<Say>`). Both stand-ins follow one script (`script.rs`): a line containing "book", to a
//! business that books, checks availability for its first service, books the first slot for
//! "Sam Caller" and says "You're booked for <label>."; other lines are echoed. For that the
//! server runs with `OPENAI_API_KEY=sk-sim OPENAI_BASE_URL=http://127.0.0.1:5099/v1`, and the
//! business books (`appointment_handling` `book` and at least one service): `PUT
//! /api/portal/settings` with `{"appointment_handling": "book", "booking": {"services":
//! [{"name": "Haircut", "minutes": 45}]}}`, or in SQL (the README has a whole run):
//!
//! ```text
//! psql "$DATABASE_URL" -c "UPDATE customers SET appointment_handling = 'book',
//!   booking = '{\"services\": [{\"name\": \"Haircut\", \"minutes\": 45}]}'
//!   WHERE deskringer_number = '+14155550111'"
//! cargo run --example simulate_call -- --model --to +14155550111 "I'd like to book a haircut" "Thanks, bye"
//! cargo run --example simulate_call -- --realtime --to +14155550111 "I'd like to book a haircut" "Thanks, bye"
//! ```
//!
//! (`--realtime` needs the business in realtime voice mode: `voice_mode = 'realtime'`.)
//!
//! `--base-url` must equal the server's `API_BASE_URL` (both default to
//! `http://localhost:5000`) and `--auth-token` its `TWILIO_AUTH_TOKEN` (both default to the
//! development token), because the signature covers them.

mod chat;
mod realtime;
mod script;

use clap::Parser;
use deskringer::config::DEVELOPMENT_TWILIO_AUTH_TOKEN;
use deskringer::http::webhooks::twilio::signature;

/// The command line.
#[derive(Parser)]
pub struct Args {
    /// The business's DeskRinger number (the number called).
    #[arg(long)]
    to: String,
    /// The caller's number.
    #[arg(long, default_value = "+14155550199")]
    from: String,
    /// The server's public base URL (`API_BASE_URL`).
    #[arg(long, env = "API_BASE_URL", default_value = "http://localhost:5000")]
    base_url: String,
    /// The server's `TWILIO_AUTH_TOKEN`.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", default_value = DEVELOPMENT_TWILIO_AUTH_TOKEN)]
    auth_token: String,
    /// Realtime voice: stream the call, with a stand-in model on `--model-port`.
    #[arg(long)]
    realtime: bool,
    /// Standard mode: answer the server's chat completions with a stand-in model on
    /// `--model-port`.
    #[arg(long, conflicts_with = "realtime")]
    model: bool,
    /// Port of the stand-in model, Realtime or chat (the server's `OPENAI_BASE_URL` is
    /// `http://127.0.0.1:<port>/v1`).
    #[arg(long, default_value_t = 5099)]
    model_port: u16,
    /// What the caller says, one turn each.
    lines: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let call_sid = format!("CA{:032x}", rand::random::<u128>());
    let post = |path: &'static str, params: Vec<(&'static str, String)>| {
        let url = format!("{}{path}", args.base_url.trim_end_matches('/'));
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let signature = signature::sign(args.auth_token.as_bytes(), &url, &owned);
        let request = http.post(url).header("X-Twilio-Signature", signature).form(&params);
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body = response.text().await?;
            println!("<- {status}\n{body}\n");
            anyhow::Ok(body)
        }
    };

    if args.model {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.model_port)).await?;
        tokio::spawn(chat::serve(listener));
    }
    println!("-> voice ({call_sid})");
    let twiml = post(
        "/api/webhooks/twilio/voice",
        vec![("CallSid", call_sid.clone()), ("From", args.from.clone()), ("To", args.to.clone())],
    )
    .await?;
    if args.realtime {
        realtime::stream_call(&args, &call_sid, &twiml).await?;
        println!("-> stream-ended");
        post("/api/webhooks/twilio/stream-ended", vec![("CallSid", call_sid.clone())]).await?;
    }
    for line in args.lines.iter().filter(|_| !args.realtime) {
        println!("-> gather: {line}");
        // Twilio sends `From` and `To` with every request of the call (the booking tools act
        // for `From`).
        let params = vec![
            ("CallSid", call_sid.clone()),
            ("From", args.from.clone()),
            ("To", args.to.clone()),
            ("SpeechResult", line.clone()),
        ];
        post("/api/webhooks/twilio/gather", params).await?;
    }
    println!("-> status: completed");
    let duration = (20 * args.lines.len().max(1)).to_string();
    post(
        "/api/webhooks/twilio/status",
        vec![("CallSid", call_sid.clone()), ("CallStatus", "completed".into()), ("CallDuration", duration)],
    )
    .await?;
    println!("Done: see the call with GET /api/calls/?per_page=1 (summary arrives once the job has run).");
    Ok(())
}
