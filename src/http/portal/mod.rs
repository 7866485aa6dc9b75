//! `/api/portal`: a business reads and manages its own calls and tunes its receptionist.
//!
//! Every handler takes [`CustomerUser`] and filters by its id: a business only ever sees
//! and changes its own rows; another business's call answers 404, so ids cannot be probed.

mod appointments;
pub(crate) mod calendar;
pub(crate) mod calendar_calcom;
mod calendar_feed;
mod calls;
mod export;
mod onboarding;
mod test_call;

use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::customers::patch::{CustomerPatch, Settable};
use super::customers::{CustomerMessage, apply_patch};
use crate::auth::password::verify_password;
use crate::auth::{Principal, Role};
use crate::db::customers::{self, Customer};
use crate::http::AppState;
use crate::http::account::PasswordChanged;
use crate::http::account::{ChangePassword, Credentials};
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, Result};
use crate::http::extract::{AppJson, CustomerUser, is_cancelled};
use crate::http::figures;
use crate::http::login_limit::{ClientAddress, account_key};
use crate::receptionist::hours::{start_of_local_day, time_zone};

/// Routes under `/api/portal`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(get_current_customer))
        .routes(routes!(get_stats))
        .routes(routes!(update_settings))
        .routes(routes!(change_password))
        .merge(appointments::router())
        .merge(calendar::router())
        .merge(calendar_feed::router())
        .merge(calls::router())
        .merge(export::router())
        .merge(onboarding::router())
        .merge(test_call::router())
}

#[derive(FromRow)]
struct CustomerWithHash {
    #[sqlx(flatten)]
    customer: Customer,
    password_hash: Option<String>,
    token_generation: i32,
}

/// A signed-in business and its 24-hour token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerLogin {
    pub access_token: String,
    pub customer: Customer,
}

/// `POST /api/portal/login`: a 24-hour customer token. A business without a portal
/// password, a wrong email and a wrong password all answer the same 401.
#[utoipa::path(
    post,
    path = "/login",
    tag = "portal",
    summary = "Log in as a business",
    request_body = Credentials,
    responses((status = 200, body = CustomerLogin), (status = 401, description = "Wrong email or password", body = ErrorBody), (status = 403, description = "The business is cancelled", body = ErrorBody), (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody), (status = 503, description = "Too many password checks waiting; see Retry-After", body = ErrorBody), InputErrors)
)]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<AppJson<CustomerLogin>> {
    let (email, password) = credentials.required()?;
    state.login_limiter.check(address, &account_key(Role::Customer, &email))?;
    let found: Option<CustomerWithHash> = sqlx::query_as("SELECT * FROM customers WHERE lower(email) = lower($1)")
        .bind(&email)
        .fetch_optional(&state.db)
        .await?;
    let (customer, hash, generation) = match found {
        Some(row) => (Some(row.customer), row.password_hash, row.token_generation),
        None => (None, None, 0),
    };
    let verified = verify_password(password, hash).await?;
    let Some(customer) = customer.filter(|_| verified) else {
        tracing::info!("portal login failed");
        return Err(AppError::Unauthorized("invalid email or password"));
    };
    if is_cancelled(&customer.subscription_status) {
        tracing::info!(customer.id = customer.id, "portal login refused: business cancelled");
        return Err(AppError::Forbidden(
            "this business's DeskRinger account is cancelled; contact DeskRinger to reactivate it".into(),
        ));
    }
    sqlx::query!("UPDATE customers SET last_login = now() WHERE id = $1", customer.id).execute(&state.db).await?;
    let access_token = state.jwt.issue(Principal { role: Role::Customer, id: customer.id, generation })?;
    tracing::info!(customer.id = customer.id, "portal login");
    Ok(AppJson(CustomerLogin { access_token, customer }))
}

/// The signed-in business; a token for a business that no longer exists is refused.
async fn current(state: &AppState, user: CustomerUser) -> Result<Customer> {
    customers::find(&state.db, user.id).await?.ok_or(AppError::Unauthorized("invalid or expired token"))
}

/// `GET /api/portal/me`.
#[utoipa::path(
    get,
    path = "/me",
    tag = "portal",
    summary = "The signed-in business",
    responses((status = 200, body = Customer), AuthErrors),
    security(("customer_token" = []))
)]
async fn get_current_customer(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<Customer>> {
    Ok(AppJson(current(&state, user).await?))
}

#[derive(FromRow)]
struct PortalFigures {
    total_calls: i64,
    handled_calls: i64,
    calls_today: i64,
    avg_duration_seconds: Option<f64>,
}

/// The business's figures (archived calls excluded).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalStats {
    pub total_calls: i64,
    pub handled_calls: i64,
    pub unhandled_calls: i64,
    /// Calls since midnight in the business's time zone.
    pub calls_today: i64,
    /// Seconds, two decimals.
    pub avg_duration_seconds: f64,
    pub subscription_status: String,
    pub subscription_tier: String,
    /// Booked appointments still to come.
    pub appointments_upcoming: i64,
    /// Appointments the receptionist booked during calls in the last 30 days.
    pub appointments_booked_by_phone: i64,
    /// Calls refused in the last 30 days: blocked numbers and, when the business rejects
    /// them, callers whose caller ID failed verification (not in `total_calls`).
    pub blocked_calls: i64,
}

