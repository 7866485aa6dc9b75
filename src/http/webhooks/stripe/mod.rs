//! `POST /api/webhooks/stripe/webhook`: Stripe tells us about subscriptions and payments.
//!
//! The signature is checked over the raw body before anything is parsed. Each event id is
//! recorded in the same transaction as its effect, so a redelivery changes nothing. Events
//! can arrive out of order: a status is only written by an event created no earlier than
//! the one (or the local change) that wrote the current status; the one exception is a
//! subscription's deletion, which is final at Stripe. Events about another subscription than
//! the business's current one change nothing while the current one lives.

pub mod signature;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{AppError, Result};
use crate::http::extract::AppJson;
use crate::jobs::{self, numbers::ProvisionNumber};

/// Routes under `/api/webhooks/stripe`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_event))
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

#[derive(Debug, Deserialize)]
struct CheckoutSession {
    customer: Option<String>,
    subscription: Option<String>,
    /// `paid`, `unpaid` (an asynchronous payment still pending) or `no_payment_required`.
    payment_status: Option<String>,
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: Option<String>,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Invoice {
    customer: Option<String>,
    subscription: Option<String>,
}

/// The event was received (and applied once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
    /// Present (true) when the event had already been processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

/// Verifies, deduplicates and applies one Stripe event.
#[utoipa::path(
    post,
    path = "/webhook",
    tag = "webhooks",
    summary = "Stripe: an event",
    request_body(content = Value, description = "A Stripe event: `id`, `type`, `created` and `data.object` are read; the rest is ignored"),
    params(("Stripe-Signature" = String, Header, description = "t=...,v1=...")),
    responses((status = 200, body = WebhookReceived), (status = 400, description = "Bad signature or unreadable event", body = crate::http::error::ErrorBody), (status = 503, description = "Webhooks not configured", body = crate::http::error::ErrorBody))
)]
#[tracing::instrument(skip_all, fields(stripe.event))]
async fn receive_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<AppJson<WebhookReceived>> {
    let Some(secret) = &state.config.stripe.webhook_secret else {
        return Err(AppError::ServiceUnavailable("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)".into()));
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| AppError::BadRequest("missing Stripe-Signature header".into()))?;
    signature::verify(&body, header, secret.expose_secret(), Utc::now().timestamp()).map_err(|error| {
        tracing::warn!(%error, "refused a Stripe webhook");
        AppError::BadRequest(format!("invalid Stripe signature: {error}"))
    })?;
    let event: Event =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("unreadable Stripe event: {e}")))?;
    tracing::Span::current().record("stripe.event", event.id.as_str());
    let created = DateTime::from_timestamp(event.created, 0)
        .ok_or_else(|| AppError::BadRequest("Stripe event `created` is out of range".into()))?;

    let mut tx = state.db.begin().await?;
    let first_delivery = sqlx::query!(
        "INSERT INTO stripe_events (id, type, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        event.id,
        event.kind,
        created
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first_delivery {
        tracing::info!(kind = %event.kind, "Stripe event already processed");
        return Ok(AppJson(WebhookReceived { received: true, duplicate: Some(true) }));
    }
    apply(&state, &mut tx, &event, created).await?;
    tx.commit().await?;
    Ok(AppJson(WebhookReceived { received: true, duplicate: None }))
}

fn object<T: DeserializeOwned>(event: &Event) -> Result<T> {
    serde_json::from_value(event.data.object.clone())
        .map_err(|e| AppError::BadRequest(format!("unreadable `{}` object: {e}", event.kind)))
}

