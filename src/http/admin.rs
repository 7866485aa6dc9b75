//! `/api/admin`: staff sign-in, staff accounts and the dashboard's headline figures.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::password::{check_new_password, hash_password, verify_password};
use crate::auth::{Principal, Role};
use crate::db::admins::{self, Admin, EMAIL_UNIQUE_CONSTRAINT};
use crate::http::AppState;
use crate::http::account::PasswordChanged;
use crate::http::account::{ChangePassword, Credentials};
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, Result, ResultExt};
use crate::http::extract::{AdminUser, AppJson};
use crate::http::login_limit::{ClientAddress, account_key};
use crate::http::{figures, validate};

/// Routes under `/api/admin`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(get_current_admin))
        .routes(routes!(create_admin))
        .routes(routes!(change_password))
        .routes(routes!(get_stats))
        .routes(routes!(list_trial_customers))
        .routes(routes!(send_test_email))
}

#[derive(FromRow)]
struct AdminWithHash {
    #[sqlx(flatten)]
    admin: Admin,
    password_hash: String,
    token_generation: i32,
}

/// `POST /api/admin/login`: a 24-hour admin token. Wrong email and wrong password answer
/// the same 401 in the same time, so the answer does not reveal which emails exist.
#[utoipa::path(
    post,
    path = "/login",
    tag = "admin",
    summary = "Log in as an admin",
    request_body = Credentials,
    responses((status = 200, body = AdminLogin), (status = 401, description = "Wrong email or password", body = ErrorBody), (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody), (status = 503, description = "Too many password checks waiting; see Retry-After", body = ErrorBody), InputErrors)
)]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    AppJson(credentials): AppJson<Credentials>,
) -> Result<AppJson<AdminLogin>> {
    let (email, password) = credentials.required()?;
    state.login_limiter.check(address, &account_key(Role::Admin, &email))?;
    let found: Option<AdminWithHash> = sqlx::query_as("SELECT * FROM admins WHERE lower(email) = lower($1)")
        .bind(&email)
        .fetch_optional(&state.db)
        .await?;
    let (admin, hash, generation) = match found {
        Some(row) => (Some(row.admin), Some(row.password_hash), row.token_generation),
        None => (None, None, 0),
    };
    let verified = verify_password(password, hash).await?;
    let Some(admin) = admin.filter(|_| verified) else {
        tracing::info!("admin login failed");
        return Err(AppError::Unauthorized("invalid email or password"));
    };

    let admin = sqlx::query_as!(
        Admin,
        "UPDATE admins SET last_login = now() WHERE id = $1 RETURNING id, email, name, created_at, last_login",
        admin.id
    )
    .fetch_one(&state.db)
    .await?;
    let access_token = state.jwt.issue(Principal { role: Role::Admin, id: admin.id, generation })?;
    tracing::info!(admin.id = admin.id, "admin logged in");
    Ok(AppJson(AdminLogin { access_token, admin }))
}

/// `GET /api/admin/me`.
#[utoipa::path(
    get,
    path = "/me",
    tag = "admin",
    summary = "The signed-in admin",
    responses((status = 200, body = Admin), AuthErrors),
    security(("admin_token" = []))
)]
async fn get_current_admin(user: AdminUser, State(state): State<AppState>) -> Result<AppJson<Admin>> {
    let admin =
        sqlx::query_as!(Admin, "SELECT id, email, name, created_at, last_login FROM admins WHERE id = $1", user.id)
            .fetch_optional(&state.db)
            .await?;
    // A valid token for an admin that no longer exists is as good as no token.
    admin.map(AppJson).ok_or(AppError::Unauthorized("invalid or expired token"))
}

/// A signed-in admin and its 24-hour token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminLogin {
    /// The bearer token.
    pub access_token: String,
    /// Who signed in.
    pub admin: Admin,
}

/// A new staff account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct CreateAdmin {
    /// Login email.
    email: String,
    /// At least 8 characters.
    #[schema(value_type = String, min_length = 8)]
    password: SecretString,
    /// Display name.
    name: Option<String>,
}

/// `{message, admin}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminMessage {
    /// What happened.
    pub message: &'static str,
    /// The admin it happened to.
    pub admin: Admin,
}

