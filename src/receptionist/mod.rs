//! The receptionist: what it knows about a business, how that becomes its instructions,
//! one turn of the conversation, its tools, the summary afterwards, and the TwiML it answers
//! with. Nothing here knows about the HTTP server; only the tools reach the database, through
//! the booking diary.

pub mod conversation;
pub mod hours;
pub mod instructions;
pub mod languages;
pub mod realtime;
pub mod summary;
pub mod texting;
pub mod tools;
pub mod twiml;

pub use instructions::{BusinessProfile, compile_instructions};