async fn apply(
    state: &AppState,
    tx: &mut Transaction<'_, Postgres>,
    event: &Event,
    created: DateTime<Utc>,
) -> Result<()> {
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session: CheckoutSession = object(event)?;
            let reference = session.metadata.get("deskringer_customer_id").or(session.client_reference_id.as_ref());
            let Some(id) = find_customer(tx, reference, None, session.customer.as_deref()).await? else {
                return unmatched(event);
            };
            sqlx::query!(
                "UPDATE customers SET stripe_customer_id = coalesce(stripe_customer_id, $2), \
                 stripe_subscription_id = coalesce($3, stripe_subscription_id), updated_at = now() WHERE id = $1",
                id,
                session.customer,
                session.subscription
            )
            .execute(&mut **tx)
            .await?;
            match session.payment_status.as_deref() {
                Some("paid" | "no_payment_required") => {
                    set_status(tx, id, "active", created).await?;
                    provision_number_if_none(state, tx, id).await
                }
                other => {
                    tracing::info!(customer.id = id, payment_status = ?other, "checkout completed, payment not yet made");
                    Ok(())
                }
            }
        }
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            let subscription: SubscriptionObject = object(event)?;
            let reference = subscription.metadata.get("deskringer_customer_id");
            let Some(id) =
                find_customer(tx, reference, Some(&subscription.id), subscription.customer.as_deref()).await?
            else {
                return unmatched(event);
            };
            let (current, current_status) = subscription_of(tx, id).await?;
            let names_current = current.as_deref().is_none_or(|current| current == subscription.id);
            let deleted = event.kind == "customer.subscription.deleted";
            // Another subscription's deletion, or news of one while the current lives: ignored.
            if !names_current && (deleted || !has_ended(&current_status)) {
                tracing::info!(customer.id = id, "Stripe event about another subscription; ignored");
                return Ok(());
            }
            let status = if deleted {
                "cancelled"
            } else {
                local_status(&subscription.status, subscription.cancel_at_period_end)
            };
            // The id is written under the same ordering rule as the status (deletions aside).
            sqlx::query!(
                "UPDATE customers SET stripe_subscription_id = $2, \
                 stripe_customer_id = coalesce(stripe_customer_id, $3) \
                 WHERE id = $1 AND ($5 OR subscription_status_at IS NULL OR subscription_status_at <= $4)",
                id,
                subscription.id,
                subscription.customer,
                created,
                deleted
            )
            .execute(&mut **tx)
            .await?;
            if deleted { end_subscription(tx, id, created).await } else { set_status(tx, id, status, created).await }
        }
        "invoice.payment_succeeded" | "invoice.payment_failed" => {
            let invoice: Invoice = object(event)?;
            let Some(id) =
                find_customer(tx, None, invoice.subscription.as_deref(), invoice.customer.as_deref()).await?
            else {
                return unmatched(event);
            };
            let (subscription, current) = subscription_of(tx, id).await?;
            if let (Some(current_id), Some(invoiced)) = (&subscription, &invoice.subscription)
                && current_id != invoiced
            {
                tracing::info!(customer.id = id, "Stripe invoice for another subscription; ignored");
                return Ok(());
            }
            // A payment never revives a subscription that is ending or has ended.
            if current == "cancelling" || has_ended(&current) {
                return Ok(());
            }
            let status = if event.kind == "invoice.payment_succeeded" { "active" } else { "past_due" };
            set_status(tx, id, status, created).await
        }
        other => {
            tracing::info!(kind = other, "Stripe event type not handled; acknowledged");
            Ok(())
        }
    }
}

/// With `AUTO_PROVISION_NUMBERS`, a business that has just paid and has no number gets one
/// bought by a job (enqueued in the event's transaction, so a redelivery adds nothing).
async fn provision_number_if_none(state: &AppState, tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<()> {
    if !state.config.twilio.auto_provision_numbers {
        return Ok(());
    }
    // Active now: an older checkout event than the status's (delivered late) buys nothing.
    let needs_number = sqlx::query_scalar!(
        r#"SELECT deskringer_number IS NULL AND subscription_status = 'active' AS "needs_number!"
           FROM customers WHERE id = $1"#,
        id
    )
    .fetch_one(&mut **tx)
    .await?;
    if needs_number {
        let job = ProvisionNumber { customer_id: id };
        jobs::enqueue(&state.db, tx, job, format!("provision-number-{id}")).await?;
        tracing::info!(customer.id = id, "a number will be bought for the new subscriber");
    }
    Ok(())
}

fn unmatched(event: &Event) -> Result<()> {
    tracing::warn!(kind = %event.kind, "Stripe event matches no business; acknowledged");
    Ok(())
}

/// DeskRinger's status for a Stripe subscription status.
fn local_status(stripe_status: &str, cancel_at_period_end: bool) -> &'static str {
    match stripe_status {
        "active" | "trialing" if cancel_at_period_end => "cancelling",
        "active" => "active",
        "trialing" => "trialing",
        "past_due" => "past_due",
        "unpaid" => "unpaid",
        "canceled" => "cancelled",
        "incomplete" => "incomplete",
        "incomplete_expired" => "incomplete_expired",
        "paused" => "paused",
        _ => "incomplete",
    }
}

