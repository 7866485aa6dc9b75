//! What a change in the diary is, and who is told of it. The telling itself (texts to the
//! caller, the owner's email and text, the reminder) is queued by
//! [`crate::jobs::appointments::appointment_changed`], above the diary.

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
    /// The word for it (`booked`, `moved`, `cancelled`).
    pub fn as_str(self) -> &'static str {
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
