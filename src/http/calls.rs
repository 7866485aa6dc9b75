//! `/api/calls`: staff read the calls every business received.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::Counted;
use crate::db::call_totals;
use crate::db::calls::{self, CallInView, CallLog, CallRow, Channel};
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, InputErrors, NotFound, Result};
use crate::http::extract::{AdminUser, AppJson, AppPath, AppQuery};
use crate::http::figures;
use crate::http::pagination::{Page, PageInfo};
use crate::http::validate;

/// Every call status, as the `status` filter accepts it.
pub const CALL_STATUSES: &[&str] =
    &["queued", "ringing", "in_progress", "completed", "busy", "failed", "no-answer", "canceled"];
/// Default and largest `days` of `/stats`.
const DEFAULT_STATS_DAYS: i64 = 30;
const MAX_STATS_DAYS: i64 = 3660;
/// Default and largest `limit` of `/recent`.
const DEFAULT_RECENT_LIMIT: i64 = 10;
const MAX_RECENT_LIMIT: i64 = 100;

/// Routes under `/api/calls`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls))
        .routes(routes!(get_call_stats))
        .routes(routes!(list_recent_calls))
        .routes(routes!(get_call))
        .routes(routes!(get_call_transcript))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this business's calls.
    customer_id: Option<i64>,
    /// A call status; `all` or absent for every status.
    status: Option<String>,
    /// 1-based page.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
    /// `voice`, `sms` (text conversations) or `all` (default).
    channel: Option<String>,
    /// `true` for the admin view: business name, no transcript.
    #[serde(default)]
    admin_view: bool,
}

/// The `channel` filter of the call lists: `voice`, `sms`, or `all` (absent or empty) for
/// both; anything else is a 422 naming `channel`.
pub fn channel_filter(raw: Option<&str>) -> Result<Option<Channel>> {
    match raw.map(str::trim) {
        None | Some("") | Some("all") => Ok(None),
        Some("voice") => Ok(Some(Channel::Voice)),
        Some("sms") => Ok(Some(Channel::Sms)),
        Some(_) => Err(AppError::invalid_field("channel", "must be voice, sms or all")),
    }
}

/// A page of calls, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallPage {
    pub calls: Vec<CallInView>,
    #[serde(flatten)]
    pub page: PageInfo,
}

