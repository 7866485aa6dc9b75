//! Telling people about a change in the diary: the caller (a text from the business's
//! number) and the owner (email and text). Each goes through the durable job queue, so a
//! slow or failing provider never holds the request that changed the diary; the jobs are in
//! [`crate::jobs::appointments`].

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

use crate::db::appointments::AppointmentRow;
use crate::db::customers;
use crate::jobs::{
    self,
    appointments::{EmailOwner, Notice, RemindCaller, TextCaller, TextOwner},
};

/// What happened to an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Booked.
    Booked,
    /// Moved to another time.
    Moved,
    /// Cancelled.
    Cancelled,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Booked => "booked",
            Change::Moved => "moved",
            Change::Cancelled => "cancelled",
        }
    }
}

/// Who is told of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience {
    /// Text the caller (a confirmation, a move, a cancellation), as the business's settings allow.
    pub caller: bool,
    /// Email and text the owner.
    pub owner: bool,
}

/// Queues what a change tells the caller and the owner (and a booking's reminder).
pub async fn appointment_changed(
    db: &PgPool,
    appointment: &AppointmentRow,
    change: Change,
    audience: Audience,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    queue(db, &mut tx, appointment, change, audience, Utc::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// [`appointment_changed`] inside `tx`, for a caller that changes the diary in the same
/// transaction: the messages exist exactly when the change does.
///
/// - The caller's text about the change (booked, moved, cancelled) when `audience.caller`,
///   the appointment has a phone, and the business's `sms_confirmations` is on.
/// - The reminder, `reminder_hours` before the start: queued on a booking or move (replacing
///   the pending one: one per appointment) unless that time has already come, and removed
///   on a cancellation. It belongs to the appointment rather than to one change, so who is
///   told of the change does not matter; `reminder_hours` 0 turns it off.
/// - The owner's email, and text when the business has a `notification_phone`, when
///   `audience.owner`.
///
/// Whether the number has opted out of texts is checked when each text is sent.
pub async fn queue(
    db: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    appointment: &AppointmentRow,
    change: Change,
    audience: Audience,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(business) = customers::find(&mut **tx, appointment.customer_id).await? else { return Ok(()) };
    let settings = business.booking.as_ref().and_then(|booking| booking.parse()).unwrap_or_default();
    let id = appointment.id;
    let notice =
        Notice { appointment_id: id, change, sequence: appointment.sequence, starts_at: appointment.starts_at };
    let key = |whom: &str| format!("appointment-{id}-{whom}-{}-{}", change.as_str(), appointment.sequence);

    let has_phone = appointment.caller_phone.is_some();
    if audience.caller && has_phone && settings.sms_confirmations {
        jobs::enqueue(db, tx, TextCaller(notice), key("text-caller")).await?;
    }

    let reminder_key = format!("appointment-{id}-reminder");
    let reminder_at = appointment.starts_at - chrono::Duration::hours(i64::from(settings.reminder_hours));
    match change {
        Change::Booked | Change::Moved if has_phone && settings.reminder_hours > 0 && reminder_at > now => {
            let reminder =
                RemindCaller { appointment_id: id, sequence: appointment.sequence, starts_at: appointment.starts_at };
            jobs::enqueue_at(db, tx, reminder, reminder_key, reminder_at).await?;
        }
        // Booked inside the window, moved into it, cancelled: no reminder (one queued for
        // an earlier time would find the start changed and send nothing, but it need not wait).
        _ => jobs::dequeue(db, tx, &reminder_key).await?,
    }

    if audience.owner {
        jobs::enqueue(db, tx, EmailOwner(notice), key("email-owner")).await?;
        if business.notification_phone.is_some() {
            jobs::enqueue(db, tx, TextOwner(notice), key("text-owner")).await?;
        }
    }
    Ok(())
}
