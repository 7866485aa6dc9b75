//! Queries on `calls` and `call_logs` shared by several handlers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};

/// How a conversation reached the business: a phone call or a text thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A phone call.
    Voice,
    /// A text conversation (its messages are the lines).
    Sms,
}

impl Channel {
    /// The name the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Sms => "sms",
        }
    }
}

/// A call as every view shows it: the one list of a call's fields. The views add what
/// only they show ([`Call`], [`AdminCall`], the portal's call with its lines).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct CallRecord {
    pub id: i64,
    pub customer_id: i64,
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
    pub twilio_call_sid: Option<String>,
    /// `voice` (a phone call) or `sms` (a text conversation).
    pub channel: Channel,
    pub duration_seconds: Option<i32>,
    /// `in_progress`, then Twilio's final status: `completed`, `busy`, `failed`, `no-answer`, `canceled`.
    pub status: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `appointment`, `question`, `message`, `complaint` or `other`, once summarised.
    pub intent: Option<String>,
    pub callback_requested: bool,
    pub handled: bool,
    pub handled_at: Option<DateTime<Utc>>,
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    /// US dollars.
    pub twilio_cost: f64,
    /// US dollars.
    pub openai_cost: f64,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
}

/// A call as queries read it: the record, its transcript and its business's name, from
/// `SELECT c.*, cu.business_name AS customer_business_name FROM calls c JOIN customers cu
/// ON cu.id = c.customer_id` (`FromRow` takes the columns it knows).
#[derive(Debug, Clone, FromRow)]
pub struct CallRow {
    #[sqlx(flatten)]
    pub record: CallRecord,
    pub transcript: Option<String>,
    pub customer_business_name: String,
}

/// A call with its transcript (the business's view, and the admin's full view).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Call {
    #[serde(flatten)]
    pub record: CallRecord,
    /// The whole conversation, `Caller: ...` / `AI: ...` lines, once the call ended.
    pub transcript: Option<String>,
}

/// A call in the admin view: its business's name and no transcript (callers' words stay
/// private to the business).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminCall {
    #[serde(flatten)]
    pub record: CallRecord,
    pub customer_business_name: String,
}

/// A call in the view the request asked for (`admin_view`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CallInView {
    /// With its transcript.
    Full(Call),
    /// With its business's name, without its transcript.
    Admin(AdminCall),
}

impl CallRow {
    /// The call with its transcript.
    pub fn full(self) -> Call {
        Call { record: self.record, transcript: self.transcript }
    }

    /// The call in the admin view (`admin_view = true`) or with its transcript.
    pub fn in_view(self, admin_view: bool) -> CallInView {
        if admin_view {
            CallInView::Admin(AdminCall { record: self.record, customer_business_name: self.customer_business_name })
        } else {
            CallInView::Full(self.full())
        }
    }
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
    sqlx::query_as!(
        CallLog,
        "SELECT id, call_id, speaker, message, timestamp FROM call_logs WHERE call_id = $1 ORDER BY timestamp, id",
        call_id
    )
    .fetch_all(db)
    .await
}

/// The newest calls of one customer.
pub async fn recent_for_customer(db: impl PgExecutor<'_>, customer_id: i64, limit: i64) -> sqlx::Result<Vec<CallRow>> {
    sqlx::query_as(
        "SELECT c.*, cu.business_name AS customer_business_name FROM calls c JOIN customers cu ON cu.id = c.customer_id \
         WHERE c.customer_id = $1 AND NOT c.is_test ORDER BY c.created_at DESC, c.id DESC LIMIT $2",
    )
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
