//! Compiles a business's structured settings into the receptionist's instructions: the
//! text the model is given as its system prompt on every call. A pure function, so the
//! admin API, the portal and the phone conversation all compile the same text.

use std::fmt::Write as _;

use crate::profile::{AppointmentHandling, BusinessHours, Faq};

/// The settings the instructions are compiled from.
#[derive(Debug, Clone, Copy)]
pub struct BusinessProfile<'a> {
    /// The business's name, as the receptionist says it.
    pub business_name: &'a str,
    /// What kind of business it is ("hair salon", "dental practice").
    pub business_type: Option<&'a str>,
    /// Free text listing the services.
    pub services_offered: Option<&'a str>,
    /// Weekly opening hours.
    pub business_hours: Option<&'a BusinessHours>,
    /// Holiday hours, free text as the business wrote it ("Closed on Christmas Day").
    pub holiday_hours: Option<&'a str>,
    /// IANA time zone the hours are in.
    pub timezone: &'a str,
    /// Questions with the answers to give.
    pub faqs: &'a [Faq],
    /// How appointment requests are handled.
    pub appointment_handling: AppointmentHandling,
    /// Free text about prices.
    pub pricing_info: Option<&'a str>,
    /// Anything else the owner wants followed.
    pub special_instructions: Option<&'a str>,
    /// Where calls are transferred when a person is needed.
    pub forward_to_number: Option<&'a str>,
}

/// How every DeskRinger receptionist behaves, whatever the business.
const GENERAL_BEHAVIOUR: &str = "\
## How to behave
- You are speaking on the phone: keep every reply short (one to three sentences), warm and natural.
- Never invent facts about the business. If you do not know something, say so and offer to take a message.
- Ask one question at a time. Confirm names, phone numbers and times by repeating them back.
- When the caller wants to leave a message, take their name, a callback number and the message.
- Do not give medical, legal or financial advice. In an emergency, tell the caller to hang up and dial 911.
- Before the call ends, summarise what will happen next and thank the caller.";

/// Builds the instructions. Empty or missing fields are left out rather than rendered
/// as blanks, so the model is never told "Services: " with nothing after it.
pub fn compile_instructions(profile: &BusinessProfile<'_>) -> String {
    let mut out = String::new();
    let name = profile.business_name.trim();
    let forward_to = non_empty(profile.forward_to_number);
    match non_empty(profile.business_type) {
        Some(kind) => {
            let _ = writeln!(out, "You are the friendly phone receptionist for {name}, a {kind}.");
        }
        None => {
            let _ = writeln!(out, "You are the friendly phone receptionist for {name}.");
        }
    }
    out.push_str("You answer calls on the business's behalf, help callers and make sure nothing they need is lost.\n");

    if let Some(services) = non_empty(profile.services_offered) {
        let _ = write!(out, "\n## Services\n{services}\n");
    }

    if let Some(hours) = profile.business_hours.filter(|hours| !hours.is_empty()) {
        let _ = writeln!(out, "\n## Opening hours ({})", profile.timezone);
        for (day, day_hours) in hours.days() {
            let text = day_hours.map_or_else(|| "closed".to_owned(), ToString::to_string);
            let _ = writeln!(out, "- {day}: {text}");
        }
    }

    if let Some(holidays) = non_empty(profile.holiday_hours) {
        let _ =
            write!(out, "\n## Holiday hours (on the days they name, these override the weekly hours)\n{holidays}\n");
    }

    if !profile.faqs.is_empty() {
        out.push_str("\n## Frequently asked questions\n");
        for faq in profile.faqs {
            let _ = writeln!(out, "- Q: {}\n  A: {}", faq.question, faq.answer);
        }
    }

    out.push_str("\n## Appointments\n");
    out.push_str(appointment_instructions(profile.appointment_handling, forward_to.is_some()));
    out.push('\n');

    if let Some(pricing) = non_empty(profile.pricing_info) {
        let _ = write!(out, "\n## Pricing\n{pricing}\n");
    }

    out.push_str("\n## Transferring to a person\n");
    // The number is written in (as the service this replaces did) so that an admin reading
    // the compiled text sees where transfers go; the transfer itself is the call's tool.
    if let Some(number) = forward_to {
        let _ = write!(
            out,
            "When a caller wants a person, has an urgent problem, or needs something you cannot help with, \
             you can transfer them to: {number}\n\
             Check that the caller wants to be transferred before you do it.\n",
        );
    } else {
        out.push_str("No one is available to take transfers: offer to take a message instead.\n");
    }

    if let Some(special) = non_empty(profile.special_instructions) {
        let _ = write!(out, "\n## Special instructions from the business\n{special}\n");
    }

    out.push('\n');
    out.push_str(GENERAL_BEHAVIOUR);
    out
}

