//! `GET /api/portal/calls/export.csv`: a business's calls as a spreadsheet, streamed.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calls::HandledFilter;
use crate::db::customers;
use crate::http::AppState;
use crate::http::error::{AppError, AuthErrors, InputErrors, Result};
use crate::http::extract::{AppQuery, CustomerUser};
use crate::receptionist::hours::{start_of_local_day, time_zone};

/// The export's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_calls))
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
            let page = sqlx::query_as!(
                ExportRow,
                "SELECT id, created_at, caller_phone, caller_name, duration_seconds, status, intent, summary, handled, \
                        archived \
                 FROM calls WHERE customer_id = $1 AND NOT is_test AND ($2::boolean IS NULL OR handled = $2) \
                 AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4) \
                 AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::int8)) \
                 ORDER BY created_at DESC, id DESC LIMIT $7",
                user.id,
                handled,
                from,
                to,
                after.map(|(at, _)| at),
                after.map(|(_, id)| id),
                EXPORT_PAGE
            )
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

/// One CSV record: every cell quoted by the `csv` crate, after neutralising what a
/// spreadsheet would run as a formula. Quoting every cell, not only those with a comma,
/// keeps a cell whole in a spreadsheet that splits on `;` or tab (as many locales do).
fn csv_line(fields: &[&str]) -> bytes::Bytes {
    let mut writer = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(Vec::new());
    writer.write_record(fields.iter().map(|field| neutralise_formulas(field))).expect("writing to memory cannot fail");
    bytes::Bytes::from(writer.into_inner().expect("writing to memory cannot fail"))
}

/// Characters after which a spreadsheet may start a new cell: the separators it may split
/// on (`,` `;` tab, whatever the file's own delimiter is) and line breaks.
const CELL_BREAKS: [char; 5] = [',', ';', '\t', '\n', '\r'];
/// What makes a cell a formula, as OWASP lists them.
const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

/// Puts `'` before a formula at the start of the cell and at the start of every piece a
/// spreadsheet might read as a cell of its own (after a separator or a line break, and any
/// spaces), as OWASP recommends against CSV formula injection; a cell starting with a tab
/// or carriage return is prefixed too.
fn neutralise_formulas(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 2);
    if field.starts_with(['\t', '\r']) {
        out.push('\'');
    }
    let mut piece_start = true;
    for c in field.chars() {
        if piece_start && FORMULA_STARTS.contains(&c) {
            out.push('\'');
        }
        out.push(c);
        piece_start = CELL_BREAKS.contains(&c) || (piece_start && c == ' ');
    }
    out
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
            "\"plain\",\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\"'=HYPERLINK(\"\"x\"\")\",\"'+1415\",\"'-2\",\"'@SUM(A1)\"\n"
        );
    }

    #[test]
    fn formulas_after_any_separator_or_line_break_are_neutralised() {
        for (cell, safe) in [
            ("x;=1+2", "x;'=1+2"),
            ("x,+1", "x,'+1"),
            ("x\t@SUM(A1)", "x\t'@SUM(A1)"),
            ("first line\n=HYPERLINK(\"x\")", "first line\n'=HYPERLINK(\"x\")"),
            ("a\r\n-1", "a\r\n'-1"),
            ("a;  =1;;+2", "a;  '=1;;'+2"),
            ("\t=1", "'\t'=1"),
            ("  =1", "  '=1"),
            // Not after a separator: left alone.
            ("Ann (+14155550199) at 10:00-17:00, 2+2=4", "Ann (+14155550199) at 10:00-17:00, 2+2=4"),
        ] {
            assert_eq!(neutralise_formulas(cell), safe, "{cell:?}");
        }
        // The cell is quoted, so a `;`-splitting spreadsheet keeps it whole.
        assert_eq!(std::str::from_utf8(&csv_line(&["x;=1+2"])).unwrap(), "\"x;'=1+2\"\n");
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
