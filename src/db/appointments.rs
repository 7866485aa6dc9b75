//! Queries on `appointments` and `time_off`: a business's diary. The rules (what may be
//! booked) live in `crate::booking`; the database's exclusion constraint
//! ([`NO_OVERLAP_CONSTRAINT`]) is what makes a double booking impossible.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};

/// Two booked appointments of a business on one place overlap (buffers included).
pub const NO_OVERLAP_CONSTRAINT: &str = "appointments_no_overlap";

/// Whether an appointment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// In the diary.
    Booked,
    /// Cancelled (kept, for the calendar feed and the call's record).
    Cancelled,
}

/// Who put an appointment in the diary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AppointmentSource {
    /// The receptionist, during a call.
    Call,
    /// A text conversation.
    Sms,
    /// The business, in its portal.
    Portal,
    /// Staff, on the dashboard.
    Admin,
}

/// One appointment as stored.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct AppointmentRow {
    pub id: i64,
    pub customer_id: i64,
    /// The call that booked it, when a call did.
    pub call_id: Option<i64>,
    pub service: String,
    pub minutes: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `ends_at` plus the business's buffer when it was booked.
    pub blocks_until: DateTime<Utc>,
    /// Which of the business's places (chairs, staff) it holds, from 1.
    pub place: i16,
    pub caller_name: String,
    pub caller_phone: Option<String>,
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    pub source: AppointmentSource,
    /// Raised on every move (the calendar feed's `SEQUENCE`).
    pub sequence: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// What a new appointment holds; the place is chosen by the caller of [`insert`].
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub customer_id: i64,
    pub call_id: Option<i64>,
    pub service: String,
    pub minutes: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub blocks_until: DateTime<Utc>,
    pub caller_name: String,
    pub caller_phone: Option<String>,
    pub notes: Option<String>,
    pub source: AppointmentSource,
}

/// A stretch of time taken on one place: a booked appointment with its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub starts_at: DateTime<Utc>,
    pub blocks_until: DateTime<Utc>,
    pub place: i16,
}

/// Inserts a booked appointment on `place`. Fails on [`NO_OVERLAP_CONSTRAINT`] when that
/// place is taken meanwhile.
///
/// The statement first takes the business's booking lock (a transaction-level advisory
/// lock, released when the statement commits): without it, two inserts that conflict each
/// wait for the other's exclusion check and PostgreSQL breaks the deadlock with an error
/// (seen as 500s when 20 requests raced for two places on a throwaway cluster). With it, the
/// second waits for the first to commit, then meets the constraint as a clean violation.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewAppointment, place: i16) -> sqlx::Result<AppointmentRow> {
    sqlx::query_as!(
        AppointmentRow,
        r#"WITH lock AS (SELECT pg_advisory_xact_lock(8718001, ($1::bigint % 2147483647)::int))
           INSERT INTO appointments (customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place,
                                     caller_name, caller_phone, notes, source)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM lock
           RETURNING id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                     caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                     sequence, created_at, updated_at, cancelled_at"#,
        new.customer_id,
        new.call_id,
        new.service,
        new.minutes,
        new.starts_at,
        new.ends_at,
        new.blocks_until,
        place,
        new.caller_name,
        new.caller_phone,
        new.notes,
        new.source as AppointmentSource,
    )
    .fetch_one(db)
    .await
}

/// Moves a booked appointment to a new time and place in one statement: the new time is
/// taken and the old one released together, so a failure leaves the old one standing.
pub async fn reschedule(
    db: impl PgExecutor<'_>,
    id: i64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    blocks_until: DateTime<Utc>,
    place: i16,
) -> sqlx::Result<Option<AppointmentRow>> {
    sqlx::query_as!(
        AppointmentRow,
        r#"WITH lock AS (SELECT pg_advisory_xact_lock(8718001, (customer_id % 2147483647)::int)
                         FROM appointments WHERE id = $1)
           UPDATE appointments SET starts_at = $2, ends_at = $3, blocks_until = $4, place = $5,
                  sequence = sequence + 1, updated_at = now()
           FROM lock
           WHERE id = $1 AND status = 'booked'
           RETURNING id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                     caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                     sequence, created_at, updated_at, cancelled_at"#,
        id,
        starts_at,
        ends_at,
        blocks_until,
        place
    )
    .fetch_optional(db)
    .await
}

/// Changes the name and notes of an appointment.
pub async fn update_details(
    db: impl PgExecutor<'_>,
    id: i64,
    caller_name: &str,
    notes: Option<&str>,
) -> sqlx::Result<Option<AppointmentRow>> {
    sqlx::query_as!(
        AppointmentRow,
        r#"UPDATE appointments SET caller_name = $2, notes = $3, sequence = sequence + 1, updated_at = now()
           WHERE id = $1
           RETURNING id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                     caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                     sequence, created_at, updated_at, cancelled_at"#,
        id,
        caller_name,
        notes
    )
    .fetch_optional(db)
    .await
}