/// The business an event is about: by our id in metadata, else by subscription, else by
/// Stripe customer.
async fn find_customer(
    tx: &mut Transaction<'_, Postgres>,
    reference: Option<&String>,
    subscription: Option<&str>,
    stripe_customer: Option<&str>,
) -> Result<Option<i64>> {
    if let Some(id) = reference.and_then(|r| r.parse::<i64>().ok()) {
        let found = sqlx::query_scalar!("SELECT id FROM customers WHERE id = $1", id).fetch_optional(&mut **tx).await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let found = sqlx::query_scalar!(
        "SELECT id FROM customers WHERE ($1::text IS NOT NULL AND stripe_subscription_id = $1) \
         OR ($2::text IS NOT NULL AND stripe_customer_id = $2) ORDER BY (stripe_subscription_id = $1) DESC NULLS LAST LIMIT 1",
        subscription,
        stripe_customer
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found)
}

/// The business's current Stripe subscription id and its status.
async fn subscription_of(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<(Option<String>, String)> {
    let row = sqlx::query!("SELECT stripe_subscription_id, subscription_status FROM customers WHERE id = $1", id)
        .fetch_one(&mut **tx)
        .await?;
    Ok((row.stripe_subscription_id, row.subscription_status))
}

/// Whether a status means the subscription is over.
fn has_ended(status: &str) -> bool {
    matches!(status, "cancelled" | "canceled" | "incomplete_expired")
}

/// A deletion at Stripe is final: the business is cancelled whatever changed locally since
/// the event was created (an admin's cancel-at-period-end, say). Later events still order
/// after the newest of the two.
async fn end_subscription(tx: &mut Transaction<'_, Postgres>, id: i64, at: DateTime<Utc>) -> Result<()> {
    sqlx::query!(
        "UPDATE customers SET subscription_status = 'cancelled', past_due_since = NULL, \
                cancelled_at = coalesce(cancelled_at, $2), \
                subscription_status_at = greatest(subscription_status_at, $2), updated_at = now() \
         WHERE id = $1",
        id,
        at
    )
    .execute(&mut **tx)
    .await?;
    tracing::info!(customer.id = id, "subscription deleted at Stripe; business cancelled");
    Ok(())
}

/// Writes `status` unless a newer event or local change already wrote one.
async fn set_status(tx: &mut Transaction<'_, Postgres>, id: i64, status: &str, at: DateTime<Utc>) -> Result<()> {
    let updated = sqlx::query!(
        "UPDATE customers SET subscription_status = $2, subscription_status_at = $3, \
                past_due_since = CASE WHEN $2 = 'past_due' THEN coalesce(past_due_since, $3) ELSE NULL END, \
                cancelled_at = CASE WHEN $2 = 'cancelled' THEN coalesce(cancelled_at, $3) ELSE cancelled_at END, \
                updated_at = now() \
         WHERE id = $1 AND (subscription_status_at IS NULL OR subscription_status_at <= $3)",
        id,
        status,
        at
    )
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        tracing::info!(customer.id = id, status, "Stripe event older than the current status; status kept");
    } else {
        tracing::info!(customer.id = id, status, "subscription status updated from Stripe");
    }
    Ok(())
}