/// `GET /api/portal/stats`: archived calls excluded; "today" is the business's own day.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "portal",
    summary = "The business's figures",
    responses((status = 200, body = PortalStats), AuthErrors),
    security(("customer_token" = []))
)]
async fn get_stats(user: CustomerUser, State(state): State<AppState>) -> Result<AppJson<PortalStats>> {
    let customer = current(&state, user).await?;
    let zone = time_zone(&customer.timezone);
    let start_of_day = start_of_local_day(zone, Utc::now().with_timezone(&zone).date_naive());
    let figures: PortalFigures = sqlx::query_as!(
        PortalFigures,
        "SELECT count(*) AS \"total_calls!\", count(*) FILTER (WHERE handled) AS \"handled_calls!\", \
                count(*) FILTER (WHERE created_at >= $2) AS \"calls_today!\", \
                avg(duration_seconds)::float8 AS \"avg_duration_seconds?\" \
         FROM calls WHERE customer_id = $1 AND NOT archived AND NOT is_test",
        customer.id,
        start_of_day
    )
    .fetch_one(&state.db)
    .await?;
    let diary = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE status = 'booked' AND starts_at > now()) AS "upcoming!",
                  count(*) FILTER (WHERE source = 'call' AND created_at > now() - interval '30 days') AS "by_phone!"
           FROM appointments WHERE customer_id = $1"#,
        customer.id
    )
    .fetch_one(&state.db)
    .await?;
    let blocked_calls = sqlx::query_scalar!(
        r#"SELECT count(*) AS "blocked!" FROM blocked_calls
           WHERE customer_id = $1 AND created_at > now() - interval '30 days'"#,
        customer.id
    )
    .fetch_one(&state.db)
    .await?;
    Ok(AppJson(PortalStats {
        blocked_calls,
        appointments_upcoming: diary.upcoming,
        appointments_booked_by_phone: diary.by_phone,
        total_calls: figures.total_calls,
        handled_calls: figures.handled_calls,
        unhandled_calls: figures.total_calls - figures.handled_calls,
        calls_today: figures.calls_today,
        avg_duration_seconds: figures::average(figures.avg_duration_seconds.unwrap_or(0.0)),
        subscription_status: customer.subscription_status,
        subscription_tier: customer.subscription_tier,
    }))
}

/// `PUT /api/portal/settings`: validates everything, saves it whole or not at all, and
/// recompiles the receptionist's instructions.
#[utoipa::path(
    put,
    path = "/settings",
    tag = "portal",
    summary = "Change the business's settings",
    request_body(content = CustomerPatch, description = "Only what a business may change about itself: business_name, contact_name, phone, business_type, business_hours, holiday_hours, timezone, forward_to_number, greeting_message, services_offered, faqs, appointment_handling, booking, pricing_info, special_instructions, notification_email, notification_phone, notification_instructions, voice_mode, missed_call_text, languages, reject_unverified_callers; any other field is refused (422)"),
    responses((status = 200, body = CustomerMessage), InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn update_settings(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> Result<AppJson<CustomerMessage>> {
    current(&state, user).await?;
    let settings = CustomerPatch::from_body(body, Settable::Portal)?;
    let customer = apply_patch(&state, user.id, settings, true).await?;
    Ok(AppJson(CustomerMessage { message: "Settings updated", customer }))
}

/// `POST /api/portal/change-password`. A wrong current password is 400, not 401. Attempts
/// count against the login limits.
#[utoipa::path(
    post,
    path = "/change-password",
    tag = "portal",
    summary = "Change the portal password",
    request_body = ChangePassword,
    responses((status = 200, body = PasswordChanged), (status = 429, description = "Too many attempts on this account or from this address; see Retry-After", body = ErrorBody), InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn change_password(
    user: CustomerUser,
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    AppJson(input): AppJson<ChangePassword>,
) -> Result<AppJson<PasswordChanged>> {
    let account = sqlx::query!("SELECT email, password_hash FROM customers WHERE id = $1", user.id)
        .fetch_optional(&state.db)
        .await?;
    let Some(account) = account else {
        return Err(AppError::Unauthorized("invalid or expired token"));
    };
    let key = account_key(Role::Customer, &account.email);
    let new_hash = input.new_hash(account.password_hash, || state.login_limiter.check(address, &key)).await?;
    // The trigger moves the account to a new token generation: every older token ends.
    let generation = sqlx::query_scalar!(
        "UPDATE customers SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING token_generation",
        user.id,
        new_hash
    )
    .fetch_one(&state.db)
    .await?;
    state.standings.forget(Role::Customer, user.id);
    tracing::info!(customer.id = user.id, "portal password changed");
    let access_token = state.jwt.issue(Principal { role: Role::Customer, id: user.id, generation })?;
    Ok(AppJson(PasswordChanged::new(access_token)))
}
