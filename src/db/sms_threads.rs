//! Queries on text conversations: a thread is a `calls` row with `channel = 'sms'` (its
//! messages are its `call_logs` lines) and an `sms_threads` row with its state.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

/// The thread a text joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thread {
    /// Its `calls` row.
    pub call_id: i64,
    /// Whether this text started it.
    pub started: bool,
}

/// Serializes the texts of one sender to one business until `tx` ends: the thread they
/// join, and the count of answers the hourly limit reads, are then decided one text at a
/// time.
pub async fn lock_sender(tx: &mut Transaction<'_, Postgres>, customer_id: i64, sender: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::int8::text || ':' || $2, 21))",
        customer_id,
        sender
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The open thread of `sender` at business `customer_id`, or a new one when there is none
/// or `idle_too_long` says so of its last message's time (that one is closed: its status,
/// end and transcript set as a call's are when it ends). Call [`lock_sender`] first.
pub async fn join(
    tx: &mut Transaction<'_, Postgres>,
    customer_id: i64,
    sender: &str,
    now: DateTime<Utc>,
    idle_too_long: impl FnOnce(DateTime<Utc>) -> bool,
) -> sqlx::Result<Thread> {
    let open = sqlx::query!(
        "SELECT call_id, last_message_at FROM sms_threads WHERE customer_id = $1 AND sender = $2 AND open",
        customer_id,
        sender
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(open) = open {
        if !idle_too_long(open.last_message_at) {
            sqlx::query!("UPDATE sms_threads SET last_message_at = $2 WHERE call_id = $1", open.call_id, now)
                .execute(&mut **tx)
                .await?;
            return Ok(Thread { call_id: open.call_id, started: false });
        }
        close(tx, open.call_id).await?;
    }
    let call_id = sqlx::query_scalar!(
        r#"WITH call AS (INSERT INTO calls (customer_id, caller_phone, status, direction, channel, created_at)
                         VALUES ($1, $2, 'in_progress', 'inbound', 'sms', $3) RETURNING id),
                thread AS (INSERT INTO sms_threads (call_id, customer_id, sender, last_message_at)
                           SELECT id, $1, $2, $3 FROM call)
           SELECT id AS "id!" FROM call"#,
        customer_id,
        sender,
        now
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(Thread { call_id, started: true })
}

/// Ends thread `call_id`: completed at its last message, with its transcript.
async fn close(tx: &mut Transaction<'_, Postgres>, call_id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        r#"WITH thread AS (UPDATE sms_threads SET open = false WHERE call_id = $1 RETURNING last_message_at)
           UPDATE calls c SET status = 'completed', ended_at = (SELECT last_message_at FROM thread),
                  transcript = (SELECT string_agg(CASE l.speaker WHEN 'caller' THEN 'Caller' ELSE 'AI' END || ': ' || l.message,
                                                  E'\n' ORDER BY l.timestamp, l.id)
                                FROM call_logs l WHERE l.call_id = c.id)
           WHERE c.id = $1"#,
        call_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a message to thread `call_id` (`caller` or `ai`) and what it cost: `twilio_cost`
/// for the text itself, `openai_cost` for the model's answer.
pub async fn add_message(
    db: impl sqlx::PgExecutor<'_>,
    call_id: i64,
    speaker: &str,
    message: &str,
    twilio_cost: f64,
    openai_cost: f64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH line AS (INSERT INTO call_logs (call_id, speaker, message) VALUES ($1, $2, $3))
         UPDATE calls SET twilio_cost = twilio_cost + $4::float8, openai_cost = openai_cost + $5::float8 WHERE id = $1",
        call_id,
        speaker,
        message,
        twilio_cost,
        openai_cost
    )
    .execute(db)
    .await?;
    Ok(())
}

/// How many of the sender's texts were answered by the model, and how many got the limit
/// line, in the hour before `now` (call [`lock_sender`] first, so the count stays true
/// until this text is recorded).
pub async fn answers_last_hour(
    tx: &mut Transaction<'_, Postgres>,
    customer_id: i64,
    sender: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<(i64, i64)> {
    let counts = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE outcome = 'answered') AS "answered!",
                  count(*) FILTER (WHERE outcome = 'limited') AS "limited!"
           FROM inbound_texts
           WHERE customer_id = $1 AND sender = $2 AND outcome IN ('answered', 'limited')
                 AND received_at > $3::timestamptz - interval '1 hour'"#,
        customer_id,
        sender,
        now
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((counts.answered, counts.limited))
}

/// Records which thread inbound text `message_sid` joined and what it got.
pub async fn record_text(
    tx: &mut Transaction<'_, Postgres>,
    message_sid: &str,
    sender: &str,
    call_id: Option<i64>,
    outcome: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE inbound_texts SET sender = $2, call_id = $3, outcome = $4 WHERE message_sid = $1",
        message_sid,
        sender,
        call_id,
        outcome
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the owner's next notice of thread `call_id` at `now` unless one was taken after
/// `quiet_since`: its number (1 for the first), or `None`.
pub async fn take_notice(
    tx: &mut Transaction<'_, Postgres>,
    call_id: i64,
    now: DateTime<Utc>,
    quiet_since: DateTime<Utc>,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "UPDATE sms_threads SET owner_notified_at = $2, owner_notices = owner_notices + 1
         WHERE call_id = $1 AND (owner_notified_at IS NULL OR owner_notified_at <= $3)
         RETURNING owner_notices",
        call_id,
        now,
        quiet_since
    )
    .fetch_optional(&mut **tx)
    .await
}