fn appointment_instructions(handling: AppointmentHandling, can_transfer: bool) -> &'static str {
    match handling {
        AppointmentHandling::CollectDetails => {
            "Take the caller's name, phone number, preferred day and time, and the reason for the visit. \
             Tell them the team will confirm the appointment."
        }
        AppointmentHandling::Callback => {
            "Take the caller's name and phone number and tell them a member of staff will call back to book."
        }
        AppointmentHandling::Transfer if can_transfer => {
            "Offer to transfer the caller to a member of staff who can book the appointment."
        }
        AppointmentHandling::Transfer => {
            "Take the caller's name, phone number and preferred time; staff will call back to book."
        }
        AppointmentHandling::BookingLink => {
            "Tell the caller they can book online, and offer to take their details if they prefer a call back."
        }
        AppointmentHandling::CallBackLater => {
            "Ask the caller to call back during opening hours to book, or offer to take a message."
        }
        AppointmentHandling::Book => {
            "Book appointments yourself with your tools: check_availability for free times (offer what it \
             returns, never a time it did not), then book_appointment with the caller's name once they choose \
             one. For the caller's own appointments use find_appointments, then reschedule_appointment or \
             cancel_appointment. Confirm what you booked, moved or cancelled. If the tools cannot book, take the \
             caller's name, phone number and preferred time, and say the team will confirm."
        }
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn salon_hours() -> BusinessHours {
        serde_json::from_value(json!({
            "monday": {"open": "09:00", "close": "17:00"},
            "saturday": {"open": "10:00", "close": "14:00"},
            "sunday": {"closed": true}
        }))
        .unwrap()
    }

    fn minimal(name: &str) -> BusinessProfile<'_> {
        BusinessProfile {
            business_name: name,
            business_type: None,
            services_offered: None,
            business_hours: None,
            holiday_hours: None,
            timezone: "America/New_York",
            faqs: &[],
            appointment_handling: AppointmentHandling::default(),
            pricing_info: None,
            special_instructions: None,
            forward_to_number: None,
        }
    }

    #[test]
    fn every_structured_field_reaches_the_instructions() {
        let hours = salon_hours();
        let faqs =
            vec![Faq { question: "Do you have parking?".into(), answer: "Yes, free parking behind the salon.".into() }];
        let profile = BusinessProfile {
            business_name: "Bella Hair",
            business_type: Some("hair salon"),
            services_offered: Some("Cuts, colour, blow-dry"),
            business_hours: Some(&hours),
            holiday_hours: Some("Closed on Christmas Day"),
            timezone: "Europe/London",
            faqs: &faqs,
            appointment_handling: AppointmentHandling::BookingLink,
            pricing_info: Some("Cuts from $45"),
            special_instructions: Some("Never book colour on Saturdays."),
            forward_to_number: Some("+14155550100"),
        };

        let text = compile_instructions(&profile);

        for expected in [
            "receptionist for Bella Hair, a hair salon.",
            "## Services\nCuts, colour, blow-dry",
            "## Opening hours (Europe/London)",
            "- Monday: 09:00-17:00",
            "- Tuesday: closed",
            "- Saturday: 10:00-14:00",
            "- Sunday: closed",
            "## Holiday hours (on the days they name, these override the weekly hours)\nClosed on Christmas Day\n",
            "Q: Do you have parking?\n  A: Yes, free parking behind the salon.",
            "book online",
            "## Pricing\nCuts from $45",
            "you can transfer them to: +14155550100\n",
            "Never book colour on Saturdays.",
            "## How to behave",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn empty_fields_are_left_out() {
        let mut profile = minimal("Joe's Diner");
        profile.services_offered = Some("   ");
        let text = compile_instructions(&profile);
        assert!(text.starts_with("You are the friendly phone receptionist for Joe's Diner.\n"));
        for absent in ["## Services", "## Opening hours", "## Holiday", "## Frequently", "## Pricing", "## Special"] {
            assert!(!text.contains(absent), "{absent} should be absent:\n{text}");
        }
        assert!(text.contains("offer to take a message instead"));
    }

    #[test]
    fn transfer_handling_without_a_number_falls_back_to_a_callback() {
        let mut profile = minimal("Clinic");
        profile.appointment_handling = AppointmentHandling::Transfer;
        assert!(compile_instructions(&profile).contains("staff will call back to book"));
        profile.forward_to_number = Some("+14155550100");
        assert!(
            compile_instructions(&profile).contains("Offer to transfer the caller to a member of staff who can book")
        );
    }

    #[test]
    fn the_forward_number_is_written_into_the_transfer_section() {
        let mut profile = minimal("Bella Hair");
        profile.forward_to_number = Some("+14155550100");
        let text = compile_instructions(&profile);
        assert!(
            text.contains(
                "## Transferring to a person\n\
                 When a caller wants a person, has an urgent problem, or needs something you cannot help with, \
                 you can transfer them to: +14155550100\n\
                 Check that the caller wants to be transferred before you do it.\n"
            ),
            "{text}"
        );

        for missing in [None, Some(""), Some("  ")] {
            profile.forward_to_number = missing;
            let text = compile_instructions(&profile);
            assert!(!text.contains("transfer them to:"), "{missing:?}: {text}");
            assert!(
                text.contains("## Transferring to a person\nNo one is available to take transfers: offer to take a message instead.\n"),
                "{missing:?}: {text}"
            );
        }
    }

    #[test]
    fn compiling_is_deterministic() {
        let hours = salon_hours();
        let mut profile = minimal("Same");
        profile.business_hours = Some(&hours);
        assert_eq!(compile_instructions(&profile), compile_instructions(&profile));
    }
}
