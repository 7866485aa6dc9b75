//! Appointment booking: what a business offers and when it is free. Pure rules, no
//! database and no clock: [`settings`] reads and checks the `booking` object a business sets,
//! and [`slots`] computes free times from its hours, time off and appointments.

pub mod diary;
pub mod notices;
pub mod settings;
pub mod slots;

pub use settings::{BookingSettings, Price, Service};
pub use slots::{
    Availability, Busy, OpeningPeriod, Rules, SlotRequest, TimeOff, free_place, label, resolve_local_time,
};
