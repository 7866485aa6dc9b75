//! The portal's calls: list, read, mark handled or not, archive (one or many).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::calls::{self, Call, CallRecord, CallRow, Channel};
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, InputErrors, NotFound, Result};
use crate::http::extract::{AppJson, AppPath, AppQuery, CustomerUser};

/// Default and largest page of `/calls`.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// Most calls archived in one request.
const MAX_BULK: usize = 1_000;

/// The portal's call routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls))
        .routes(routes!(bulk_archive))
        .routes(routes!(get_call))
        .routes(routes!(mark_handled))
        .routes(routes!(mark_unhandled))
        .routes(routes!(archive_call))
}

/// The `status` filter of the portal.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum HandledFilter {
    #[default]
    All,
    Handled,
    Unhandled,
}

impl HandledFilter {
    /// `NULL` for all, else the `handled` value to match.
    pub(super) fn handled(self) -> Option<bool> {
        match self {
            HandledFilter::All => None,
            HandledFilter::Handled => Some(true),
            HandledFilter::Unhandled => Some(false),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `handled`, `unhandled` or `all` (default).
    #[serde(default)]
    #[param(inline)]
    status: HandledFilter,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// Calls to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<i64>,
    /// `voice`, `sms` (text conversations) or `all` (default).
    channel: Option<String>,
}

/// A slice of the business's calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalCallList {
    pub calls: Vec<Call>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// `GET /api/portal/calls`: the business's calls that are not archived, newest first.
#[utoipa::path(
    get,
    path = "/calls",
    tag = "portal",
    summary = "The business's calls, newest first, archived excluded",
    params(ListQuery),
    responses((status = 200, body = PortalCallList), InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn list_calls(
    user: CustomerUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<AppJson<PortalCallList>> {
    let limit = crate::http::validate::count("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::invalid_field("offset", "must be 0 or more"));
    }
    let handled = query.status.handled();
    let channel = crate::http::calls::channel_filter(query.channel.as_deref())?;
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "total!" FROM calls
           WHERE customer_id = $1 AND NOT archived AND NOT is_test AND ($2::boolean IS NULL OR handled = $2)
                 AND ($3::text IS NULL OR channel = $3)"#,
        user.id,
        handled,
        channel as Option<Channel>
    )
    .fetch_one(&state.db)
    .await?;
    let rows: Vec<CallRow> = sqlx::query_as(
        "SELECT c.*, cu.business_name AS customer_business_name FROM calls c JOIN customers cu ON cu.id = c.customer_id \
         WHERE c.customer_id = $1 AND NOT c.archived AND NOT c.is_test AND ($2::boolean IS NULL OR c.handled = $2) \
               AND ($5::text IS NULL OR c.channel = $5) \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $3 OFFSET $4",
    )
    .bind(user.id)
    .bind(handled)
    .bind(limit)
    .bind(offset)
    .bind(channel)
    .fetch_all(&state.db)
    .await?;
    let calls = rows.into_iter().map(CallRow::full).collect();
    Ok(AppJson(PortalCallList { calls, total, limit, offset }))
}

/// One of the business's calls; another business's is "not found".
async fn own_call(state: &AppState, user: CustomerUser, id: i64) -> Result<CallRow> {
    sqlx::query_as(
        "SELECT c.*, cu.business_name AS customer_business_name FROM calls c JOIN customers cu ON cu.id = c.customer_id \
         WHERE c.id = $1 AND c.customer_id = $2",
    )
        .bind(id)
        .bind(user.id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("call not found".into()))
}

/// A call as the portal shows it: its transcript is the list of lines.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalCall {
    #[serde(flatten)]
    pub record: CallRecord,
    pub transcript: Vec<TranscriptLine>,
}

/// A line of a call as the portal shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TranscriptLine {
    /// `caller` or `ai`.
    pub speaker: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// `GET /api/portal/calls/{id}`: the call, its transcript as the list of lines.
#[utoipa::path(
    get,
    path = "/calls/{id}",
    tag = "portal",
    summary = "A call with its transcript lines",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = PortalCall), NotFound, InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn get_call(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<PortalCall>> {
    let call = own_call(&state, user, id).await?;
    let transcript = calls::logs(&state.db, id)
        .await?
        .into_iter()
        .map(|log| TranscriptLine { speaker: log.speaker, message: log.message, timestamp: log.timestamp })
        .collect();
    Ok(AppJson(PortalCall { record: call.record, transcript }))
}

/// A changed call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortalCallMessage {
    pub message: &'static str,
    pub call: Call,
}

/// Answers `{message, call}` after an update of one of the business's calls (404 when the
/// update matched no call of the business).
async fn changed_call(
    state: &AppState,
    user: CustomerUser,
    id: i64,
    changed: sqlx::postgres::PgQueryResult,
    message: &'static str,
) -> Result<AppJson<PortalCallMessage>> {
    if changed.rows_affected() == 0 {
        return Err(AppError::NotFound("call not found".into()));
    }
    let call = own_call(state, user, id).await?;
    Ok(AppJson(PortalCallMessage { message, call: call.full() }))
}

/// `POST /api/portal/calls/{id}/mark-handled` (keeps the first time it was handled).
#[utoipa::path(
    post,
    path = "/calls/{id}/mark-handled",
    tag = "portal",
    summary = "Mark a call handled",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = PortalCallMessage), NotFound, InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn mark_handled(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<PortalCallMessage>> {
    let changed = sqlx::query!(
        "UPDATE calls SET handled = true, handled_at = coalesce(handled_at, now()) WHERE id = $1 AND customer_id = $2",
        id,
        user.id
    )
    .execute(&state.db)
    .await?;
    changed_call(&state, user, id, changed, "Call marked as handled").await
}

/// `POST /api/portal/calls/{id}/mark-unhandled`.
#[utoipa::path(
    post,
    path = "/calls/{id}/mark-unhandled",
    tag = "portal",
    summary = "Mark a call unhandled",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = PortalCallMessage), NotFound, InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn mark_unhandled(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<PortalCallMessage>> {
    let changed = sqlx::query!(
        "UPDATE calls SET handled = false, handled_at = NULL WHERE id = $1 AND customer_id = $2",
        id,
        user.id
    )
    .execute(&state.db)
    .await?;
    changed_call(&state, user, id, changed, "Call marked as unhandled").await
}

/// `POST /api/portal/calls/{id}/archive`.
#[utoipa::path(
    post,
    path = "/calls/{id}/archive",
    tag = "portal",
    summary = "Archive a call",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = PortalCallMessage), NotFound, InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn archive_call(
    user: CustomerUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<PortalCallMessage>> {
    let changed = sqlx::query!(
        "UPDATE calls SET archived = true, archived_at = coalesce(archived_at, now()) WHERE id = $1 AND customer_id = $2",
        id,
        user.id
    )
    .execute(&state.db)
    .await?;
    changed_call(&state, user, id, changed, "Call archived").await
}

/// Calls to archive together.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct BulkArchive {
    #[schema(min_items = 1, max_items = 1000)]
    call_ids: Vec<i64>,
}

