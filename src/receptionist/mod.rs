//! The receptionist: what it knows about a business and how that becomes its instructions.
//! Nothing here knows about HTTP or the database.

pub mod instructions;
pub mod profile;

pub use instructions::{BusinessProfile, compile_instructions};
pub use profile::{AppointmentHandling, BusinessHours, DayHours, Faq, HolidayHours};
