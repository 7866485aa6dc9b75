//! Queries on `calls` and `call_logs` shared by several handlers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

/// A call row, with its business's name joined in. [`CallView::show`] shapes it for a view.
#[derive(Debug, Clone, FromRow)]
pub struct Call {
    pub id: i64,
    pub customer_id: i64,
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
    pub twilio_call_sid: Option<String>,
    pub duration_seconds: Option<i32>,
    pub status: String,
    pub direction: String,
    pub intent: Option<String>,
    pub callback_requested: bool,
    pub handled: bool,
    pub handled_at: Option<DateTime<Utc>>,
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub twilio_cost: f64,
    pub openai_cost: f64,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub transcript: Option<String>,
    /// Shown only in the admin view.
    pub customer_business_name: String,
}

/// Every [`Call`] column, of `calls c` joined with `customers cu`. A macro so queries stay
/// `concat!`ed static strings.
macro_rules! call_columns {
    () => {
        "c.id, c.customer_id, c.caller_phone, c.caller_name, c.twilio_call_sid, c.duration_seconds, \
         c.status, c.direction, c.intent, c.callback_requested, c.handled, c.handled_at, c.archived, \
         c.archived_at, c.twilio_cost, c.openai_cost, c.created_at, c.ended_at, c.summary, c.transcript, \
         cu.business_name AS customer_business_name"
    };
}
pub(crate) use call_columns;

/// The join [`call_columns`] reads from.
macro_rules! calls_with_business {
    () => {
        " FROM calls c JOIN customers cu ON cu.id = c.customer_id"
    };
}
pub(crate) use calls_with_business;

/// `SELECT <every Call column> FROM calls c JOIN customers cu`; queries append `WHERE ...`.
macro_rules! select_calls {
    () => {
        concat!("SELECT ", $crate::db::calls::call_columns!(), $crate::db::calls::calls_with_business!())
    };
}
pub(crate) use select_calls;

/// How a call is shown: the full record, or the admin view that keeps callers' words
/// private to the business (no transcript) and names the business instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallView {
    /// Every call field, transcript included.
    Full,
    /// `customer_business_name` and `summary`, no `transcript`.
    Admin,
}

impl CallView {
    /// From the `admin_view` query flag.
    pub fn from_flag(admin_view: bool) -> Self {
        if admin_view { CallView::Admin } else { CallView::Full }
    }
}

impl CallView {
    /// `call` as this view shows it, ready to serialize.
    pub fn show(self, call: Call) -> ShownCall {
        ShownCall { call, view: self }
    }
}

/// A call under a view: the full view has `transcript` and no business name, the admin
/// view the business name and no transcript. Serialized field by field (no JSON tree).
#[derive(Debug, Clone)]
pub struct ShownCall {
    call: Call,
    view: CallView,
}

impl Serialize for ShownCall {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let c = &self.call;
        let mut map = serializer.serialize_map(Some(21))?;
        map.serialize_entry("id", &c.id)?;
        map.serialize_entry("customer_id", &c.customer_id)?;
        map.serialize_entry("caller_phone", &c.caller_phone)?;
        map.serialize_entry("caller_name", &c.caller_name)?;
        map.serialize_entry("twilio_call_sid", &c.twilio_call_sid)?;
        map.serialize_entry("duration_seconds", &c.duration_seconds)?;
        map.serialize_entry("status", &c.status)?;
        map.serialize_entry("direction", &c.direction)?;
        map.serialize_entry("intent", &c.intent)?;
        map.serialize_entry("callback_requested", &c.callback_requested)?;
        map.serialize_entry("handled", &c.handled)?;
        map.serialize_entry("handled_at", &c.handled_at)?;
        map.serialize_entry("archived", &c.archived)?;
        map.serialize_entry("archived_at", &c.archived_at)?;
        map.serialize_entry("twilio_cost", &c.twilio_cost)?;
        map.serialize_entry("openai_cost", &c.openai_cost)?;
        map.serialize_entry("created_at", &c.created_at)?;
        map.serialize_entry("ended_at", &c.ended_at)?;
        map.serialize_entry("summary", &c.summary)?;
        match self.view {
            CallView::Full => map.serialize_entry("transcript", &c.transcript)?,
            CallView::Admin => map.serialize_entry("customer_business_name", &c.customer_business_name)?,
        }
        map.end()
    }
}

/// A call's JSON under a view, for handlers that add fields to it.
pub fn to_json(call: Call, view: CallView) -> serde_json::Value {
    serde_json::to_value(view.show(call)).expect("a call always serializes")
}

/// One line spoken in a call.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct CallLog {
    pub id: i64,
    pub call_id: i64,
    /// `caller` or `ai`.
    pub speaker: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// A call's lines in the order they were spoken.
pub async fn logs(db: impl PgExecutor<'_>, call_id: i64) -> sqlx::Result<Vec<CallLog>> {
    sqlx::query_as(
        "SELECT id, call_id, speaker, message, timestamp FROM call_logs \
         WHERE call_id = $1 ORDER BY timestamp, id",
    )
    .bind(call_id)
    .fetch_all(db)
    .await
}

/// The newest calls of one customer.
pub async fn recent_for_customer(db: impl PgExecutor<'_>, customer_id: i64, limit: i64) -> sqlx::Result<Vec<Call>> {
    sqlx::query_as(concat!(select_calls!(), " WHERE c.customer_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT $2"))
        .bind(customer_id)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Renders lines as a plain-text transcript, one `Speaker: words` line each.
pub fn transcript_text(logs: &[CallLog]) -> String {
    logs.iter()
        .map(|log| {
            let speaker = if log.speaker == "caller" { "Caller" } else { "AI" };
            format!("{speaker}: {}", log.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