/// `GET /api/calls/`: newest first, filtered by business, status and channel.
#[utoipa::path(
    get,
    path = "/",
    tag = "calls",
    summary = "List calls, newest first",
    params(ListQuery),
    responses((status = 200, body = CallPage), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn list_calls(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<AppJson<CallPage>> {
    let page = Page::from_query(query.page, query.per_page)?;
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(status) => Some(validate::one_of("status", status, CALL_STATUSES)?),
    };
    let channel = channel_filter(query.channel.as_deref())?;
    // One statement per combination of filters, without `$n IS NULL OR ...`: PostgreSQL
    // can then keep one plan per statement instead of planning every request. Each row
    // carries the total: of every business from the running totals (migration 5), else
    // counted from the calls that match.
    let mut conditions = vec!["NOT c.is_test".to_owned()];
    let mut parameter = 2;
    let mut next = |condition: &str| {
        parameter += 1;
        conditions.push(condition.replace('?', &format!("${parameter}")));
    };
    if query.customer_id.is_some() {
        next("c.customer_id = ?");
    }
    if status.is_some() {
        next("c.status = ?");
    }
    if channel.is_some() {
        next("c.channel = ?");
    }
    let filters = conditions.join(" AND ");
    let total = match (query.customer_id, &status, channel) {
        (None, None, None) => "(SELECT coalesce(sum(calls), 0)::int8 FROM call_status_totals)".to_owned(),
        (None, Some(_), None) => {
            "(SELECT coalesce(sum(calls), 0)::int8 FROM call_status_totals WHERE status = $3)".to_owned()
        }
        _ => format!("(SELECT count(*) FROM calls c WHERE {filters})"),
    };
    let sql = format!(
        "SELECT c.*, cu.business_name AS customer_business_name, {total} AS total \
         FROM calls c JOIN customers cu ON cu.id = c.customer_id WHERE {filters} \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $1 OFFSET $2"
    );
    let (rows, total) = page
        .rows_and_total(|limit, offset| {
            // Built from the fixed fragments above only; every value is bound.
            let mut statement =
                sqlx::query_as::<_, Counted<CallRow>>(sqlx::AssertSqlSafe(sql.clone())).bind(limit).bind(offset);
            if let Some(customer_id) = query.customer_id {
                statement = statement.bind(customer_id);
            }
            if let Some(status) = &status {
                statement = statement.bind(status);
            }
            if let Some(channel) = channel {
                statement = statement.bind(channel);
            }
            statement.fetch_all(&state.db)
        })
        .await?;
    let calls = rows.into_iter().map(|call| call.in_view(query.admin_view)).collect();
    Ok(AppJson(CallPage { calls, page: page.info(total) }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ViewQuery {
    #[serde(default)]
    admin_view: bool,
}

/// A call with its lines (the admin view has no lines).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallWithLogs {
    #[serde(flatten)]
    pub call: CallInView,
    /// Absent in the admin view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<CallLog>>,
}

/// `GET /api/calls/{id}`: the call with its lines; the admin view has neither transcript
/// nor lines.
#[utoipa::path(
    get,
    path = "/{id}",
    tag = "calls",
    summary = "A call with its lines",
    params(("id" = i64, Path, description = "Row id"), ViewQuery),
    responses((status = 200, body = CallWithLogs), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn get_call(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
    AppQuery(query): AppQuery<ViewQuery>,
) -> Result<AppJson<CallWithLogs>> {
    let call = find_call(&state, id).await?;
    let logs = if query.admin_view { None } else { Some(calls::logs(&state.db, id).await?) };
    Ok(AppJson(CallWithLogs { call: call.in_view(query.admin_view), logs }))
}

/// A call's transcript, as text and as lines.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Transcript {
    pub call_id: i64,
    pub transcript: String,
    pub logs: Vec<CallLog>,
}

/// `GET /api/calls/{id}/transcript`: the stored transcript, or one built from the lines
/// while the call has none yet.
#[utoipa::path(
    get,
    path = "/{id}/transcript",
    tag = "calls",
    summary = "A call's transcript",
    params(("id" = i64, Path, description = "Row id")),
    responses((status = 200, body = Transcript), NotFound, InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn get_call_transcript(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppPath(id): AppPath<i64>,
) -> Result<AppJson<Transcript>> {
    let call = find_call(&state, id).await?;
    let logs = calls::logs(&state.db, id).await?;
    let transcript = call.transcript.unwrap_or_else(|| calls::transcript_text(&logs));
    Ok(AppJson(Transcript { call_id: id, transcript, logs }))
}

async fn find_call(state: &AppState, id: i64) -> Result<CallRow> {
    sqlx::query_as(
        "SELECT c.*, cu.business_name AS customer_business_name FROM calls c JOIN customers cu ON cu.id = c.customer_id \
         WHERE c.id = $1",
    )
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("call not found".into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// Only this business's calls.
    customer_id: Option<i64>,
    /// The period: the last `days` days (default 30).
    #[param(minimum = 1, maximum = 3660)]
    days: Option<i64>,
}

/// Call figures over a period; every figure counts the same calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallStats {
    pub period_days: i64,
    pub total_calls: i64,
    pub completed_calls: i64,
    pub failed_calls: i64,
    /// Seconds, two decimals.
    pub avg_duration_seconds: f64,
    pub callback_requests: i64,
    pub costs: Costs,
}

/// What the calls cost, in US dollars.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Costs {
    pub twilio: f64,
    pub openai: f64,
    pub total: f64,
}

/// `GET /api/calls/stats`: every figure over the same period (the last `days` days) and
/// the same business, in one aggregate statement.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "calls",
    summary = "Call figures over a period",
    params(StatsQuery),
    responses((status = 200, body = CallStats), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn get_call_stats(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<StatsQuery>,
) -> Result<AppJson<CallStats>> {
    let days = validate::count("days", query.days, DEFAULT_STATS_DAYS, MAX_STATS_DAYS)?;
    let figures = call_totals::period_figures(&state.db, days as i32, query.customer_id).await?;
    Ok(AppJson(CallStats {
        period_days: days,
        total_calls: figures.total_calls,
        completed_calls: figures.completed_calls,
        failed_calls: figures.failed_calls,
        avg_duration_seconds: figures::average(figures.avg_duration_seconds.unwrap_or(0.0)),
        callback_requests: figures.callback_requests,
        costs: Costs {
            twilio: figures::money(figures.twilio_cost),
            openai: figures::money(figures.openai_cost),
            total: figures::money(figures.twilio_cost + figures.openai_cost),
        },
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RecentQuery {
    /// How many, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    customer_id: Option<i64>,
    #[serde(default)]
    admin_view: bool,
}

/// The newest calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallList {
    pub calls: Vec<CallInView>,
}

/// `GET /api/calls/recent`: the newest calls, optionally of one business.
#[utoipa::path(
    get,
    path = "/recent",
    tag = "calls",
    summary = "The newest calls",
    params(RecentQuery),
    responses((status = 200, body = CallList), InputErrors, AuthErrors),
    security(("admin_token" = []))
)]
async fn list_recent_calls(
    _admin: AdminUser,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<RecentQuery>,
) -> Result<AppJson<CallList>> {
    let limit = validate::count("limit", query.limit, DEFAULT_RECENT_LIMIT, MAX_RECENT_LIMIT)?;
    let rows: Vec<CallRow> = match query.customer_id {
        Some(customer_id) => calls::recent_for_customer(&state.db, customer_id, limit).await?,
        None => {
            sqlx::query_as(
                "SELECT c.*, cu.business_name AS customer_business_name \
                 FROM calls c JOIN customers cu ON cu.id = c.customer_id WHERE NOT c.is_test \
                 ORDER BY c.created_at DESC, c.id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&state.db)
            .await?
        }
    };
    Ok(AppJson(CallList { calls: rows.into_iter().map(|call| call.in_view(query.admin_view)).collect() }))
}
