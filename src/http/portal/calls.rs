//! The portal's calls: list, read, mark handled or not, archive (one or many), export.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::calls::{self, Call, CallRecord, CallRow};
use crate::db::customers;
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, InputErrors, NotFound, Result};
use crate::http::extract::{AppJson, AppPath, AppQuery, CustomerUser};
use crate::receptionist::hours::{start_of_local_day, time_zone};

/// Default and largest page of `/calls`.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// Most calls archived in one request.
const MAX_BULK: usize = 1_000;

/// The portal's call routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls))
        .routes(routes!(export_calls))
        .routes(routes!(bulk_archive))
        .routes(routes!(get_call))
        .routes(routes!(mark_handled))
        .routes(routes!(mark_unhandled))
        .routes(routes!(archive_call))
}

/// The `status` filter of the portal.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum HandledFilter {
    #[default]
    All,
    Handled,
    Unhandled,
}

impl HandledFilter {
    /// `NULL` for all, else the `handled` value to match.
    fn handled(self) -> Option<bool> {
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
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::invalid_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::invalid_field("offset", "must be 0 or more"));
    }
    let handled = query.status.handled();
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM calls WHERE customer_id = $1 AND NOT archived AND ($2::boolean IS NULL OR handled = $2)",
    )
    .bind(user.id)
    .bind(handled)
    .fetch_one(&state.db)
    .await?;
    let rows: Vec<CallRow> = sqlx::query_as(
        "SELECT c.*, cu.business_name AS customer_business_name FROM calls c JOIN customers cu ON cu.id = c.customer_id \
         WHERE c.customer_id = $1 AND NOT c.archived AND ($2::boolean IS NULL OR c.handled = $2) \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $3 OFFSET $4",
    )
    .bind(user.id)
    .bind(handled)
    .bind(limit)
    .bind(offset)
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