/// Cancels a booked appointment; `None` when it is not booked (already cancelled).
pub async fn cancel(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<AppointmentRow>> {
    sqlx::query_as!(
        AppointmentRow,
        r#"UPDATE appointments SET status = 'cancelled', cancelled_at = now(), sequence = sequence + 1,
                  updated_at = now()
           WHERE id = $1 AND status = 'booked'
           RETURNING id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                     caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                     sequence, created_at, updated_at, cancelled_at"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// One appointment of a business (never another business's).
pub async fn find(db: impl PgExecutor<'_>, customer_id: i64, id: i64) -> sqlx::Result<Option<AppointmentRow>> {
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                  caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                  sequence, created_at, updated_at, cancelled_at
           FROM appointments WHERE id = $1 AND customer_id = $2"#,
        id,
        customer_id
    )
    .fetch_optional(db)
    .await
}

/// A business's appointments starting in `[from, to)`, in order, with `status` if given,
/// and only those call `call_id` booked if given.
pub async fn list(
    db: impl PgExecutor<'_>,
    customer_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    status: Option<AppointmentStatus>,
    call_id: Option<i64>,
) -> sqlx::Result<Vec<AppointmentRow>> {
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                  caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                  sequence, created_at, updated_at, cancelled_at
           FROM appointments
           WHERE customer_id = $1 AND starts_at >= $2 AND starts_at < $3 AND ($4::text IS NULL OR status = $4)
             AND ($5::bigint IS NULL OR call_id = $5)
           ORDER BY starts_at, id"#,
        customer_id,
        from,
        to,
        status as Option<AppointmentStatus>,
        call_id
    )
    .fetch_all(db)
    .await
}

/// A caller's booked appointments at a business that start after `after`, soonest first.
pub async fn upcoming_for_caller(
    db: impl PgExecutor<'_>,
    customer_id: i64,
    caller_phone: &str,
    after: DateTime<Utc>,
) -> sqlx::Result<Vec<AppointmentRow>> {
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT id, customer_id, call_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name,
                  caller_phone, notes, status AS "status: AppointmentStatus", source AS "source: AppointmentSource",
                  sequence, created_at, updated_at, cancelled_at
           FROM appointments
           WHERE customer_id = $1 AND caller_phone = $2 AND status = 'booked' AND starts_at > $3
           ORDER BY starts_at, id LIMIT 10"#,
        customer_id,
        caller_phone,
        after
    )
    .fetch_all(db)
    .await
}

/// What is taken between `from` and `to` (booked appointments whose blocked time overlaps
/// the window), except the appointment `except` (the one being moved).
pub async fn taken_between(
    db: impl PgExecutor<'_>,
    customer_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<i64>,
) -> sqlx::Result<Vec<Taken>> {
    sqlx::query_as!(
        Taken,
        "SELECT starts_at, blocks_until, place FROM appointments
         WHERE customer_id = $1 AND status = 'booked' AND starts_at < $3 AND blocks_until > $2
               AND id IS DISTINCT FROM $4
         ORDER BY starts_at",
        customer_id,
        from,
        to,
        except
    )
    .fetch_all(db)
    .await
}

/// A range the business is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, utoipa::ToSchema)]
pub struct TimeOff {
    pub id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A business's time off that ends after `from` and starts before `to`, in order.
pub async fn time_off_between(
    db: impl PgExecutor<'_>,
    customer_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<TimeOff>> {
    sqlx::query_as!(
        TimeOff,
        "SELECT id, starts_at, ends_at, note, created_at FROM time_off
         WHERE customer_id = $1 AND ends_at > $2 AND starts_at < $3 ORDER BY starts_at, id",
        customer_id,
        from,
        to
    )
    .fetch_all(db)
    .await
}

/// Deletes an appointment that was never confirmed to anyone (its outside booking failed).
pub async fn discard(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM appointments WHERE id = $1", id).execute(db).await?;
    Ok(())
}

/// Stores the uid of an appointment's Cal.com booking.
pub async fn set_calcom_uid(db: impl PgExecutor<'_>, id: i64, uid: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE appointments SET calcom_uid = $2 WHERE id = $1", id, uid).execute(db).await?;
    Ok(())
}

/// The uid of an appointment's Cal.com booking, if it has one.
pub async fn calcom_uid(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<String>> {
    Ok(sqlx::query_scalar!("SELECT calcom_uid FROM appointments WHERE id = $1", id).fetch_optional(db).await?.flatten())
}