/// How many calls were archived.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkArchived {
    pub message: String,
    pub archived_count: usize,
}

/// `POST /api/portal/calls/bulk-archive`: all or nothing; any id that is not the
/// business's answers 404 and changes nothing.
#[utoipa::path(
    post,
    path = "/calls/bulk-archive",
    tag = "portal",
    summary = "Archive several calls, all or nothing",
    request_body = BulkArchive,
    responses((status = 200, body = BulkArchived), NotFound, InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn bulk_archive(
    user: CustomerUser,
    State(state): State<AppState>,
    AppJson(input): AppJson<BulkArchive>,
) -> Result<AppJson<BulkArchived>> {
    let mut ids = input.call_ids;
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(AppError::invalid_field("call_ids", "must list at least one call id"));
    }
    if ids.len() > MAX_BULK {
        return Err(AppError::invalid_field("call_ids", format!("must list at most {MAX_BULK} ids")));
    }
    let mut tx = state.db.begin().await?;
    let owned =
        sqlx::query_scalar!("SELECT id FROM calls WHERE id = ANY($1) AND customer_id = $2 FOR UPDATE", &ids, user.id)
            .fetch_all(&mut *tx)
            .await?;
    if owned.len() != ids.len() {
        return Err(AppError::NotFound("one or more calls were not found; nothing was archived".into()));
    }
    sqlx::query!(
        "UPDATE calls SET archived = true, archived_at = coalesce(archived_at, now()) WHERE id = ANY($1)",
        &ids
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(AppJson(BulkArchived { message: format!("{} calls archived", ids.len()), archived_count: ids.len() }))
}