/// Runs `update` (with `$1` the call id, `$2` the business id) on one of the business's
/// calls and answers `{message, call}`.
async fn change_call(
    state: &AppState,
    user: CustomerUser,
    id: i64,
    update: &'static str,
    message: &'static str,
) -> Result<AppJson<PortalCallMessage>> {
    let changed = sqlx::query(update).bind(id).bind(user.id).execute(&state.db).await?;
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
    let sql =
        "UPDATE calls SET handled = true, handled_at = coalesce(handled_at, now()) WHERE id = $1 AND customer_id = $2";
    change_call(&state, user, id, sql, "Call marked as handled").await
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
    let sql = "UPDATE calls SET handled = false, handled_at = NULL WHERE id = $1 AND customer_id = $2";
    change_call(&state, user, id, sql, "Call marked as unhandled").await
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
    let sql = "UPDATE calls SET archived = true, archived_at = coalesce(archived_at, now()) WHERE id = $1 AND customer_id = $2";
    change_call(&state, user, id, sql, "Call archived").await
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
    let owned: Vec<i64> = sqlx::query_scalar("SELECT id FROM calls WHERE id = ANY($1) AND customer_id = $2 FOR UPDATE")
        .bind(&ids)
        .bind(user.id)
        .fetch_all(&mut *tx)
        .await?;
    if owned.len() != ids.len() {
        return Err(AppError::NotFound("one or more calls were not found; nothing was archived".into()));
    }
    sqlx::query("UPDATE calls SET archived = true, archived_at = coalesce(archived_at, now()) WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(AppJson(BulkArchived { message: format!("{} calls archived", ids.len()), archived_count: ids.len() }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `handled`, `unhandled` or `all` (default).
    #[serde(default)]
    #[param(inline)]
    status: HandledFilter,
    /// First day, `YYYY-MM-DD` in the business's time zone.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day, `YYYY-MM-DD` in the business's time zone.
    #[param(format = Date)]
    to: Option<String>,
}

/// Calls read per statement of an export.
const EXPORT_PAGE: i64 = 500;

#[derive(FromRow)]
struct ExportRow {
    id: i64,
    created_at: DateTime<Utc>,
    caller_phone: Option<String>,
    caller_name: Option<String>,
    duration_seconds: Option<i32>,
    status: String,
    intent: Option<String>,
    summary: Option<String>,
    handled: bool,
    archived: bool,
}

/// `GET /api/portal/calls/export.csv`: every call of the business (archived ones too)
/// in a date range of its own time zone, streamed row by row.
#[utoipa::path(
    get,
    path = "/calls/export.csv",
    tag = "portal",
    summary = "The business's calls as CSV",
    params(ExportQuery),
    responses((status = 200, description = "CSV: date, caller, duration_seconds, status, intent, summary, handled, archived", content_type = "text/csv", body = String), InputErrors, AuthErrors),
    security(("customer_token" = []))
)]
async fn export_calls(
    user: CustomerUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ExportQuery>,
) -> Result<Response> {
    let customer =
        customers::find(&state.db, user.id).await?.ok_or(AppError::Unauthorized("invalid or expired token"))?;
    let zone = time_zone(&customer.timezone);
    let from = query.from.as_deref().map(|raw| local_day_start("from", raw, zone, 0)).transpose()?;
    let to = query.to.as_deref().map(|raw| local_day_start("to", raw, zone, 1)).transpose()?;

    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let db = state.db.clone();
    let handled = query.status.handled();
    tokio::spawn(async move {
        let header =
            csv_line(&["date", "caller", "duration_seconds", "status", "intent", "summary", "handled", "archived"]);
        if sender.send(Ok(header)).await.is_err() {
            return;
        }
        // Read in pages, each on a connection taken and given back at once: a client that
        // reads slowly (or not at all) then holds no pool connection while it waits, so slow
        // downloads cannot starve Twilio's webhooks.
        let mut after: Option<(DateTime<Utc>, i64)> = None;
        loop {
            let page = sqlx::query_as::<_, ExportRow>(
                "SELECT id, created_at, caller_phone, caller_name, duration_seconds, status, intent, summary, handled, \
                        archived \
                 FROM calls WHERE customer_id = $1 AND ($2::boolean IS NULL OR handled = $2) \
                 AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4) \
                 AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6)) \
                 ORDER BY created_at DESC, id DESC LIMIT $7",
            )
            .bind(user.id)
            .bind(handled)
            .bind(from)
            .bind(to)
            .bind(after.map(|(at, _)| at))
            .bind(after.map(|(_, id)| id))
            .bind(EXPORT_PAGE)
            .fetch_all(&db)
            .await;
            let rows = match page {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::error!(%error, "CSV export failed midway");
                    let _ = sender.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            let Some(last) = rows.last() else { return };
            after = Some((last.created_at, last.id));
            let full_page = rows.len() as i64 == EXPORT_PAGE;
            let mut chunk = bytes::BytesMut::new();
            for row in &rows {
                chunk.extend_from_slice(&export_line(row, zone));
            }
            if sender.send(Ok(chunk.freeze())).await.is_err() || !full_page {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok((
        [(CONTENT_TYPE, "text/csv; charset=utf-8"), (CONTENT_DISPOSITION, "attachment; filename=\"calls.csv\"")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Midnight at the start of `raw` (`YYYY-MM-DD`) plus `days`, in `zone`, as UTC.
fn local_day_start(field: &str, raw: &str, zone: Tz, days: i64) -> Result<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|date| date.checked_add_signed(chrono::Duration::days(days)))
        .ok_or_else(|| AppError::invalid_field(field, "must be a date as YYYY-MM-DD"))?;
    Ok(start_of_local_day(zone, date))
}

fn export_line(row: &ExportRow, zone: Tz) -> bytes::Bytes {
    let date = row.created_at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string();
    let caller = match (&row.caller_name, &row.caller_phone) {
        (Some(name), Some(phone)) => format!("{name} ({phone})"),
        (name, phone) => name.clone().or_else(|| phone.clone()).unwrap_or_default(),
    };
    let duration = row.duration_seconds.map(|d| d.to_string()).unwrap_or_default();
    let handled = if row.handled { "yes" } else { "no" };
    let archived = if row.archived { "yes" } else { "no" };
    csv_line(&[
        &date,
        &caller,
        &duration,
        &row.status,
        row.intent.as_deref().unwrap_or_default(),
        row.summary.as_deref().unwrap_or_default(),
        handled,
        archived,
    ])
}

/// One CSV record: quoting by the `csv` crate, after neutralising cells a spreadsheet would
/// run as a formula.
fn csv_line(fields: &[&str]) -> bytes::Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields.iter().map(|field| neutralise_formula(field))).expect("writing to memory cannot fail");
    bytes::Bytes::from(writer.into_inner().expect("writing to memory cannot fail"))
}

/// Prefixes a cell starting with `=`, `+`, `-`, `@`, tab or carriage return with `'`, as
/// OWASP recommends against CSV formula injection.
fn neutralise_formula(field: &str) -> String {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{field}") } else { field.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        let line =
            csv_line(&["plain", "a,b", "say \"hi\"", "line\nbreak", "=HYPERLINK(\"x\")", "+1415", "-2", "@SUM(A1)"]);
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"'=HYPERLINK(\"\"x\"\")\",'+1415,'-2,'@SUM(A1)\n"
        );
    }

    #[test]
    fn dates_are_local_days() {
        let start = local_day_start("from", "2026-11-24", chrono_tz::America::New_York, 0).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-11-24T05:00:00+00:00");
        let end = local_day_start("to", "2026-11-24", chrono_tz::America::New_York, 1).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-11-25T05:00:00+00:00");
        assert!(local_day_start("from", "24/11/2026", chrono_tz::UTC, 0).is_err());
    }
}
