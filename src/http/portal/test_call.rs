//! `POST /api/portal/test-call`: the owner's own phone rings and is answered by the
//! business's receptionist, exactly as a caller hears it.
//!
//! Twilio places the call and fetches its TwiML from the voice webhook with the test call's
//! id in the (signed) URL, so the webhook answers as this business although the number
//! called is the owner's. The call is recorded as a test call: no statistic, list, export or
//! notification counts it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::current;
use crate::clients::twilio::calls::OutgoingCall;
use crate::db::customers::Customer;
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, Result, TwilioErrors};
use crate::http::extract::{AppJson, CustomerUser};
use crate::numbers::{STATUS_PATH, VOICE_PATH};
use crate::phone_country;

/// Test calls a business may ask for per [`LIMIT_WINDOW`].
pub const TEST_CALLS_PER_HOUR: i64 = 3;
/// The window the limit counts over.
const LIMIT_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// Routes under `/api/portal`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_test_call))
}

/// The call is on its way.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestCallPlaced {
    pub message: String,
    /// The phone that rings.
    pub to: String,
    /// The number it rings from.
    pub from: String,
}

/// The business's phone, else its notification phone, whichever is in an allowed country.
fn phone_to_ring(customer: &Customer, allowed: &[String]) -> Result<String> {
    let phones = [("phone", &customer.phone), ("notification_phone", &customer.notification_phone)];
    let mut set = phones.iter().filter_map(|(field, phone)| phone.as_ref().map(|phone| (*field, phone))).peekable();
    let Some(&(first_field, first_phone)) = set.peek() else {
        return Err(AppError::invalid_field(
            "phone",
            "add your business phone (or a notification phone) in settings first",
        ));
    };
    if let Some((_, phone)) = set.find(|(_, phone)| phone_country::is_in(phone, allowed)) {
        return Ok(phone.clone());
    }
    Err(AppError::invalid_field(
        first_field,
        format!("test calls ring only phones in {}; {first_phone} is not one", allowed.join(", ")),
    ))
}

/// `POST /api/portal/test-call`.
#[utoipa::path(
    post,
    path = "/test-call",
    tag = "portal",
    summary = "Ring the owner's phone with the receptionist",
    responses((status = 202, body = TestCallPlaced), (status = 409, description = "The business is not in service (trial ended, payment overdue...), or has no number to call from yet", body = ErrorBody), (status = 422, description = "No phone to ring, or none in a country test calls may ring (`TEST_CALL_COUNTRIES`)", body = ErrorBody), (status = 429, description = "Too many test calls; see Retry-After", body = ErrorBody), TwilioErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn request_test_call(
    user: CustomerUser,
    State(state): State<AppState>,
) -> Result<(StatusCode, AppJson<TestCallPlaced>)> {
    let customer = current(&state, user).await?;
    // A test call is a call the platform pays for: only a business in service places one,
    // and only to its own phones in the countries the operator allows.
    if let Some(reason) = customer.out_of_service_reason(Utc::now(), state.config.stripe.past_due_grace) {
        return Err(AppError::Conflict(format!(
            "this business is not in service ({reason}), so it cannot place test calls"
        )));
    }
    let to = phone_to_ring(&customer, &state.config.twilio.test_call_countries)?;
    let from = customer.deskringer_number.clone().or(state.config.twilio.phone_number.clone()).ok_or_else(|| {
        AppError::Conflict("your DeskRinger number is not set up yet; the test call rings from it".into())
    })?;
    if !state.clients.twilio.is_configured() {
        return Err(crate::clients::twilio::TwilioError::NotConfigured.into());
    }

    // The limit and the new record in one transaction, the business's row locked, so two
    // clicks at once cannot both slip under it.
    let mut tx = state.db.begin().await?;
    sqlx::query!("SELECT id FROM customers WHERE id = $1 FOR UPDATE", customer.id).fetch_one(&mut *tx).await?;
    let recent: Vec<DateTime<Utc>> = sqlx::query_scalar!(
        "SELECT requested_at FROM test_calls WHERE customer_id = $1 AND requested_at > now() - make_interval(secs => $2) \
         ORDER BY requested_at",
        customer.id,
        LIMIT_WINDOW.num_seconds() as f64
    )
    .fetch_all(&mut *tx)
    .await?;
    if recent.len() as i64 >= TEST_CALLS_PER_HOUR {
        let frees_at = recent[recent.len() - TEST_CALLS_PER_HOUR as usize] + LIMIT_WINDOW;
        let retry_after_seconds = (frees_at - Utc::now()).num_seconds().max(1) as u64;
        return Err(AppError::TooManyRequests { retry_after_seconds });
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO test_calls (customer_id, to_number, from_number) VALUES ($1, $2, $3) RETURNING id",
        customer.id,
        to,
        from
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;

    let base = &state.config.api_base_url;
    let url = format!("{base}{VOICE_PATH}?test_call={id}");
    let status_callback = format!("{base}{STATUS_PATH}");
    let call = OutgoingCall { to: &to, from: &from, url: &url, status_callback: &status_callback };
    match state.clients.twilio.place_call(&call).await {
        Ok(placed) => {
            // The call may already have been answered (and claimed the row) by now.
            sqlx::query!(
                "UPDATE test_calls SET twilio_call_sid = coalesce(twilio_call_sid, $2) WHERE id = $1",
                id,
                placed.sid
            )
            .execute(&state.db)
            .await?;
            tracing::info!(customer.id = customer.id, test_call = id, "test call placed");
            let message = format!("Calling {to} now: answer to hear your receptionist");
            Ok((StatusCode::ACCEPTED, AppJson(TestCallPlaced { message, to, from })))
        }
        Err(error) => {
            // No call was placed: it does not count against the limit.
            sqlx::query!("DELETE FROM test_calls WHERE id = $1", id).execute(&state.db).await?;
            Err(error.into())
        }
    }
}
