//! Blocked numbers: a business's own list (`/api/portal/blocked-numbers`, and blocking the
//! caller of one of its calls) and the list DeskRinger keeps for every business
//! (`/api/admin/blocked-numbers`, known robocallers). Calls from a number on either list are
//! refused unanswered by the voice webhook (`webhooks::twilio::screen`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, ErrorBody, InputErrors, NotFound, Result};
use crate::http::extract::{AdminUser, AppJson, AppPath, CustomerUser};
use crate::http::validate::{self, MAX_NAME_LEN};

/// Routes under `/api/portal` (merged into the portal router).
pub fn portal_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_own_blocked_numbers, block_own_number))
        .routes(routes!(unblock_own_number))
        .routes(routes!(block_caller_of_call))
}

/// Routes under `/api/admin` (merged into the admin router).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_blocked_everywhere, block_everywhere)).routes(routes!(unblock_everywhere))
}

/// A blocked number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BlockedNumber {
    /// E.164.
    #[schema(example = "+14155550123")]
    pub number: String,
    /// Why it was blocked, as written.
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A list of blocked numbers, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BlockedNumbers {
    pub blocked_numbers: Vec<BlockedNumber>,
}

/// A number to block.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BlockNumber {
    /// E.164 (spaces, dashes and parentheses are removed).
    #[schema(example = "+14155550123")]
    pub number: String,
    /// Why (at most 200 characters).
    pub note: Option<String>,
}

/// `{message}` after an unblock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unblocked {
    pub message: &'static str,
}

/// The numbers Twilio puts in `From` for a caller who withheld their number (anonymous,
/// unknown, restricted, blocked); calls can also arrive with no number or a word instead.
/// Blocking one from a call would block every withheld caller, which is not what "block
/// this caller" means.
const WITHHELD_STAND_INS: &[&str] = &["+266696687", "+86282452253", "+7378742833", "+2562533"];

/// Whose list: one business's, or (`None`) every business's.
type Owner = Option<i64>;

async fn list(db: impl PgExecutor<'_>, owner: Owner) -> Result<BlockedNumbers> {
    let blocked_numbers = sqlx::query_as!(
        BlockedNumber,
        "SELECT number, note, created_at FROM blocked_numbers WHERE customer_id IS NOT DISTINCT FROM $1 \
         ORDER BY created_at DESC, id DESC",
        owner
    )
    .fetch_all(db)
    .await?;
    Ok(BlockedNumbers { blocked_numbers })
}

/// Adds `number` to the list; `None` when it is already on it.
async fn insert(
    db: impl PgExecutor<'_>,
    owner: Owner,
    number: &str,
    note: Option<&str>,
) -> Result<Option<BlockedNumber>> {
    Ok(sqlx::query_as!(
        BlockedNumber,
        "INSERT INTO blocked_numbers (customer_id, number, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING \
         RETURNING number, note, created_at",
        owner,
        number,
        note
    )
    .fetch_optional(db)
    .await?)
}

/// Validates and adds a number sent in a request: 422 naming `number` or `note`, 409 when
/// it is already blocked.
async fn block(state: &AppState, owner: Owner, input: BlockNumber) -> Result<(StatusCode, AppJson<BlockedNumber>)> {
    let number = validate::e164("number", &input.number)?;
    let note = input.note.as_deref().map(|note| validate::optional_text("note", note, MAX_NAME_LEN)).transpose()?;
    match insert(&state.db, owner, &number, note.flatten().as_deref()).await? {
        Some(blocked) => Ok((StatusCode::CREATED, AppJson(blocked))),
        None => Err(AppError::Conflict(format!("{number} is already blocked"))),
    }
}

/// Removes a number named in the path (URL-encoded, `%2B14155550123`); 404 when it is not
/// on the list.
async fn unblock(state: &AppState, owner: Owner, raw: &str) -> Result<AppJson<Unblocked>> {
    let number = validate::e164("number", raw)?;
    let removed = sqlx::query!(
        "DELETE FROM blocked_numbers WHERE customer_id IS NOT DISTINCT FROM $1 AND number = $2",
        owner,
        number
    )
    .execute(&state.db)
    .await?;
    if removed.rows_affected() == 0 {
        return Err(AppError::NotFound(format!("{number} is not blocked")));
    }
    Ok(AppJson(Unblocked { message: "Number unblocked" }))
}

