//! `/api/customers`: DeskRinger staff manage the businesses they serve.

mod appointments;
pub mod patch;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Role;
use crate::auth::password::{check_new_password, hash_password};
use crate::db::Counted;
use crate::db::calls::{self, Call, CallRow};
use crate::db::customers::{self, Customer, EMAIL_UNIQUE_CONSTRAINT, NUMBER_UNIQUE_CONSTRAINT};
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, NotFound, Result, ResultExt};
use crate::http::extract::{AdminUser, AppJson, AppPath, AppQuery};
use crate::http::pagination::{Page, PageInfo};
use crate::http::validate;
use crate::jobs::{self, notify::WelcomeOwner};
use patch::{CustomerPatch, Settable};

/// Length of the free trial a new business gets.
pub const TRIAL_LENGTH: Duration = Duration::days(7);
/// Calls shown with a business.
const RECENT_CALLS: i64 = 10;
/// Longest search text for the list of businesses.
const MAX_SEARCH_LEN: usize = 100;
/// Length of generated temporary passwords.
const TEMPORARY_PASSWORD_LEN: usize = 12;

/// Routes under `/api/customers`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer, cancel_customer))
        .routes(routes!(update_customer_settings))
        .routes(routes!(set_customer_password))
        .merge(appointments::router())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// A subscription status; `all` or absent for every business.
    status: Option<String>,
    /// Search text (at most 100 characters): businesses whose name or email contains it,
    /// ignoring case. Blank or absent for every business.
    #[param(max_length = 100)]
    q: Option<String>,
    /// 1-based page.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// A page of businesses, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    #[serde(flatten)]
    pub page: PageInfo,
}

/// `GET /api/customers/`: newest first, optionally by subscription status and by a
/// search on name or email.
#[utoipa::path(
    get,
    path = "/",
    tag = "customers",
    summary = "List businesses, newest first, by status and by name or email",
    params(ListQuery),
    responses((status = 200, body = CustomerPage), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn list_customers(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<AppJson<CustomerPage>> {
    let page = Page::from_query(query.page, query.per_page)?;
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(status) => Some(validate::one_of("status", status, customers::SUBSCRIPTION_STATUSES)?),
    };
    let search = match query.q.as_deref() {
        None => None,
        Some(q) => validate::optional_text("q", q, MAX_SEARCH_LEN)?.map(|q| contains_pattern(&q)),
    };
    // One statement per filter (no `$n IS NULL OR ...`, so its plan is kept), its rows
    // carrying the total.
    let sql = match (&status, &search) {
        (None, None) => {
            "SELECT *, (SELECT count(*) FROM customers) AS total FROM customers \
             ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
        }
        (Some(_), None) => {
            "SELECT *, (SELECT count(*) FROM customers WHERE subscription_status = $3) AS total FROM customers \
             WHERE subscription_status = $3 ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
        }
        (None, Some(_)) => {
            "SELECT *, (SELECT count(*) FROM customers WHERE business_name ILIKE $3 OR email ILIKE $3) AS total \
             FROM customers WHERE business_name ILIKE $3 OR email ILIKE $3 \
             ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
        }
        (Some(_), Some(_)) => {
            "SELECT *, (SELECT count(*) FROM customers WHERE subscription_status = $3 \
             AND (business_name ILIKE $4 OR email ILIKE $4)) AS total FROM customers \
             WHERE subscription_status = $3 AND (business_name ILIKE $4 OR email ILIKE $4) \
             ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
        }
    };
    let (items, total) = page
        .rows_and_total(|limit, offset| {
            let mut statement = sqlx::query_as::<_, Counted<Customer>>(sql).bind(limit).bind(offset);
            if let Some(status) = &status {
                statement = statement.bind(status);
            }
            if let Some(search) = &search {
                statement = statement.bind(search);
            }
            statement.fetch_all(&state.db)
        })
        .await?;
    Ok(AppJson(CustomerPage { customers: items, page: page.info(total) }))
}

/// An `ILIKE` pattern matching text that contains `text`: its `%`, `_` and `\` match
/// themselves (a search for "50%" is not a wildcard).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A business with its ten newest calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerWithCalls {
    #[serde(flatten)]
    pub customer: Customer,
    pub recent_calls: Vec<Call>,
}

