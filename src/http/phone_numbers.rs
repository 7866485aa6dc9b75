//! Admin routes for DeskRinger numbers: buy, attach and release a business's number
//! (`/api/customers/{id}/phone-number`), audit every number on the Twilio account and rewire
//! the ones that drifted (`/api/admin/phone-numbers`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clients::twilio::numbers::NumberSearch;
use crate::db::customers::Customer;
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, NotFound, Result, TwilioErrors};
use crate::http::extract::{AdminUser, AppJson, AppPath, OptionalJson};
use crate::http::validate;
use crate::numbers::{Audit, NumberError, Numbers, SyncReport};

/// Routes under `/api/customers` (merged into the customers router).
pub fn customer_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(buy_number, attach_number, release_number))
}

/// Routes under `/api/admin` (merged into the admin router).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_numbers)).routes(routes!(sync_numbers))
}

impl From<NumberError> for AppError {
    fn from(error: NumberError) -> Self {
        match error {
            NumberError::NoSuchBusiness | NumberError::NoNumber | NumberError::NoMatch(_) => {
                AppError::NotFound(error.to_string())
            }
            NumberError::AlreadyHasNumber(_)
            | NumberError::PurchaseInProgress
            | NumberError::Taken(_)
            | NumberError::NotInService(_) => AppError::Conflict(error.to_string()),
            NumberError::PurchaseLimit { until } => AppError::LimitReached {
                message: error.to_string(),
                retry_after_seconds: (until - chrono::Utc::now()).num_seconds().max(1) as u64,
            },
            NumberError::NotOnAccount(_) => AppError::invalid_field("phone_number", error),
            NumberError::Twilio(error) => error.into(),
            NumberError::Database(error) => error.into(),
        }
    }
}

/// The numbers desk over the state's database and Twilio client.
pub fn numbers(state: &AppState) -> Numbers<'_> {
    Numbers::new(&state.db, &state.clients.twilio, &state.config)
}

/// What number to buy; every field is optional and `""` counts as not given.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct BuyNumber {
    /// Three-digit area code (US and Canada), such as `415`.
    #[serde(default)]
    pub area_code: Option<String>,
    /// Digits the number must contain (2 to 16; `*` matches any digit).
    #[serde(default)]
    pub contains: Option<String>,
    /// Two-letter country code; `US` when not given.
    #[serde(default)]
    pub country: Option<String>,
}

impl BuyNumber {
    /// The search, checked field by field.
    pub fn search(self) -> Result<NumberSearch> {
        let given = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let country = given(self.country).unwrap_or_else(|| "US".into()).to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(AppError::invalid_field("country", "must be a two-letter country code, like US"));
        }
        let area_code = given(self.area_code);
        if area_code.as_ref().is_some_and(|code| code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit())) {
            return Err(AppError::invalid_field("area_code", "must be three digits, like 415"));
        }
        let contains = given(self.contains);
        let valid_pattern =
            |p: &String| (2..=16).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*');
        if contains.as_ref().is_some_and(|pattern| !valid_pattern(pattern)) {
            return Err(AppError::invalid_field("contains", "must be 2 to 16 digits or letters (* matches any digit)"));
        }
        Ok(NumberSearch { country, area_code, contains })
    }
}

/// A number already on the Twilio account, to give to a business.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AttachNumber {
    /// E.164, such as `+14155550123`.
    #[serde(default)]
    pub phone_number: String,
}

/// The number was released.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Released {
    pub message: String,
    /// The number that was released.
    pub phone_number: String,
}

/// `POST /api/customers/{id}/phone-number`: buys a local, voice-capable number wired to this
/// server and gives it to the business.
#[utoipa::path(
    post,
    path = "/{id}/phone-number",
    tag = "phone numbers",
    summary = "Buy a number for a business",
    params(("id" = i64, Path, description = "Row id")),
    request_body(content = Option<BuyNumber>, description = "Search preferences; the body may be left out"),
    responses((status = 201, description = "The business with its new number", body = Customer), (status = 404, description = "No such business, or no number matches the search", body = ErrorBody), (status = 409, description = "The business is not in service, already has a number, or one is being bought", body = ErrorBody), (status = 429, description = "The business's purchase limit (3 numbers in 24 hours) is reached; see Retry-After", body = ErrorBody), TwilioErrors, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn buy_number(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    OptionalJson(body): OptionalJson<BuyNumber>,
) -> Result<(StatusCode, AppJson<Customer>)> {
    let search = body.search()?;
    let customer = numbers(&state).buy(id, &search).await?;
    Ok((StatusCode::CREATED, AppJson(customer)))
}

/// `PUT /api/customers/{id}/phone-number`: gives the business a number already on the
/// Twilio account, rewired to this server.
#[utoipa::path(
    put,
    path = "/{id}/phone-number",
    tag = "phone numbers",
    summary = "Attach a number already on the Twilio account",
    params(("id" = i64, Path, description = "Row id")),
    request_body = AttachNumber,
    responses((status = 200, description = "The business with the number", body = Customer), (status = 409, description = "The business is not in service, or another business has the number", body = ErrorBody), TwilioErrors, NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn attach_number(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<AttachNumber>,
) -> Result<AppJson<Customer>> {
    if body.phone_number.trim().is_empty() {
        return Err(AppError::invalid_field("phone_number", "is required"));
    }
    let number = validate::e164("phone_number", &body.phone_number)?;
    Ok(AppJson(numbers(&state).attach(id, &number).await?))
}

/// `DELETE /api/customers/{id}/phone-number`: releases the business's number at Twilio and
/// clears it.
#[utoipa::path(
    delete,
    path = "/{id}/phone-number",
    tag = "phone numbers",
    summary = "Release a business's number",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = Released), (status = 404, description = "No such business, or it has no number", body = ErrorBody), TwilioErrors, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn release_number(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Released>> {
    let phone_number = numbers(&state).release(id).await?;
    Ok(AppJson(Released { message: format!("{phone_number} was released"), phone_number }))
}

/// `GET /api/admin/phone-numbers`: every number on the Twilio account, its business, and
/// whether it is wired to this server; business numbers the account does not have.
#[utoipa::path(
    get,
    path = "/phone-numbers",
    tag = "phone numbers",
    summary = "Audit the Twilio account's numbers",
    responses((status = 200, body = Audit), TwilioErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn audit_numbers(_admin: AdminUser, State(state): State<AppState>) -> Result<AppJson<Audit>> {
    Ok(AppJson(numbers(&state).audit().await?))
}

/// `POST /api/admin/phone-numbers/sync`: rewires every business's number that does not
/// point at this server, and says what changed.
#[utoipa::path(
    post,
    path = "/phone-numbers/sync",
    tag = "phone numbers",
    summary = "Rewire every business's number to this server",
    responses((status = 200, body = SyncReport), TwilioErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn sync_numbers(_admin: AdminUser, State(state): State<AppState>) -> Result<AppJson<SyncReport>> {
    Ok(AppJson(numbers(&state).sync().await?))
}
