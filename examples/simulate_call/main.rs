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
//! `--base-url` must equal the server's `API_BASE_URL` (both default to
//! `http://localhost:5000`) and `--auth-token` its `TWILIO_AUTH_TOKEN` (both default to the
//! development token), because the signature covers them.

mod realtime;

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
    /// Port of the stand-in Realtime model (the server's `OPENAI_BASE_URL` is
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
        post("/api/webhooks/twilio/gather", vec![("CallSid", call_sid.clone()), ("SpeechResult", line.clone())])
            .await?;
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