/// `POST /api/admin/create`: another staff account.
#[utoipa::path(
    post,
    path = "/create",
    tag = "admin",
    summary = "Create an admin",
    request_body = CreateAdmin,
    responses((status = 201, body = AdminMessage), (status = 409, description = "Email taken", body = ErrorBody), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn create_admin(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppJson(input): AppJson<CreateAdmin>,
) -> Result<(StatusCode, AppJson<AdminMessage>)> {
    let email = validate::email("email", &input.email)?;
    check_new_password(input.password.expose_secret()).map_err(|reason| AppError::invalid_field("password", reason))?;
    let name = match input.name {
        Some(name) => validate::optional_text("name", &name, validate::MAX_NAME_LEN)?,
        None => None,
    };
    let password_hash = hash_password(input.password).await?;
    let admin = admins::insert(&state.db, &email, name.as_deref(), &password_hash)
        .await
        .on_unique(EMAIL_UNIQUE_CONSTRAINT, "an admin with this email already exists")?;
    tracing::info!(admin.id = admin.id, "admin created");
    Ok((StatusCode::CREATED, AppJson(AdminMessage { message: "Admin created", admin })))
}

/// `POST /api/admin/change-password`. A wrong current password is 400, not 401: the
/// dashboard logs the user out on any 401. Attempts count against the login limits.
#[utoipa::path(
    post,
    path = "/change-password",
    tag = "admin",
    summary = "Change the signed-in admin's password",
    request_body = ChangePassword,
    responses((status = 200, body = PasswordChanged), (status = 429, description = "Too many attempts on this account or from this address; see Retry-After", body = ErrorBody), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn change_password(
    user: AdminUser,
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    AppJson(input): AppJson<ChangePassword>,
) -> Result<AppJson<PasswordChanged>> {
    let account = sqlx::query!("SELECT email, password_hash FROM admins WHERE id = $1", user.id)
        .fetch_optional(&state.db)
        .await?;
    let Some(account) = account else {
        return Err(AppError::Unauthorized("invalid or expired token"));
    };
    let key = account_key(Role::Admin, &account.email);
    let new_hash = input.new_hash(Some(account.password_hash), || state.login_limiter.check(address, &key)).await?;
    // The trigger moves the account to a new token generation: every older token ends.
    let generation = sqlx::query_scalar!(
        "UPDATE admins SET password_hash = $2 WHERE id = $1 RETURNING token_generation",
        user.id,
        new_hash
    )
    .fetch_one(&state.db)
    .await?;
    state.standings.forget(Role::Admin, user.id);
    tracing::info!(admin.id = user.id, "admin password changed");
    let access_token = state.jwt.issue(Principal { role: Role::Admin, id: user.id, generation })?;
    Ok(AppJson(PasswordChanged::new(access_token)))
}

/// The dashboard's headline figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminStats {
    /// Businesses.
    pub customers: CustomerCounts,
    /// Calls ("today" is the UTC day).
    pub calls: CallCounts,
}

/// How many businesses, and how many of them pay or try.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerCounts {
    pub total: i64,
    pub active: i64,
    pub trial: i64,
}

/// How many calls, and how long on average (seconds, two decimals).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallCounts {
    pub total: i64,
    pub today: i64,
    pub avg_duration_seconds: f64,
}

#[derive(FromRow)]
struct DashboardFigures {
    customers_total: i64,
    customers_active: i64,
    customers_trial: i64,
    calls_total: i64,
    calls_today: i64,
    avg_duration_seconds: Option<f64>,
}

/// `GET /api/admin/stats`: one statement for every figure. "Today" is the UTC day. Call
/// figures come from the running totals (migration 5), not from every call.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "admin",
    summary = "Dashboard figures",
    responses((status = 200, body = AdminStats), AuthErrors),
    security(("admin_token" = []))
)]
async fn get_stats(_admin: AdminUser, State(state): State<AppState>) -> Result<AppJson<AdminStats>> {
    let figures: DashboardFigures = sqlx::query_as!(
        DashboardFigures,
        "SELECT cu.total AS \"customers_total!\", cu.active AS \"customers_active!\", cu.trial AS \"customers_trial!\", \
                st.total AS \"calls_total!\", td.today AS \"calls_today!\", st.avg_duration AS \"avg_duration_seconds?\" \
         FROM (SELECT count(*) AS total, \
                      count(*) FILTER (WHERE subscription_status = 'active') AS active, \
                      count(*) FILTER (WHERE subscription_status = 'trial') AS trial \
               FROM customers) cu, \
              (SELECT coalesce(sum(calls), 0)::int8 AS total, \
                      (sum(duration_sum) / nullif(sum(duration_count), 0))::float8 AS avg_duration \
               FROM call_status_totals) st, \
              (SELECT coalesce(sum(calls), 0)::int8 AS today FROM call_daily_totals \
               WHERE day = (now() AT TIME ZONE 'UTC')::date) td"
    )
    .fetch_one(&state.db)
    .await?;
    Ok(AppJson(AdminStats {
        customers: CustomerCounts {
            total: figures.customers_total,
            active: figures.customers_active,
            trial: figures.customers_trial,
        },
        calls: CallCounts {
            total: figures.calls_total,
            today: figures.calls_today,
            avg_duration_seconds: figures::average(figures.avg_duration_seconds.unwrap_or(0.0)),
        },
    }))
}

