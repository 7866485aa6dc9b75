//! Twilio's REST API (2010-04-01): sending SMS, buying and wiring phone numbers, and placing
//! the portal's test calls. (Voice webhooks are answered in `http::webhooks::twilio`.)
//!
//! A thin typed client over the same reqwest stack as the other clients: twilio-rs has no
//! phone-number resources and brings its own HTTP client (see the README). Every request is
//! retried on 429 and 5xx with a growing pause; errors carry Twilio's own message.

pub mod calls;
pub mod numbers;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http_client;
use crate::config::TwilioConfig;

/// Longest one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Tries per request (the first and two retries).
const ATTEMPTS: u32 = 3;
/// Pause before the first retry; doubled before each next one.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// Longest pause a `Retry-After` may ask for before we give up waiting.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Twilio's error code for a text to a number that opted out of the sender's texts.
/// <https://www.twilio.com/docs/api/errors/21610>
const UNSUBSCRIBED_RECIPIENT: i64 = 21610;

/// A failed Twilio request.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// No account SID or auth token is configured.
    #[error("Twilio is not configured (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)")]
    NotConfigured,
    /// Twilio answered with an error; `message` is Twilio's own.
    #[error("Twilio error ({status}{}): {message}", code.map(|c| format!(", code {c}")).unwrap_or_default())]
    Api { status: u16, code: Option<i64>, message: String },
    /// Twilio could not be reached or answered something unreadable: the request may or may
    /// not have taken effect.
    #[error("Twilio request failed: {0:#}")]
    Transport(anyhow::Error),
}

impl TwilioError {
    /// What went wrong, for logs: Twilio's status and code but never its message, which may
    /// quote a phone number.
    pub fn for_log(&self) -> String {
        match self {
            TwilioError::Api { status, code, .. } => {
                format!("Twilio error ({status}{})", code.map(|c| format!(", code {c}")).unwrap_or_default())
            }
            other => other.to_string(),
        }
    }

    /// Whether Twilio refused a text because the recipient opted out of texts from the
    /// sender (error 21610, "Attempt to send to unsubscribed recipient": they texted STOP).
    pub fn is_unsubscribed(&self) -> bool {
        matches!(self, TwilioError::Api { code: Some(UNSUBSCRIBED_RECIPIENT), .. })
    }

    /// Whether Twilio said the resource does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, TwilioError::Api { status: 404, .. })
    }
}

/// What became of a text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsDelivery {
    /// Twilio accepted it; its message SID.
    Sent(String),
    /// SMS is not configured: it was logged instead.
    Logged,
}

/// The Twilio REST client.
#[derive(Debug, Clone)]
pub struct Twilio {
    http: reqwest::Client,
    base_url: String,
    credentials: Option<(String, SecretString)>,
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
}

/// Twilio's error body: `{"code": 21422, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

impl Twilio {
    /// Builds the client; without an account SID and auth token, texts are logged instead
    /// of sent and the number and call requests answer [`TwilioError::NotConfigured`].
    pub fn new(config: &TwilioConfig) -> anyhow::Result<Self> {
        let credentials = match (&config.account_sid, &config.auth_token) {
            (Some(sid), Some(token)) => Some((sid.clone(), token.clone())),
            _ => None,
        };
        Ok(Self { http: http_client(REQUEST_TIMEOUT)?, base_url: config.base_url.clone(), credentials })
    }

    /// Whether the REST API can be used (account SID and auth token are set).
    pub fn is_configured(&self) -> bool {
        self.credentials.is_some()
    }

    /// `{base}/2010-04-01/Accounts/{sid}/{path}`.
    fn account_url(&self, path: &str) -> Result<String, TwilioError> {
        let (account_sid, _) = self.credentials.as_ref().ok_or(TwilioError::NotConfigured)?;
        Ok(format!("{}/2010-04-01/Accounts/{account_sid}/{path}", self.base_url))
    }

    /// Sends the request `build` makes (again for each retry) and reads the JSON answer;
    /// an empty answer (a DELETE's 204) reads as JSON `null`.
    async fn send<T: DeserializeOwned>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, TwilioError> {
        let (account_sid, token) = self.credentials.as_ref().ok_or(TwilioError::NotConfigured)?;
        let started = std::time::Instant::now();
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        let result = loop {
            let sent = build(&self.http).basic_auth(account_sid, Some(token.expose_secret())).send().await;
            let response = match sent {
                Ok(response) => response,
                // Refused connections never reached Twilio: safe to try again.
                Err(error) if error.is_connect() && attempt < ATTEMPTS => {
                    tracing::info!(attempt, %error, "Twilio unreachable; retrying");
                    tokio::time::sleep(pause).await;
                    (attempt, pause) = (attempt + 1, pause * 2);
                    continue;
                }
                Err(error) => break Err(TwilioError::Transport(error.into())),
            };
            let status = response.status();
            if (status.as_u16() == 429 || status.is_server_error()) && attempt < ATTEMPTS {
                let asked = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                tracing::info!(attempt, %status, "Twilio asked us to retry");
                tokio::time::sleep(asked.unwrap_or(pause).min(LONGEST_PAUSE)).await;
                (attempt, pause) = (attempt + 1, pause * 2);
                continue;
            }
            break read_answer(response).await;
        };
        crate::telemetry::record_external("twilio", started, result.is_ok());
        result
    }

    /// Sends an SMS from `from` to `to`.
    #[tracing::instrument(skip_all)]
    pub async fn send_sms(&self, from: &str, to: &str, body: &str) -> anyhow::Result<SmsDelivery> {
        if !self.is_configured() {
            tracing::info!(chars = body.len(), "SMS not sent (Twilio is not configured)");
            return Ok(SmsDelivery::Logged);
        }
        let url = self.account_url("Messages.json")?;
        let message: MessageResource =
            self.send(|http| http.post(&url).form(&[("To", to), ("From", from), ("Body", body)])).await?;
        Ok(SmsDelivery::Sent(message.sid))
    }
}

/// The JSON of a 2xx answer, or Twilio's error message.
async fn read_answer<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, TwilioError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| TwilioError::Transport(e.into()))?;
    if !status.is_success() {
        let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
        let code = parsed.as_ref().and_then(|b| b.code);
        let message = parsed.and_then(|b| b.message).unwrap_or_else(|| format!("HTTP {status}"));
        return Err(TwilioError::Api { status: status.as_u16(), code, message });
    }
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body).map_err(|e| TwilioError::Transport(anyhow::anyhow!("unreadable answer: {e}")))
}
