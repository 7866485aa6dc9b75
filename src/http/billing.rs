//! `/api/stripe`: staff bill a business through Stripe.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clients::stripe::{Stripe, StripeError};
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, NotFound, Result};
use crate::http::extract::{AdminUser, AppJson, AppPath};

/// Routes under `/api/stripe`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_payment_link))
        .routes(routes!(create_checkout_session))
        .routes(routes!(get_subscription_status))
        .routes(routes!(cancel_subscription))
}

impl From<StripeError> for AppError {
    fn from(error: StripeError) -> Self {
        tracing::warn!(%error, "Stripe call failed");
        match error {
            StripeError::Api { message, .. } => AppError::BadGateway(format!("Stripe: {message}")),
            StripeError::Transport(_) => AppError::BadGateway("Stripe could not be reached".into()),
        }
    }
}

fn stripe(state: &AppState) -> Result<&Stripe> {
    state
        .clients
        .stripe
        .as_ref()
        .ok_or_else(|| AppError::ServiceUnavailable("billing is not configured (set STRIPE_SECRET_KEY)".into()))
}

fn price(state: &AppState) -> Result<&str> {
    state
        .config
        .stripe
        .price_id
        .as_deref()
        .ok_or_else(|| AppError::ServiceUnavailable("billing is not configured (set STRIPE_PRICE_ID)".into()))
}

#[derive(sqlx::FromRow)]
struct BillingRow {
    email: String,
    business_name: String,
    stripe_customer_id: Option<String>,
    stripe_subscription_id: Option<String>,
    subscription_status: String,
}

async fn billing_row(state: &AppState, id: i64) -> Result<BillingRow> {
    sqlx::query_as!(
        BillingRow,
        "SELECT email, business_name, stripe_customer_id, stripe_subscription_id, subscription_status \
         FROM customers WHERE id = $1",
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::NotFound("customer not found".into()))
}

/// The business's Stripe customer id, creating the Stripe customer on first need. Stripe's
/// idempotency key makes concurrent first requests return one customer.
async fn ensure_stripe_customer(state: &AppState, stripe: &Stripe, id: i64, row: &BillingRow) -> Result<String> {
    if let Some(existing) = &row.stripe_customer_id {
        return Ok(existing.clone());
    }
    let created = stripe.create_customer(id, &row.email, &row.business_name).await?;
    let stored = sqlx::query_scalar!(
        r#"UPDATE customers SET stripe_customer_id = coalesce(stripe_customer_id, $2), updated_at = now()
           WHERE id = $1 RETURNING stripe_customer_id AS "stripe_customer_id!""#,
        id,
        created.id
    )
    .fetch_one(&state.db)
    .await?;
    Ok(stored)
}

/// What both ways of paying need: the client, the price and the business's Stripe
/// customer (created on first need).
async fn billing_customer(state: &AppState, id: i64) -> Result<(&Stripe, &str, String)> {
    let stripe = stripe(state)?;
    let price = price(state)?;
    let row = billing_row(state, id).await?;
    let stripe_customer_id = ensure_stripe_customer(state, stripe, id, &row).await?;
    Ok((stripe, price, stripe_customer_id))
}

/// Where Stripe sends the browser back to after checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckoutReturn {
    /// The portal (`PORTAL_URL`, else the admin dashboard, else the API): `/billing/success`
    /// and `/billing/cancelled`.
    #[default]
    Portal,
    /// The web app this server serves at `/app/`, on its home screen, which shows the outcome.
    App,
}

impl CheckoutReturn {
    /// Reads a `return_to` query value. Only the fixed value `app` is accepted, never a URL:
    /// a checkout must not send a business's browser anywhere the client names.
    pub fn from_query(raw: Option<&str>) -> Result<Self> {
        match raw.map(str::trim) {
            None | Some("") => Ok(CheckoutReturn::Portal),
            Some("app") => Ok(CheckoutReturn::App),
            Some(_) => Err(AppError::invalid_field("return_to", "must be `app`, or left out for the portal")),
        }
    }
}

/// Where Stripe sends the business back to after checkout.
fn return_urls(state: &AppState, to: CheckoutReturn) -> (String, String) {
    if to == CheckoutReturn::App {
        let base = state.config.api_base_url.trim_end_matches('/');
        // The query comes before the fragment, so the app's hash route stays `#/home`.
        return (
            format!("{base}/app/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}#/home"),
            format!("{base}/app/?checkout=cancelled#/home"),
        );
    }
    let base = state
        .config
        .portal_url
        .clone()
        .or_else(|| state.config.admin_dashboard_url.clone())
        .unwrap_or_else(|| state.config.api_base_url.clone());
    let base = base.trim_end_matches('/');
    (format!("{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}"), format!("{base}/billing/cancelled"))
}

/// A Stripe payment link tagged with the business.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentLink {
    pub payment_link: String,
    pub stripe_customer_id: String,
}

/// A Stripe Checkout session for the business's subscription.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckoutSession {
    pub checkout_url: String,
    pub session_id: String,
}