/// `GET /api/portal/blocked-numbers`.
#[utoipa::path(
    get,
    path = "/blocked-numbers",
    tag = "portal",
    summary = "The business's blocked numbers",
    responses((status = 200, body = BlockedNumbers), AuthErrors),
    security(("customer_token" = []))
)]
async fn list_own_blocked_numbers(
    user: CustomerUser,
    State(state): State<AppState>,
) -> Result<AppJson<BlockedNumbers>> {
    Ok(AppJson(list(&state.db, Some(user.id)).await?))
}

/// `POST /api/portal/blocked-numbers`: calls from the number are refused from now on.
#[utoipa::path(
    post,
    path = "/blocked-numbers",
    tag = "portal",
    summary = "Block a number",
    request_body = BlockNumber,
    responses((status = 201, body = BlockedNumber), (status = 409, description = "Already blocked", body = ErrorBody), InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn block_own_number(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(input): AppJson<BlockNumber>,
) -> Result<(StatusCode, AppJson<BlockedNumber>)> {
    block(&state, Some(user.id), input).await
}

/// `DELETE /api/portal/blocked-numbers/{number}`.
#[utoipa::path(
    delete,
    path = "/blocked-numbers/{number}",
    tag = "portal",
    summary = "Unblock a number",
    params(("number" = String, Path, description = "E.164, URL-encoded (%2B14155550123)")),
    responses((status = 200, body = Unblocked), NotFound, InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn unblock_own_number(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(number): AppPath<String>,
) -> Result<AppJson<Unblocked>> {
    unblock(&state, Some(user.id), &number).await
}

/// `POST /api/portal/calls/{id}/block`: blocks the caller of one of the business's calls
/// (the same answer when the number is already blocked).
#[utoipa::path(
    post,
    path = "/calls/{id}/block",
    tag = "portal",
    summary = "Block the caller of a call",
    params(("id" = i64, Path, description = "The call's id")),
    responses((status = 200, body = BlockedNumber), (status = 422, description = "The caller's number was withheld", body = ErrorBody), NotFound, AuthErrors),
    security(("customer_token" = []))
)]
async fn block_caller_of_call(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<BlockedNumber>> {
    let caller = sqlx::query_scalar!("SELECT caller_phone FROM calls WHERE id = $1 AND customer_id = $2", id, user.id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("call not found".into()))?;
    let number = caller
        .as_deref()
        .filter(|caller| !WITHHELD_STAND_INS.contains(caller))
        .and_then(|caller| validate::e164("caller_phone", caller).ok());
    let Some(number) = number else {
        return Err(AppError::invalid_field("caller_phone", "the caller withheld their number; it cannot be blocked"));
    };
    let note = format!("Caller of call {id}");
    if let Some(blocked) = insert(&state.db, Some(user.id), &number, Some(&note)).await? {
        tracing::info!(customer.id = user.id, call.id = id, "caller blocked");
        return Ok(AppJson(blocked));
    }
    let existing = sqlx::query_as!(
        BlockedNumber,
        "SELECT number, note, created_at FROM blocked_numbers WHERE customer_id = $1 AND number = $2",
        user.id,
        number
    )
    .fetch_one(&state.db)
    .await?;
    Ok(AppJson(existing))
}

/// `GET /api/admin/blocked-numbers`: the numbers blocked for every business.
#[utoipa::path(
    get,
    path = "/blocked-numbers",
    tag = "admin",
    summary = "Numbers blocked for every business",
    responses((status = 200, body = BlockedNumbers), AuthErrors),
    security(("admin_token" = []))
)]
async fn list_blocked_everywhere(_admin: AdminUser, State(state): State<AppState>) -> Result<AppJson<BlockedNumbers>> {
    Ok(AppJson(list(&state.db, None).await?))
}

/// `POST /api/admin/blocked-numbers`: calls from the number to any business are refused.
#[utoipa::path(
    post,
    path = "/blocked-numbers",
    tag = "admin",
    summary = "Block a number for every business",
    request_body = BlockNumber,
    responses((status = 201, body = BlockedNumber), (status = 409, description = "Already blocked", body = ErrorBody), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn block_everywhere(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppJson(input): AppJson<BlockNumber>,
) -> Result<(StatusCode, AppJson<BlockedNumber>)> {
    block(&state, None, input).await
}

/// `DELETE /api/admin/blocked-numbers/{number}`.
#[utoipa::path(
    delete,
    path = "/blocked-numbers/{number}",
    tag = "admin",
    summary = "Unblock a number for every business",
    params(("number" = String, Path, description = "E.164, URL-encoded (%2B14155550123)")),
    responses((status = 200, body = Unblocked), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn unblock_everywhere(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(number): AppPath<String>,
) -> Result<AppJson<Unblocked>> {
    unblock(&state, None, &number).await
}
