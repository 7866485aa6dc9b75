//! Text conversations: the rules a text thread follows, as plain functions (the webhook in
//! `http::webhooks::twilio::sms` carries them out).
//!
//! - A thread is one per business and sender; a text more than [`THREAD_IDLE`] after the
//!   thread's last message starts a new one.
//! - A sender gets at most [`MAX_ANSWERS_PER_HOUR`] answers from the model in any hour; the
//!   next text gets [`LIMIT_LINE`] once, and later ones nothing, until the hour frees up.
//! - The owner hears of a thread when it starts, and then at most once per
//!   [`NOTICE_INTERVAL`].

use chrono::{DateTime, Duration, Utc};

use super::conversation::BusinessContext;
use crate::db::customers::Customer;

/// How long a thread may sit idle before the next text starts a new one.
pub const THREAD_IDLE: Duration = Duration::hours(24);
/// Most model answers one sender gets in an hour.
pub const MAX_ANSWERS_PER_HOUR: i64 = 10;
/// The shortest time between two notices to the owner about one thread.
pub const NOTICE_INTERVAL: Duration = Duration::hours(1);
/// Longest reply texted back (Twilio's limit for one message is 1,600 characters).
pub const MAX_REPLY_CHARS: usize = 1_600;
/// Said once when a sender has had [`MAX_ANSWERS_PER_HOUR`] answers in the last hour.
pub const LIMIT_LINE: &str = "Thanks for your messages. Someone from the team will reply to you soon.";
/// Said when the model wants a person to take over (texts cannot be transferred).
pub const TEAM_WILL_REPLY: &str = "I'll pass this on to the team, and someone will get back to you soon.";

/// Whether a text at `now` starts a new thread rather than joining the one whose last
/// message was at `last_message_at`.
pub fn starts_new_thread(last_message_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - last_message_at > THREAD_IDLE
}

/// What a conversational text gets, given the sender's model answers and limit lines in
/// the last hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The model answers.
    Model,
    /// [`LIMIT_LINE`], once.
    LimitLine,
    /// Nothing.
    Silence,
}

impl Answer {
    /// The answer for a sender who had `answered` model answers and `limited` limit lines in
    /// the last hour.
    pub fn for_sender(answered: i64, limited: i64) -> Self {
        if answered < MAX_ANSWERS_PER_HOUR {
            Answer::Model
        } else if limited == 0 {
            Answer::LimitLine
        } else {
            Answer::Silence
        }
    }

    /// How `inbound_texts.outcome` records it.
    pub fn outcome(self) -> &'static str {
        match self {
            Answer::Model => "answered",
            Answer::LimitLine => "limited",
            Answer::Silence => "silenced",
        }
    }
}

/// The languages the business serves (BCP-47 codes), main one first.
pub fn languages(customer: &Customer) -> Vec<String> {
    super::languages::of_business(&customer.languages).iter().map(|language| language.code.to_owned()).collect()
}

/// The business as the model sees it in a text conversation: its own instructions, plus how
/// to text (short, plain, in the sender's language among `languages`, no transfers).
pub fn business_for_texts(mut business: BusinessContext, languages: &[String]) -> BusinessContext {
    if business.ai_instructions.trim().is_empty() {
        business.ai_instructions = format!("You are the friendly receptionist for {}.", business.business_name);
    }
    let main = languages.first().map_or("en-US", String::as_str);
    business.ai_instructions.push_str(&format!(
        "\n\n## Texting\nThis conversation is by text message, not a phone call: the customer's number is the one \
         texting. Reply in plain text (no markdown), briefly: one to three sentences, under 320 characters. Reply in \
         the language the customer's last text is written in if it is one of {}; otherwise reply in {main}. If they \
         need a person, say the team will get back to them by text or phone.",
        languages.join(", ")
    ));
    // Nobody can be put through by text.
    business.can_transfer = false;
    business
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::AppointmentHandling;

    #[test]
    fn a_thread_idle_for_more_than_a_day_is_left_for_a_new_one() {
        let last: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        assert!(!starts_new_thread(last, last + Duration::hours(23)));
        assert!(!starts_new_thread(last, last + Duration::hours(24)));
        assert!(starts_new_thread(last, last + Duration::hours(24) + Duration::seconds(1)));
    }

    #[test]
    fn ten_answers_an_hour_then_one_line_then_silence() {
        assert_eq!(Answer::for_sender(0, 0), Answer::Model);
        assert_eq!(Answer::for_sender(9, 0), Answer::Model);
        assert_eq!(Answer::for_sender(10, 0), Answer::LimitLine);
        assert_eq!(Answer::for_sender(10, 1), Answer::Silence);
        assert_eq!(Answer::for_sender(12, 1), Answer::Silence);
    }

    #[test]
    fn the_text_prompt_names_the_languages_and_forbids_transfers() {
        let business = BusinessContext {
            business_name: "Bella Hair".into(),
            ai_instructions: String::new(),
            business_hours: None,
            holiday_hours: None,
            timezone: "America/New_York".into(),
            services_offered: None,
            pricing_info: None,
            appointment_handling: AppointmentHandling::CollectDetails,
            can_transfer: true,
            books: false,
            languages: vec![crate::receptionist::languages::ENGLISH],
            reply_language: None,
        };
        let texts = business_for_texts(business, &["es-ES".into(), "en-US".into()]);
        assert!(texts.ai_instructions.starts_with("You are the friendly receptionist for Bella Hair."));
        assert!(texts.ai_instructions.contains("if it is one of es-ES, en-US; otherwise reply in es-ES."));
        assert!(!texts.can_transfer);
    }
}