#[derive(FromRow)]
struct TrialRow {
    id: i64,
    business_name: String,
    contact_name: Option<String>,
    email: String,
    created_at: DateTime<Utc>,
    trial_ends_at: Option<DateTime<Utc>>,
    last_login: Option<DateTime<Utc>>,
}

/// A business on (or just past) its trial.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrialCustomer {
    id: i64,
    business_name: String,
    contact_name: Option<String>,
    email: String,
    created_at: DateTime<Utc>,
    trial_ends_at: Option<DateTime<Utc>>,
    days_remaining: i64,
    is_expired: bool,
    last_login: Option<DateTime<Utc>>,
}

/// The businesses on trial, ending soonest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrialCustomers {
    pub trial_customers: Vec<TrialCustomer>,
    pub count: usize,
}

/// `GET /api/admin/trial-customers`: businesses on (or just past) their trial, the ones
/// ending soonest first, so staff know whom to call.
#[utoipa::path(
    get,
    path = "/trial-customers",
    tag = "admin",
    summary = "Businesses on trial",
    responses((status = 200, body = TrialCustomers), AuthErrors),
    security(("admin_token" = []))
)]
async fn list_trial_customers(_admin: AdminUser, State(state): State<AppState>) -> Result<AppJson<TrialCustomers>> {
    let rows = sqlx::query_as!(
        TrialRow,
        "SELECT id, business_name, contact_name, email, created_at, trial_ends_at, last_login FROM customers \
         WHERE subscription_status IN ('trial', 'trial_expired') ORDER BY trial_ends_at ASC NULLS LAST, id"
    )
    .fetch_all(&state.db)
    .await?;
    let now = Utc::now();
    let trial_customers: Vec<TrialCustomer> = rows
        .into_iter()
        .map(|row| {
            let remaining = row.trial_ends_at.map(|ends| ends - now);
            TrialCustomer {
                days_remaining: remaining.map_or(0, |left| left.num_days().max(0)),
                is_expired: remaining.is_some_and(|left| left <= chrono::Duration::zero()),
                id: row.id,
                business_name: row.business_name,
                contact_name: row.contact_name,
                email: row.email,
                created_at: row.created_at,
                trial_ends_at: row.trial_ends_at,
                last_login: row.last_login,
            }
        })
        .collect();
    Ok(AppJson(TrialCustomers { count: trial_customers.len(), trial_customers }))
}

/// Where to send the test email.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TestEmail {
    email: String,
}

/// The test email went out.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestEmailResult {
    /// Always true.
    pub success: bool,
    pub message: String,
}

/// `POST /api/admin/test-email`: checks that email sending works end to end.
#[utoipa::path(
    post,
    path = "/test-email",
    tag = "admin",
    summary = "Send a test email",
    request_body = TestEmail,
    responses((status = 200, body = TestEmailResult), (status = 502, description = "SendGrid refused", body = ErrorBody), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn send_test_email(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppJson(input): AppJson<TestEmail>,
) -> Result<AppJson<TestEmailResult>> {
    let to = validate::email("email", &input.email)?;
    if !state.clients.sendgrid.is_enabled() {
        return Err(AppError::BadRequest("email sending is not configured (set SENDGRID_API_KEY)".into()));
    }
    state.clients.sendgrid.send(&crate::jobs::notify::test_email(&to)).await.map_err(|error| {
        tracing::warn!(error = format!("{error:#}"), "test email failed");
        AppError::BadGateway("the email service refused the test email".into())
    })?;
    Ok(AppJson(TestEmailResult { success: true, message: format!("Test email sent to {to}") }))
}
