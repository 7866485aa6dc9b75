//! OpenAI: chat completions (with the receptionist's tools) and text to speech.

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ToolCall, ToolSpec, error_for_status, http_client};
use crate::config::OpenAiConfig;

/// Longest any OpenAI request may take; conversation turns have a shorter deadline of
/// their own (`OpenAiConfig::reply_deadline`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The OpenAI client.
#[derive(Debug, Clone)]
pub struct OpenAi {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    /// Chat model.
    pub model: String,
    /// Text-to-speech model.
    pub tts_model: String,
    /// Text-to-speech voice.
    pub tts_voice: String,
}

/// One chat message: the system prompt, a line of the call, the model's tool calls, or a
/// tool's result.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: &'static str,
    /// The text (`null` for an assistant message that only calls tools).
    pub content: Option<String>,
    /// The tools an assistant message called.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
    /// The call a tool message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn text(role: &'static str, content: impl Into<String>) -> Self {
        Self { role, content: Some(content.into()), tool_calls: Vec::new(), tool_call_id: None }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::text("system", content)
    }
    /// A message from the caller.
    pub fn user(content: impl Into<String>) -> Self {
        Self::text("user", content)
    }
    /// A message from the receptionist.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text("assistant", content)
    }
    /// The receptionist's tool calls (and any words said with them).
    pub fn assistant_calls(content: Option<String>, calls: &[ToolCall]) -> Self {
        let tool_calls = calls
            .iter()
            .map(|call| WireToolCall {
                id: call.id.clone(),
                r#type: "function".into(),
                function: WireFunction { name: call.name.clone(), arguments: call.arguments.clone() },
            })
            .collect();
        Self { role: "assistant", content, tool_calls, tool_call_id: None }
    }
    /// A tool's result, answering the call `id`.
    pub fn tool_result(id: &str, output: impl Into<String>) -> Self {
        Self { role: "tool", content: Some(output.into()), tool_calls: Vec::new(), tool_call_id: Some(id.to_owned()) }
    }
}

/// Tokens a request used, as OpenAI bills them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    /// Input tokens.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Output tokens.
    #[serde(default)]
    pub completion_tokens: u32,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// What the model answered in a conversation turn: words, tool calls, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelReply {
    /// Words to speak, if any.
    pub text: Option<String>,
    /// Tools it asks to run, in order.
    pub tool_calls: Vec<ToolCall>,
}

#[derive(Deserialize)]
struct CompletionResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
struct Choice {
    message: AssistantMessage,
}

#[derive(Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

/// A tool call as chat completions write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireToolCall {
    id: String,
    #[serde(default = "function_type")]
    r#type: String,
    function: WireFunction,
}

fn function_type() -> String {
    "function".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

impl OpenAi {
    /// Builds the client; the key must be set.
    pub fn new(config: &OpenAiConfig) -> anyhow::Result<Self> {
        Ok(Self {
            http: http_client(REQUEST_TIMEOUT)?,
            base_url: config.base_url.clone(),
            api_key: config.api_key.clone().context("OPENAI_API_KEY is not set")?,
            model: config.model.clone(),
            tts_model: config.tts_model.clone(),
            tts_voice: config.tts_voice.clone(),
        })
    }

    async fn complete(&self, body: Value) -> anyhow::Result<CompletionResponse> {
        let started = std::time::Instant::now();
        let result = self.complete_unrecorded(body).await;
        crate::telemetry::record_external("openai", started, result.is_ok());
        result
    }

    async fn complete_unrecorded(&self, body: Value) -> anyhow::Result<CompletionResponse> {
        let response = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .bearer_auth(self.api_key.expose_secret())
            .json(&body)
            .send()
            .await
            .context("OpenAI request failed")?;
        let response = error_for_status("OpenAI", response).await?;
        response.json().await.context("OpenAI answered malformed JSON")
    }

    /// One round of a conversation turn: the model answers, or calls some of `tools`.
    #[tracing::instrument(skip_all, fields(model = %self.model))]
    pub async fn converse(&self, messages: &[ChatMessage], tools: &[ToolSpec]) -> anyhow::Result<(ModelReply, Usage)> {
        let tools: Vec<Value> = tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name, "description": tool.description, "parameters": tool.parameters
                }})
            })
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0.5,
            "max_tokens": 300,
        });
        if !tools.is_empty() {
            body["tools"] = Value::Array(tools);
        }
        let completion = self.complete(body).await?;
        let message = completion.choices.into_iter().next().context("OpenAI answered no choices")?.message;
        let text = message.content.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
        let tool_calls: Vec<ToolCall> = message
            .tool_calls
            .into_iter()
            .map(|call| ToolCall { id: call.id, name: call.function.name, arguments: call.function.arguments })
            .collect();
        if text.is_none() && tool_calls.is_empty() {
            anyhow::bail!("OpenAI answered neither text nor a tool call");
        }
        Ok((ModelReply { text, tool_calls }, completion.usage))
    }

    /// A completion constrained to a JSON object (used for call summaries).
    #[tracing::instrument(skip_all, fields(model = %self.model))]
    pub async fn complete_json(&self, messages: &[ChatMessage]) -> anyhow::Result<(Value, Usage)> {
        let body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": 300,
            "response_format": {"type": "json_object"},
        });
        let completion = self.complete(body).await?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .context("OpenAI answered no content")?;
        let value = serde_json::from_str(&content).context("OpenAI's JSON answer does not parse")?;
        Ok((value, completion.usage))
    }

    /// Starts speech synthesis of `text` as MP3; the body streams as OpenAI produces it.
    #[tracing::instrument(skip_all, fields(model = %self.tts_model, chars = text.len()))]
    pub async fn speech(&self, text: &str) -> anyhow::Result<reqwest::Response> {
        let response = self
            .http
            .post(format!("{}/audio/speech", self.base_url))
            .bearer_auth(self.api_key.expose_secret())
            .json(&json!({"model": self.tts_model, "voice": self.tts_voice, "input": text, "response_format": "mp3"}))
            .send()
            .await
            .context("OpenAI speech request failed")?;
        error_for_status("OpenAI speech", response).await
    }
}

/// US dollars per million tokens (input, output) of the chat models we use. Unknown models
/// are priced as the most expensive listed, so costs are never under-reported.
const PRICES_PER_MILLION: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4o", 2.50, 10.00),
];

/// What `usage` cost on `model`, in US dollars.
pub fn cost(model: &str, usage: Usage) -> f64 {
    let (input, output) = PRICES_PER_MILLION
        .iter()
        .find(|(name, _, _)| *name == model)
        .map(|(_, input, output)| (*input, *output))
        .unwrap_or((2.50, 10.00));
    (f64::from(usage.prompt_tokens) * input + f64::from(usage.completion_tokens) * output) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_follows_the_price_table() {
        let usage = Usage { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 };
        assert!((cost("gpt-4o-mini", usage) - 0.75).abs() < 1e-9);
        assert!((cost("gpt-4o", Usage { prompt_tokens: 1000, completion_tokens: 100 }) - 0.0035).abs() < 1e-9);
        assert!((cost("some-new-model", usage) - 12.5).abs() < 1e-9);
    }
}
