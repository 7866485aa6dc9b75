//! A new business sets itself up: the checklist of what is still missing
//! (`GET /api/portal/onboarding`) and its own subscription checkout (`POST /api/portal/subscribe`).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::current;
use crate::db::customers::Customer;
use crate::http::AppState;
use crate::http::billing::{CheckoutReturn, CheckoutSession, checkout_session};
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, Result};
use crate::http::extract::{AppJson, AppQuery, CustomerUser};

/// Routes under `/api/portal`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_onboarding)).routes(routes!(subscribe))
}

/// Statuses of a business that pays (or is set to, until the period ends).
const SUBSCRIBED: &[&str] = &["active", "trialing", "cancelling", "past_due"];

/// One step of setting up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnboardingStep {
    /// Stable identifier: `business_details`, `hours`, `greeting`, `services_faqs`,
    /// `forward_number`, `notifications`, `subscription`, `phone_number`, `test_call`.
    pub key: &'static str,
    /// What the step is, for the page.
    pub title: &'static str,
    pub done: bool,
    /// What is still missing (only when not done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// The checklist, in the order a business works through it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Onboarding {
    pub steps: Vec<OnboardingStep>,
    /// Every step is done.
    pub complete: bool,
}

/// What the checklist reads besides the business's own fields.
pub struct Progress {
    /// The business has a Stripe subscription in a paying state.
    pub subscribed: bool,
    /// The owner has answered a test call.
    pub test_call_answered: bool,
    /// The status of the business's connected calendar, if it has one.
    pub calendar_status: Option<String>,
}

/// The checklist of `customer`, derived from its data (nothing about it is stored).
pub fn checklist(customer: &Customer, progress: &Progress) -> Onboarding {
    let filled = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    let step = |key, title, missing: Vec<&str>| OnboardingStep {
        key,
        title,
        done: missing.is_empty(),
        missing: (!missing.is_empty()).then(|| missing.join(", ")),
    };
    let when = |done: bool, missing: &'static str| if done { vec![] } else { vec![missing] };

    let mut details = Vec::new();
    if !filled(&customer.contact_name) {
        details.push("contact name");
    }
    if !filled(&customer.phone) {
        details.push("business phone");
    }
    if !filled(&customer.business_type) {
        details.push("business type");
    }
    let has_faqs = customer.faqs.as_ref().and_then(|faqs| faqs.parse()).is_some_and(|faqs| !faqs.is_empty());
    let has_hours = customer.business_hours.as_ref().is_some_and(|hours| hours.parse().is_some());
    let mut steps = vec![
        step("business_details", "Business details", details),
        step("hours", "Opening hours", when(has_hours, "opening hours for the week")),
        step("greeting", "Greeting", when(filled(&customer.greeting_message), "the greeting callers hear")),
        step(
            "services_faqs",
            "Services and FAQs",
            when(
                filled(&customer.services_offered) || has_faqs,
                "the services you offer or answers to common questions",
            ),
        ),
        step(
            "forward_number",
            "Transfer number",
            when(filled(&customer.forward_to_number), "a number to transfer callers who ask for a person"),
        ),
        step(
            "notifications",
            "Call notifications",
            when(
                filled(&customer.notification_email) || filled(&customer.notification_phone),
                "an email address or mobile number for call summaries",
            ),
        ),
        step("subscription", "Subscription", when(progress.subscribed, "a subscription (subscribe from this page)")),
        step(
            "phone_number",
            "DeskRinger number",
            when(filled(&customer.deskringer_number), "a DeskRinger number (given when you subscribe)"),
        ),
        step("test_call", "Test call", when(progress.test_call_answered, "a test call to hear your receptionist")),
    ];
    // A receptionist that books needs something to book.
    if crate::profile::AppointmentHandling::from_db(&customer.appointment_handling)
        == crate::profile::AppointmentHandling::Book
    {
        let has_services = customer
            .booking
            .as_ref()
            .and_then(|booking| booking.parse())
            .is_some_and(|booking| !booking.services.is_empty());
        let booking = step("booking", "Services to book", when(has_services, "at least one service callers can book"));
        steps.insert(4, booking);
    }
    // A connected calendar that Google stopped accepting needs the owner: until then the
    // receptionist takes details instead of booking.
    if let Some(status) = &progress.calendar_status {
        let connected = status == "connected";
        let calendar = step(
            "calendar",
            "Connected calendar",
            when(connected, "connect your calendar again (it no longer accepts DeskRinger's access)"),
        );
        steps.push(calendar);
    }
    let complete = steps.iter().all(|step| step.done);
    Onboarding { steps, complete }
}

/// `GET /api/portal/onboarding`: what the business has set up and what is still missing.
#[utoipa::path(
    get,
    path = "/onboarding",
    tag = "portal",
    summary = "The set-up checklist",
    responses((status = 200, body = Onboarding), AuthErrors),
    security(("customer_token" = []))
)]
async fn get_onboarding(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<Onboarding>> {
    let customer = current(&state, user).await?;
    let test_call_answered = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM calls WHERE customer_id = $1 AND is_test) AS "answered!""#,
        customer.id
    )
    .fetch_one(&state.db)
    .await?;
    let calendar_status =
        sqlx::query_scalar!("SELECT status FROM calendar_connections WHERE customer_id = $1", customer.id)
            .fetch_optional(&state.db)
            .await?;
    let progress =
        Progress { subscribed: is_subscribed(&state, customer.id).await?, test_call_answered, calendar_status };
    Ok(AppJson(checklist(&customer, &progress)))
}

/// Whether business `id` has a Stripe subscription in a paying state.
async fn is_subscribed(state: &AppState, id: i64) -> Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT stripe_subscription_id IS NOT NULL AND subscription_status = ANY($2) AS "subscribed!"
           FROM customers WHERE id = $1"#,
        id,
        &SUBSCRIBED.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(AppError::Unauthorized("invalid or expired token"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SubscribeQuery {
    /// `app`: Stripe sends the browser back to the web app (`/app/?checkout=success#/home`
    /// or `/app/?checkout=cancelled#/home`) instead of the portal. No other value is accepted.
    return_to: Option<String>,
}

/// `POST /api/portal/subscribe`: a Stripe checkout for the business's own subscription (the
/// same price and tags as the admin's). Paying makes the business active (the Stripe
/// webhook), and with `AUTO_PROVISION_NUMBERS` gets it a number.
#[utoipa::path(
    post,
    path = "/subscribe",
    tag = "portal",
    summary = "Subscribe: a Stripe checkout",
    params(SubscribeQuery),
    responses((status = 200, body = CheckoutSession), (status = 409, description = "Already subscribed", body = ErrorBody), (status = 502, description = "Stripe failed", body = ErrorBody), (status = 503, description = "Billing not configured", body = ErrorBody), InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn subscribe(
    user: CustomerUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<SubscribeQuery>,
) -> Result<AppJson<CheckoutSession>> {
    let to = CheckoutReturn::from_query(query.return_to.as_deref())?;
    if is_subscribed(&state, user.id).await? {
        return Err(AppError::Conflict("this business already has a subscription".into()));
    }
    Ok(AppJson(checkout_session(&state, user.id, to).await?))
}