/// `GET /api/customers/{id}`: the business with its ten newest calls.
#[utoipa::path(
    get,
    path = "/{id}",
    tag = "customers",
    summary = "A business with its ten newest calls",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = CustomerWithCalls), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn get_customer(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<CustomerWithCalls>> {
    let customer = customers::find(&state.db, id).await?.ok_or_else(customer_not_found)?;
    let recent_calls = calls::recent_for_customer(&state.db, id, RECENT_CALLS).await?;
    Ok(AppJson(CustomerWithCalls { customer, recent_calls: recent_calls.into_iter().map(CallRow::full).collect() }))
}

/// A new business: `business_name` and `email` are required, every other field optional.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "serde_json::Map<String, Value>")]
pub struct CreateCustomer {
    /// Email the login details (default true).
    pub send_welcome_email: Option<bool>,
    #[serde(flatten)]
    pub fields: CustomerPatch,
}

impl TryFrom<serde_json::Map<String, Value>> for CreateCustomer {
    type Error = String;

    /// Read by hand rather than through serde's `flatten`, which loses the path of an
    /// invalid field (the error must name it).
    fn try_from(mut object: serde_json::Map<String, Value>) -> std::result::Result<Self, String> {
        let send_welcome_email = match object.remove("send_welcome_email") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(send)) => Some(send),
            Some(_) => return Err("send_welcome_email must be true or false".into()),
        };
        let fields = serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| e.to_string())?;
        Ok(CreateCustomer { send_welcome_email, fields })
    }
}

/// A business just created, with its portal password (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedCustomer {
    pub message: &'static str,
    pub customer: Customer,
    /// The portal password to hand to the business.
    pub temporary_password: String,
}

/// `{message, customer}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerMessage {
    pub message: &'static str,
    pub customer: Customer,
}

/// `{message}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: &'static str,
}

/// `POST /api/customers/`: a new business on a 7-day trial, with a temporary portal
/// password returned once.
#[utoipa::path(
    post,
    path = "/",
    tag = "customers",
    summary = "Create a business on a 7-day trial",
    request_body = CreateCustomer,
    responses((status = 201, body = CreatedCustomer), (status = 409, description = "Email or number taken", body = ErrorBody), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn create_customer(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppJson(input): AppJson<CreateCustomer>,
) -> Result<(StatusCode, AppJson<CreatedCustomer>)> {
    let (send_welcome_email, patch) = (input.send_welcome_email.unwrap_or(true), input.fields);
    for (field, sent) in [("business_name", patch.business_name.is_some()), ("email", patch.email.is_some())] {
        if !sent {
            return Err(AppError::invalid_field(field, "is required"));
        }
    }
    let mut customer = Customer::new_business(Utc::now() + TRIAL_LENGTH);
    customer.voice_mode = state.config.realtime.default_voice_mode.as_str().to_owned();
    patch.apply(&mut customer, true)?;

    let temporary_password = temporary_password();
    let password_hash = hash_password(SecretString::from(temporary_password.clone())).await?;
    let mut tx = state.db.begin().await?;
    let customer = customers::insert(&mut tx, &customer, &password_hash)
        .await
        .on_unique(EMAIL_UNIQUE_CONSTRAINT, "a customer with this email already exists")
        .on_unique(NUMBER_UNIQUE_CONSTRAINT, "this DeskRinger number is already assigned to another customer")?;
    if send_welcome_email {
        // Through the job queue, in the same transaction: sent once, retried through a
        // SendGrid outage or a restart, and never holding the dashboard up.
        let job = WelcomeOwner { customer_id: customer.id, temporary_password: temporary_password.clone() };
        jobs::enqueue(&state.db, &mut tx, job, format!("welcome_owner:{}", customer.id)).await?;
    }
    tx.commit().await?;
    tracing::info!(customer.id = customer.id, "customer created");
    Ok((StatusCode::CREATED, AppJson(CreatedCustomer { message: "Customer created", customer, temporary_password })))
}

/// `PUT /api/customers/{id}`: change any editable field.
#[utoipa::path(
    put,
    path = "/{id}",
    tag = "customers",
    summary = "Change a business",
    request_body = CustomerPatch,
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = CustomerMessage), (status = 409, description = "Email or number taken", body = ErrorBody), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn update_customer(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Value>,
) -> Result<AppJson<CustomerMessage>> {
    let patch = CustomerPatch::from_body(body, Settable::Everything)?;
    let customer = apply_patch(&state, id, patch, false).await?;
    Ok(AppJson(CustomerMessage { message: "Customer updated", customer }))
}

