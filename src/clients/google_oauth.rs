//! Google OAuth 2.0 for a business's calendar: the consent URL, the code exchange, access
//! tokens from the refresh token, revocation, and the account's calendar list.
//!
//! Tokens pass through here and are never logged: errors carry Google's `error` code only.

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::http_client;
use crate::config::CalendarConfig;

/// Longest a request to Google may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the business is asked to allow, and nothing wider (Google's scope list:
/// https://googleapis.dev/java/google-api-services-calendar/latest/com/google/api/services/calendar/CalendarScopes.html):
/// `calendar.events` "View and edit events on all your calendars" (to write bookings),
/// `calendar.events.freebusy` "See the availability on Google calendars you have access to"
/// (to offer free times), and `calendar.calendarlist.readonly` "See the list of Google
/// calendars you're subscribed to" (so the business can choose which calendars count).
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.events.freebusy",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
];

/// Why a Google call failed.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    /// The refresh token (or code) is no longer valid: revoked, expired, or the password
    /// changed. Only the business can fix it, by connecting again.
    #[error("Google refused the grant (invalid_grant): the calendar must be connected again")]
    InvalidGrant,
    /// Google answered with another error; the message holds its status and `error` code.
    #[error("Google answered {0}")]
    Api(String),
    /// Google could not be reached or its answer could not be read.
    #[error(transparent)]
    Transport(#[from] anyhow::Error),
}

/// Tokens from a code exchange.
#[derive(Deserialize)]
pub struct Tokens {
    /// Short-lived access token.
    pub access_token: SecretString,
    /// Long-lived refresh token; Google sends it with `access_type=offline&prompt=consent`.
    pub refresh_token: Option<SecretString>,
    /// Seconds the access token lives.
    pub expires_in: Option<i64>,
}

/// An access token got with a refresh token.
#[derive(Deserialize)]
pub struct AccessToken {
    /// The token.
    pub access_token: SecretString,
    /// Seconds it lives.
    pub expires_in: Option<i64>,
}

/// One calendar of the account.
#[derive(Debug, Clone, Deserialize)]
pub struct CalendarEntry {
    /// Google's id (`primary` names the main calendar in every API call).
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub summary: String,
    /// Whether it is the account's main calendar.
    #[serde(default)]
    pub primary: bool,
    /// `owner`, `writer`, `reader` or `freeBusyReader`.
    #[serde(default, rename = "accessRole")]
    pub access_role: String,
}

impl CalendarEntry {
    /// Whether events can be added to it.
    pub fn can_write(&self) -> bool {
        matches!(self.access_role.as_str(), "owner" | "writer")
    }
}

#[derive(Deserialize)]
struct CalendarList {
    #[serde(default)]
    items: Vec<CalendarEntry>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<serde_json::Value>,
}

/// The Google OAuth client.
#[derive(Debug, Clone)]
pub struct GoogleOAuth {
    http: reqwest::Client,
    oauth_url: String,
    token_url: String,
    api_url: String,
    client_id: String,
    client_secret: SecretString,
}

impl GoogleOAuth {
    /// The client, or `None` without `GOOGLE_CLIENT_ID` and `GOOGLE_CLIENT_SECRET`.
    pub fn new(config: &CalendarConfig) -> anyhow::Result<Option<Self>> {
        let Some((client_id, client_secret)) = config.google_client() else { return Ok(None) };
        Ok(Some(Self {
            http: http_client(REQUEST_TIMEOUT)?,
            oauth_url: config.google_oauth_url.clone(),
            token_url: config.google_token_url.clone(),
            api_url: config.google_calendar_api_url.clone(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.clone(),
        }))
    }

    /// The consent page's URL. `access_type=offline` and `prompt=consent` make Google send a
    /// refresh token every time, also to an account that allowed DeskRinger before.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &SCOPES.join(" "))
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("include_granted_scopes", "false")
            .append_pair("state", state)
            .finish();
        format!("{}/o/oauth2/v2/auth?{query}", self.oauth_url)
    }

    /// Exchanges the callback's `code` for tokens.
    #[tracing::instrument(skip_all)]
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<Tokens, GoogleError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        let response = self.send(self.http.post(format!("{}/token", self.token_url)).form(&form)).await?;
        response.json().await.context("unreadable Google token answer").map_err(GoogleError::from)
    }

    /// A fresh access token from the stored refresh token.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<AccessToken, GoogleError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        let response = self.send(self.http.post(format!("{}/token", self.token_url)).form(&form)).await?;
        response.json().await.context("unreadable Google token answer").map_err(GoogleError::from)
    }

    /// Revokes the grant (a refresh token revokes the whole grant). A token Google no
    /// longer knows counts as revoked.
    #[tracing::instrument(skip_all)]
    pub async fn revoke(&self, token: &str) -> Result<(), GoogleError> {
        let request = self.http.post(format!("{}/revoke", self.token_url)).form(&[("token", token)]);
        match self.send(request).await {
            Ok(_) | Err(GoogleError::InvalidGrant) => Ok(()),
            // What Google answers for a token already revoked or expired.
            Err(GoogleError::Api(message)) if message.ends_with("invalid_token") => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Every calendar of the account (following pages).
    #[tracing::instrument(skip_all)]
    pub async fn list_calendars(&self, access_token: &str) -> Result<Vec<CalendarEntry>, GoogleError> {
        let mut calendars = Vec::new();
        let mut page: Option<String> = None;
        // Bounded: an account with more than 20 pages of 250 calendars is not a business's.
        for _ in 0..20 {
            let mut request = self
                .http
                .get(format!("{}/calendar/v3/users/me/calendarList", self.api_url))
                .bearer_auth(access_token)
                .query(&[("maxResults", "250")]);
            if let Some(token) = &page {
                request = request.query(&[("pageToken", token)]);
            }
            let list: CalendarList =
                self.send(request).await?.json().await.context("unreadable Google calendar list")?;
            calendars.extend(list.items);
            page = list.next_page_token;
            if page.is_none() {
                break;
            }
        }
        Ok(calendars)
    }

    /// Sends `request`; a non-2xx answer becomes a [`GoogleError`] naming Google's `error`
    /// code (never the body: it may echo a token).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, GoogleError> {
        let started = std::time::Instant::now();
        let response = request.send().await.context("Google request failed");
        crate::telemetry::record_external("google", started, response.as_ref().is_ok_and(|r| r.status().is_success()));
        let response = response?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Option<ErrorBody> = response.json().await.ok();
        let code = match body.and_then(|b| b.error) {
            Some(serde_json::Value::String(code)) => code,
            // The Calendar API nests it: {"error": {"code": 401, "status": "UNAUTHENTICATED"}}.
            Some(serde_json::Value::Object(error)) => {
                error.get("status").and_then(|s| s.as_str()).unwrap_or_default().to_owned()
            }
            _ => String::new(),
        };
        if code == "invalid_grant" {
            return Err(GoogleError::InvalidGrant);
        }
        Err(GoogleError::Api(format!("{status} {code}").trim_end().to_owned()))
    }
}