/// A business's subscription: Stripe's view when there is one, else the local status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionStatus {
    pub status: String,
    pub has_stripe_subscription: bool,
    /// Only with a Stripe subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<Option<DateTime<Utc>>>,
    /// Only with a Stripe subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_at_period_end: Option<bool>,
}

/// When the subscription ends.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CancelledSubscription {
    pub message: &'static str,
    pub cancel_at: Option<DateTime<Utc>>,
}

/// `POST /api/stripe/create-payment-link/{id}`.
#[utoipa::path(
    post,
    path = "/create-payment-link/{id}",
    tag = "billing",
    summary = "A Stripe payment link for a business",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = PaymentLink), (status = 502, description = "Stripe failed", body = ErrorBody), (status = 503, description = "Billing not configured", body = ErrorBody), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn create_payment_link(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<PaymentLink>> {
    let (stripe, price, stripe_customer_id) = billing_customer(&state, id).await?;
    let link = stripe.create_payment_link(id, price).await?;
    // The reference travels with the checkout the link opens, so the webhook finds the business.
    let url = format!("{}?client_reference_id={id}", link.url);
    tracing::info!(customer.id = id, "payment link created");
    Ok(AppJson(PaymentLink { payment_link: url, stripe_customer_id }))
}

/// `POST /api/stripe/create-checkout-session/{id}`: a subscription checkout at `STRIPE_PRICE_ID`.
#[utoipa::path(
    post,
    path = "/create-checkout-session/{id}",
    tag = "billing",
    summary = "A Stripe subscription checkout for a business",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = CheckoutSession), (status = 502, description = "Stripe failed", body = ErrorBody), (status = 503, description = "Billing not configured", body = ErrorBody), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn create_checkout_session(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<CheckoutSession>> {
    Ok(AppJson(checkout_session(&state, id, CheckoutReturn::Portal).await?))
}

/// A subscription checkout for business `id` at `STRIPE_PRICE_ID`, tagged with the business
/// (the admin's route and the business's own "subscribe" open the same checkout).
pub async fn checkout_session(state: &AppState, id: i64, to: CheckoutReturn) -> Result<CheckoutSession> {
    let (stripe, price, stripe_customer_id) = billing_customer(state, id).await?;
    let (success_url, cancel_url) = return_urls(state, to);
    let session = stripe.create_checkout_session(id, &stripe_customer_id, price, &success_url, &cancel_url).await?;
    tracing::info!(customer.id = id, "checkout session created");
    Ok(CheckoutSession { checkout_url: session.url, session_id: session.id })
}

/// `GET /api/stripe/subscription-status/{id}`: Stripe's view when there is a subscription,
/// else the local status.
#[utoipa::path(
    get,
    path = "/subscription-status/{id}",
    tag = "billing",
    summary = "A business's subscription",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = SubscriptionStatus), (status = 502, description = "Stripe failed", body = ErrorBody), (status = 503, description = "Billing not configured", body = ErrorBody), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn get_subscription_status(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<SubscriptionStatus>> {
    let stripe = stripe(&state)?;
    let row = billing_row(&state, id).await?;
    let Some(subscription_id) = &row.stripe_subscription_id else {
        return Ok(AppJson(SubscriptionStatus {
            status: row.subscription_status,
            has_stripe_subscription: false,
            current_period_end: None,
            cancel_at_period_end: None,
        }));
    };
    let subscription = stripe.subscription(subscription_id).await?;
    Ok(AppJson(SubscriptionStatus {
        current_period_end: Some(subscription.current_period_end()),
        cancel_at_period_end: Some(subscription.cancel_at_period_end),
        status: subscription.status,
        has_stripe_subscription: true,
    }))
}

/// `POST /api/stripe/cancel-subscription/{id}`: ends the subscription at the end of the
/// period; the business is `cancelling` until then.
#[utoipa::path(
    post,
    path = "/cancel-subscription/{id}",
    tag = "billing",
    summary = "Cancel at the end of the period",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = CancelledSubscription), (status = 502, description = "Stripe failed", body = ErrorBody), (status = 503, description = "Billing not configured", body = ErrorBody), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn cancel_subscription(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<CancelledSubscription>> {
    let stripe = stripe(&state)?;
    let row = billing_row(&state, id).await?;
    let Some(subscription_id) = &row.stripe_subscription_id else {
        return Err(AppError::BadRequest("this customer has no Stripe subscription".into()));
    };
    let subscription = stripe.cancel_at_period_end(subscription_id).await?;
    sqlx::query!(
        "UPDATE customers SET subscription_status = 'cancelling', subscription_status_at = now(), updated_at = now() \
         WHERE id = $1",
        id
    )
    .execute(&state.db)
    .await?;
    let cancel_at = subscription
        .cancel_at
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .or_else(|| subscription.current_period_end());
    tracing::info!(customer.id = id, "subscription set to cancel at period end");
    Ok(AppJson(CancelledSubscription {
        message: "Subscription will be cancelled at the end of the billing period",
        cancel_at,
    }))
}