/// `PUT /api/customers/{id}/settings`: the receptionist's settings.
#[utoipa::path(
    put,
    path = "/{id}/settings",
    tag = "customers",
    summary = "Change a business's receptionist settings",
    request_body(content = CustomerPatch, description = "Only the receptionist settings are read: greeting_message, ai_instructions, business_type, business_hours, holiday_hours, timezone, services_offered, faqs, appointment_handling, booking, pricing_info, special_instructions, forward_to_number, notification_instructions, voice_mode, missed_call_text, languages, reject_unverified_callers"),
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = CustomerMessage), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn update_customer_settings(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<Value>,
) -> Result<AppJson<CustomerMessage>> {
    let settings = CustomerPatch::from_body(body, Settable::ReceptionistSettings)?;
    let customer = apply_patch(&state, id, settings, false).await?;
    Ok(AppJson(CustomerMessage { message: "Settings updated", customer }))
}

/// Reads the business under a row lock, applies and validates the change, saves it whole.
/// Nothing is saved if any field is invalid, or if a stored setting that no longer reads
/// would be dropped.
pub(crate) async fn apply_patch(state: &AppState, id: i64, patch: CustomerPatch, recompile: bool) -> Result<Customer> {
    let mut tx = state.db.begin().await?;
    let mut customer = customers::find_for_update(&mut tx, id).await?.ok_or_else(customer_not_found)?;
    if let Some(setting) = customer.unreadable_settings().into_iter().find(|setting| !patch.replaces(*setting)) {
        return Err(AppError::invalid_field(
            setting.name(),
            "the stored value no longer passes validation: send a new one with this change",
        ));
    }
    patch.apply(&mut customer, recompile)?;
    let customer = customers::update(&mut tx, &customer)
        .await
        .on_unique(EMAIL_UNIQUE_CONSTRAINT, "a customer with this email already exists")
        .on_unique(NUMBER_UNIQUE_CONSTRAINT, "this DeskRinger number is already assigned to another customer")?;
    tx.commit().await?;
    // Its status may have changed (a cancelled business's tokens end).
    state.standings.forget(Role::Customer, id);
    Ok(customer)
}

/// `DELETE /api/customers/{id}`: cancels the business (soft delete); its calls are kept.
/// Cancelling twice keeps the first cancellation time.
#[utoipa::path(
    delete,
    path = "/{id}",
    tag = "customers",
    summary = "Cancel a business (soft delete; calls are kept)",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = Message), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn cancel_customer(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Message>> {
    let cancelled = sqlx::query!(
        "UPDATE customers SET subscription_status = 'cancelled', subscription_status_at = now(), \
         cancelled_at = coalesce(cancelled_at, now()), updated_at = now() WHERE id = $1",
        id
    )
    .execute(&state.db)
    .await?;
    if cancelled.rows_affected() == 0 {
        return Err(customer_not_found());
    }
    state.standings.forget(Role::Customer, id);
    tracing::info!(customer.id = id, "customer cancelled");
    Ok(AppJson(Message { message: "Customer cancelled" }))
}

/// A portal password for a business.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct SetPassword {
    /// At least 8 characters.
    #[schema(min_length = 8)]
    password: String,
}

/// The business now has portal access.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalAccess {
    pub message: &'static str,
    pub customer: PortalAccessCustomer,
}

/// Who has portal access.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalAccessCustomer {
    pub id: i64,
    pub email: String,
    pub business_name: String,
    /// Always true.
    pub has_portal_access: bool,
}

/// `POST /api/customers/{id}/set-password`: gives the business portal access.
#[utoipa::path(
    post,
    path = "/{id}/set-password",
    tag = "customers",
    summary = "Give a business portal access",
    request_body = SetPassword,
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = PortalAccess), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn set_customer_password(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppJson(input): AppJson<SetPassword>,
) -> Result<AppJson<PortalAccess>> {
    check_new_password(&input.password).map_err(|reason| AppError::invalid_field("password", reason))?;
    let password_hash = hash_password(SecretString::from(input.password)).await?;
    let customer = customers::set_password_hash(&state.db, id, &password_hash).await?.ok_or_else(customer_not_found)?;
    state.standings.forget(Role::Customer, id);
    Ok(AppJson(PortalAccess {
        message: "Portal password set",
        customer: PortalAccessCustomer {
            id: customer.id,
            email: customer.email,
            business_name: customer.business_name,
            has_portal_access: true,
        },
    }))
}

fn customer_not_found() -> AppError {
    AppError::NotFound("customer not found".into())
}

/// A readable random password without look-alike characters (0/O, 1/l/I).
fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // `rand`'s thread RNG is a CSPRNG seeded from the OS.
    (0..TEMPORARY_PASSWORD_LEN).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_patterns_match_wildcards_literally() {
        assert_eq!(contains_pattern("bella"), "%bella%");
        assert_eq!(contains_pattern(r"50%_off\"), r"%50\%\_off\\%");
    }
}
