//! A stand-in for OpenAI's chat completions (standard voice mode), answering from the
//! booking script in [`crate::script`]: it reads only the last message (the caller's line or
//! a tool's result). Speech synthesis answers 500, so the server falls back to `<Say>`; a
//! summary request (`response_format`) gets a fixed summary.

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::script::{self, Step};

/// Serves the stand-in on `listener` until the example exits.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let app = Router::new().route("/v1/chat/completions", post(complete)).route(
        "/v1/audio/speech",
        post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "the stand-in does not speak") }),
    );
    axum::serve(listener, app).await?;
    Ok(())
}

async fn complete(Json(body): Json<Value>) -> Json<Value> {
    let usage = json!({"prompt_tokens": 900, "completion_tokens": 20});
    if body["response_format"]["type"] == "json_object" {
        let transcript = body["messages"][1]["content"].as_str().unwrap_or_default().to_lowercase();
        let intent = if transcript.contains("book") { "appointment" } else { "other" };
        let summary =
            json!({"summary": "(stand-in model) A simulated call.", "intent": intent, "callback_requested": false});
        return Json(
            json!({"choices": [{"message": {"role": "assistant", "content": summary.to_string()}}], "usage": usage}),
        );
    }
    let services = script::services(body["tools"].as_array().into_iter().flatten());
    let last = body["messages"].as_array().and_then(|messages| messages.last()).cloned().unwrap_or_default();
    let content = last["content"].as_str().unwrap_or_default();
    let step = if last["role"] == "tool" {
        println!("   model: tool output: {content}");
        script::after_tool(&serde_json::from_str(content).unwrap_or(Value::Null))
    } else {
        script::after_caller(content, &services)
    };
    let message = match step {
        Step::Call(name, arguments) => {
            println!("   model calls: {name} {arguments}");
            let id = format!("call_{}", rand::random::<u32>());
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
            ]})
        }
        Step::Say(words) => {
            println!("   model says: {words}");
            json!({"role": "assistant", "content": words})
        }
    };
    Json(json!({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage}))
}
