//! Twilio's REST API: sending SMS. (Voice webhooks are answered in `webhooks::twilio`.)

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{error_for_status, http_client};
use crate::config::TwilioConfig;

/// Longest an SMS request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

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

impl Twilio {
    /// Builds the client; without an account SID texts are logged instead of sent.
    pub fn new(config: &TwilioConfig) -> anyhow::Result<Self> {
        let credentials = match (&config.account_sid, &config.auth_token) {
            (Some(sid), Some(token)) => Some((sid.clone(), token.clone())),
            _ => None,
        };
        Ok(Self { http: http_client(REQUEST_TIMEOUT)?, base_url: config.base_url.clone(), credentials })
    }

    /// Sends an SMS from `from` to `to`.
    #[tracing::instrument(skip_all)]
    pub async fn send_sms(&self, from: &str, to: &str, body: &str) -> anyhow::Result<SmsDelivery> {
        let Some((account_sid, token)) = &self.credentials else {
            tracing::info!(chars = body.len(), "SMS not sent (Twilio is not configured)");
            return Ok(SmsDelivery::Logged);
        };
        let started = std::time::Instant::now();
        let result = self.send_sms_unrecorded(account_sid, token, from, to, body).await;
        crate::telemetry::record_external("twilio", started, result.is_ok());
        result
    }

    async fn send_sms_unrecorded(
        &self,
        account_sid: &str,
        token: &SecretString,
        from: &str,
        to: &str,
        body: &str,
    ) -> anyhow::Result<SmsDelivery> {
        let response = self
            .http
            .post(format!("{}/2010-04-01/Accounts/{account_sid}/Messages.json", self.base_url))
            .basic_auth(account_sid, Some(token.expose_secret()))
            .form(&[("To", to), ("From", from), ("Body", body)])
            .send()
            .await
            .context("Twilio request failed")?;
        let response = error_for_status("Twilio", response).await?;
        let message: MessageResource = response.json().await.context("Twilio answered malformed JSON")?;
        Ok(SmsDelivery::Sent(message.sid))
    }
}
