//! Stripe: the few API calls billing needs, as a thin typed client over the same reqwest
//! stack as the other clients (see the README for why not async-stripe's client).

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::http_client;
use crate::config::StripeConfig;

/// Longest a Stripe request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A failed Stripe call.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error; `message` is Stripe's own.
    #[error("Stripe error ({status}): {message}")]
    Api { status: u16, message: String },
    /// Stripe could not be reached or answered something unreadable.
    #[error("Stripe request failed: {0:#}")]
    Transport(anyhow::Error),
}

/// The Stripe client.
#[derive(Debug, Clone)]
pub struct Stripe {
    http: reqwest::Client,
    base_url: String,
    secret_key: SecretString,
}

/// A Stripe customer (only what we use).
#[derive(Debug, Deserialize)]
pub struct Customer {
    /// `cus_...`.
    pub id: String,
}

/// A URL Stripe hosts (checkout session or payment link).
#[derive(Debug, Deserialize)]
pub struct HostedPage {
    /// `cs_...` or `plink_...`.
    pub id: String,
    /// Where to send the business.
    pub url: String,
}

/// A subscription (only what we use).
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    /// `sub_...`.
    pub id: String,
    /// Stripe's status: `active`, `past_due`, `canceled`, ...
    pub status: String,
    /// Whether it ends at the end of the period.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// When it is set to end, Unix seconds.
    #[serde(default)]
    pub cancel_at: Option<i64>,
    /// End of the current period, Unix seconds (older API versions put it here).
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    items: Option<SubscriptionItems>,
}

#[derive(Debug, Clone, Deserialize)]
struct SubscriptionItems {
    #[serde(default)]
    data: Vec<SubscriptionItem>,
}

#[derive(Debug, Clone, Deserialize)]
struct SubscriptionItem {
    #[serde(default)]
    current_period_end: Option<i64>,
}

impl Subscription {
    /// End of the current period (newer API versions keep it on the subscription items).
    pub fn current_period_end(&self) -> Option<DateTime<Utc>> {
        let seconds = self.current_period_end.or_else(|| {
            self.items.as_ref().and_then(|items| items.data.iter().find_map(|item| item.current_period_end))
        })?;
        DateTime::from_timestamp(seconds, 0)
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

impl Stripe {
    /// Builds the client when a secret key is configured.
    pub fn new(config: &StripeConfig) -> anyhow::Result<Option<Self>> {
        let Some(secret_key) = config.secret_key.clone() else { return Ok(None) };
        Ok(Some(Self { http: http_client(REQUEST_TIMEOUT)?, base_url: config.base_url.clone(), secret_key }))
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, StripeError> {
        let started = std::time::Instant::now();
        let result = self.send_unrecorded(request).await;
        crate::telemetry::record_external("stripe", started, result.is_ok());
        result
    }

    async fn send_unrecorded<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, StripeError> {
        let response = request
            .basic_auth(self.secret_key.expose_secret(), None::<&str>)
            .send()
            .await
            .map_err(|e| StripeError::Transport(e.into()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| StripeError::Transport(e.into()))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .ok()
                .and_then(|b| b.error.message)
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(StripeError::Api { status: status.as_u16(), message });
        }
        serde_json::from_slice(&body).map_err(|e| StripeError::Transport(anyhow::anyhow!("unreadable answer: {e}")))
    }

    fn post(&self, path: &str, form: &[(&str, String)], idempotency_key: Option<&str>) -> reqwest::RequestBuilder {
        let mut request = self.http.post(format!("{}/v1/{path}", self.base_url)).form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request
    }

    /// Creates the Stripe customer of business `deskringer_id`. The idempotency key makes a
    /// repeated request (a double click) return the same customer instead of a second one.
    pub async fn create_customer(&self, deskringer_id: i64, email: &str, name: &str) -> Result<Customer, StripeError> {
        let form = [
            ("email", email.to_owned()),
            ("name", name.to_owned()),
            ("metadata[deskringer_customer_id]", deskringer_id.to_string()),
        ];
        let key = format!("deskringer-customer-{deskringer_id}");
        self.send(self.post("customers", &form, Some(&key))).await
    }

    /// A subscription checkout for `customer` at `price`.
    pub async fn create_checkout_session(
        &self,
        deskringer_id: i64,
        customer: &str,
        price: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<HostedPage, StripeError> {
        let id = deskringer_id.to_string();
        let form = [
            ("mode", "subscription".to_owned()),
            ("customer", customer.to_owned()),
            ("line_items[0][price]", price.to_owned()),
            ("line_items[0][quantity]", "1".to_owned()),
            ("success_url", success_url.to_owned()),
            ("cancel_url", cancel_url.to_owned()),
            ("client_reference_id", id.clone()),
            ("metadata[deskringer_customer_id]", id.clone()),
            ("subscription_data[metadata][deskringer_customer_id]", id),
        ];
        self.send(self.post("checkout/sessions", &form, None)).await
    }

    /// A reusable payment link for `price`, tagged with the business.
    pub async fn create_payment_link(&self, deskringer_id: i64, price: &str) -> Result<HostedPage, StripeError> {
        let id = deskringer_id.to_string();
        let form = [
            ("line_items[0][price]", price.to_owned()),
            ("line_items[0][quantity]", "1".to_owned()),
            ("metadata[deskringer_customer_id]", id.clone()),
            ("subscription_data[metadata][deskringer_customer_id]", id),
        ];
        self.send(self.post("payment_links", &form, None)).await
    }

    /// A subscription by id.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        self.send(self.http.get(format!("{}/v1/subscriptions/{id}", self.base_url))).await
    }

    /// Sets a subscription to end at the end of its period.
    pub async fn cancel_at_period_end(&self, id: &str) -> Result<Subscription, StripeError> {
        let form = [("cancel_at_period_end", "true".to_owned())];
        self.send(self.post(&format!("subscriptions/{id}"), &form, None)).await
    }
}
