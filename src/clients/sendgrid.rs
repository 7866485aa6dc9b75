//! SendGrid: v3 `mail/send`. Without a key, emails are logged (recipient and subject only).

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{error_for_status, http_client};
use crate::config::EmailConfig;

/// Longest an email request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// One email, in plain text and HTML.
#[derive(Debug, Clone)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body; every user-provided value in it must already be escaped.
    pub html: String,
}

/// What became of an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// SendGrid accepted it.
    Sent,
    /// Email is not configured: it was logged instead.
    Logged,
}

/// The SendGrid client.
#[derive(Debug, Clone)]
pub struct SendGrid {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<SecretString>,
    from_email: String,
    from_name: String,
}

impl SendGrid {
    /// Builds the client.
    pub fn new(config: &EmailConfig) -> anyhow::Result<Self> {
        Ok(Self {
            http: http_client(REQUEST_TIMEOUT)?,
            base_url: config.sendgrid.base_url.clone(),
            api_key: config.sendgrid.api_key.clone(),
            from_email: config.from_email.clone(),
            from_name: config.from_name.clone(),
        })
    }

    /// Whether emails are really sent.
    pub fn is_enabled(&self) -> bool {
        self.api_key.is_some()
    }

    /// Sends `email`, or logs it when SendGrid is not configured.
    #[tracing::instrument(skip_all)]
    pub async fn send(&self, email: &Email) -> anyhow::Result<Delivery> {
        let Some(key) = &self.api_key else {
            tracing::info!(subject = %email.subject, "email not sent (SendGrid is not configured)");
            return Ok(Delivery::Logged);
        };
        let body = json!({
            "personalizations": [{"to": [{"email": email.to}]}],
            "from": {"email": self.from_email, "name": self.from_name},
            "subject": email.subject,
            "content": [
                {"type": "text/plain", "value": email.text},
                {"type": "text/html", "value": email.html},
            ],
        });
        let started = std::time::Instant::now();
        let response = self
            .http
            .post(format!("{}/v3/mail/send", self.base_url))
            .bearer_auth(key.expose_secret())
            .json(&body)
            .send()
            .await
            .context("SendGrid request failed");
        let result = match response {
            Ok(response) => error_for_status("SendGrid", response).await.map(|_| Delivery::Sent),
            Err(error) => Err(error),
        };
        crate::telemetry::record_external("sendgrid", started, result.is_ok());
        result
    }
}
