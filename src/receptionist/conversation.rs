//! One turn of a phone conversation: the business and the call so far go in, the words to
//! speak (or a request to transfer) come out. With OpenAI the model answers under a hard
//! deadline; without it, or when it fails, the caller still gets a sensible answer.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::hours::{self, LocalStatus};
use super::languages::{self, Language};
use super::tools::{self, CallDesk, Effect};
use crate::clients::ToolSpec;
use crate::clients::openai::{self, ChatMessage, OpenAi, Usage};
use crate::profile::{AppointmentHandling, BusinessHours};

/// What the caller hears when the model fails or is too slow.
pub const SAY_AGAIN: &str = "Sorry, could you say that again?";
/// What the caller hears when speech recognition heard nothing.
pub const DID_NOT_CATCH: &str = "Sorry, I didn't catch that. Could you say it again?";
/// The second chance after silence.
pub const STILL_THERE: &str = "Are you still there? How can I help you?";
/// The polite end after silence.
pub const GOODBYE: &str = "Thank you for calling. Goodbye!";
/// Said before ringing the business's forward number.
pub const TRANSFERRING: &str = "Of course. Please hold while I transfer you.";
/// Said when nobody answers the transfer.
pub const TRANSFER_UNANSWERED: &str = "I'm sorry, nobody is available to take your call right now. I can take a message for the team. What would you like me to pass on?";
/// Said when a transfer is wanted but the business has no forward number.
pub const NO_TRANSFER: &str = "I'm sorry, I can't transfer you right now, but I can take a message and make sure the team gets back to you. What would you like me to pass on?";
/// Said when the diary failed during a turn: the details are taken instead.
pub const BOOKING_APOLOGY: &str = "I'm sorry, I can't reach the diary right now. Could you tell me your name, your phone number and when you'd like to come in? The team will confirm with you.";
/// Model rounds in one turn (each may run tools); the turn's deadline bounds them too.
const MAX_ROUNDS: usize = 4;
/// Said on a number that belongs to no business.
pub const UNKNOWN_NUMBER: &str = "We're sorry, the number you have called is not in service. Goodbye.";
/// Said on the number of a cancelled or expired business.
pub const NOT_IN_SERVICE: &str = "We're sorry, this line is not in service at the moment. Goodbye.";
/// Said when Twilio continues a call we have no record of.
pub const CALL_NOT_FOUND: &str = "We're sorry, something went wrong with this call. Please call again. Goodbye.";

/// Longest caller utterance passed on; recognition never produces more from real speech.
pub const MAX_UTTERANCE_CHARS: usize = 1_000;

/// What the receptionist knows about the business during a call.
#[derive(Debug, Clone)]
pub struct BusinessContext {
    /// Name as spoken.
    pub business_name: String,
    /// The compiled instructions (system prompt body).
    pub ai_instructions: String,
    /// Weekly hours.
    pub business_hours: Option<BusinessHours>,
    /// Holiday hours as the business wrote them (also in the compiled instructions).
    pub holiday_hours: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Services, for the built-in replies.
    pub services_offered: Option<String>,
    /// Prices, for the built-in replies.
    pub pricing_info: Option<String>,
    /// Appointment policy, for the built-in replies.
    pub appointment_handling: AppointmentHandling,
    /// Whether calls can be transferred.
    pub can_transfer: bool,
    /// Whether the receptionist books with its tools (`appointment_handling` is `book` and
    /// services are defined).
    pub books: bool,
    /// The languages the business serves, the main one first.
    pub languages: Vec<&'static Language>,
    /// The language to reply in, in a standard-mode call (the main one, or the one the
    /// caller chose); `None` where the model follows the caller (realtime).
    pub reply_language: Option<&'static Language>,
}

impl BusinessContext {
    /// Open or closed, and the local time, at `now`.
    pub fn status_at(&self, now: DateTime<Utc>) -> LocalStatus {
        hours::status_at(self.business_hours.as_ref(), hours::time_zone(&self.timezone), now)
    }
}

/// A line already spoken in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The caller's words.
    Caller(String),
    /// The receptionist's words.
    Receptionist(String),
}

/// The greeting: the business's own words, or a friendly default.
pub fn greeting(business_name: &str, greeting_message: Option<&str>) -> String {
    match greeting_message.map(str::trim).filter(|g| !g.is_empty()) {
        Some(greeting) => greeting.to_owned(),
        None => format!("Thank you for calling {business_name}. How can I help you today?"),
    }
}

/// The system prompt: the compiled instructions plus what changes from call to call.
pub fn system_prompt(business: &BusinessContext, now: DateTime<Utc>) -> String {
    let status = business.status_at(now);
    let mut prompt = business.ai_instructions.trim().to_owned();
    if prompt.is_empty() {
        prompt = format!("You are the friendly phone receptionist for {}.", business.business_name);
    }
    prompt.push_str("\n\n## Right now\n");
    prompt.push_str(&status.describe());
    if let Some(today) = &status.today {
        prompt.push_str(&format!(" Today's hours: {today}."));
    }
    if business.holiday_hours.as_deref().is_some_and(|h| !h.trim().is_empty()) {
        // The open-now check reads the weekly hours only; the model reads the holiday text.
        prompt.push_str(" If the business's holiday hours name today, they override this.");
    }
    prompt.push('\n');
    if !business.can_transfer {
        prompt.push_str("Transfers are not possible on this line: never promise one; offer to take a message.\n");
    }
    if business.books {
        prompt.push_str("\n## Booking\n");
        prompt.push_str(&tools::calendar_lines(hours::time_zone(&business.timezone), now));
        prompt.push_str(
            "\nPass dates to check_availability as YYYY-MM-DD from this list. Say times as the tools label them.\n",
        );
    }
    if let Some(language) = business.reply_language {
        prompt.push_str(&languages::reply_instructions(language, &business.languages));
    }
    prompt
}

/// The chat messages for the model: system prompt, then the call in order.
pub fn messages(business: &BusinessContext, history: &[Line], now: DateTime<Utc>) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(history.len() + 1);
    messages.push(ChatMessage::system(system_prompt(business, now)));
    messages.extend(history.iter().map(|line| match line {
        Line::Caller(text) => ChatMessage::user(text.clone()),
        Line::Receptionist(text) => ChatMessage::assistant(text.clone()),
    }));
    messages
}

/// What the receptionist does after a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnReply {
    /// Words to speak.
    Say(String),
    /// Transfer the caller; `say` is what the model wanted said first, if anything.
    Transfer { say: Option<String> },
}

/// The result of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    /// What to do.
    pub reply: TurnReply,
    /// What the model call cost, in US dollars (0 for built-in replies).
    pub cost: f64,
}

/// Takes one turn. Never fails: a model error or a missed deadline becomes [`SAY_AGAIN`]
/// (or, once the diary was being used, [`BOOKING_APOLOGY`]). With `desk`, the model may call
/// `tools`: they run and the model is asked again, a few rounds at most, all within
/// `deadline`.
pub async fn take_turn(
    openai: Option<&OpenAi>,
    deadline: Duration,
    business: &BusinessContext,
    history: &[Line],
    now: DateTime<Utc>,
    desk: Option<(&CallDesk, &[ToolSpec])>,
) -> TurnOutcome {
    let Some(openai) = openai else {
        let said = history.iter().rev().find_map(|line| match line {
            Line::Caller(text) => Some(text.as_str()),
            Line::Receptionist(_) => None,
        });
        return TurnOutcome { reply: built_in_reply(business, said.unwrap_or_default(), now), cost: 0.0 };
    };
    let mut messages = messages(business, history, now);
    let (desk, specs) = match desk {
        Some((desk, specs)) => (Some(desk), specs),
        None => (None, &[][..]),
    };
    let mut usage = Usage::default();
    let mut used_tools = false;
    let ends_at = tokio::time::Instant::now() + deadline;
    let failed = |used_tools: bool, usage: Usage| {
        let line = if used_tools { BOOKING_APOLOGY } else { SAY_AGAIN };
        TurnOutcome { reply: TurnReply::Say(line.into()), cost: openai::cost(&openai.model, usage) }
    };
    for _ in 0..MAX_ROUNDS {
        let answer = tokio::time::timeout_at(ends_at, openai.converse(&messages, specs)).await;
        let reply = match answer {
            Ok(Ok((reply, spent))) => {
                usage += spent;
                reply
            }
            Ok(Err(error)) => {
                tracing::warn!(error = format!("{error:#}"), "model call failed; asking the caller to repeat");
                return failed(used_tools, usage);
            }
            Err(_) => {
                tracing::warn!(deadline_ms = deadline.as_millis() as u64, "model missed its deadline");
                return failed(used_tools, usage);
            }
        };
        let cost = openai::cost(&openai.model, usage);
        if reply.tool_calls.iter().any(|call| call.name == tools::TRANSFER) {
            return TurnOutcome { reply: TurnReply::Transfer { say: reply.text }, cost };
        }
        let Some(desk) = desk.filter(|_| !reply.tool_calls.is_empty()) else {
            return match reply.text {
                Some(text) => TurnOutcome { reply: TurnReply::Say(text), cost },
                None => failed(used_tools, usage),
            };
        };
        used_tools = true;
        messages.push(ChatMessage::assistant_calls(reply.text, &reply.tool_calls));
        for call in &reply.tool_calls {
            let Ok(result) = tokio::time::timeout_at(ends_at, desk.run(call, Utc::now())).await else {
                tracing::warn!(tool = %call.name, "a tool missed the turn's deadline");
                return failed(true, usage);
            };
            if result.effect == Effect::Transfer {
                return TurnOutcome { reply: TurnReply::Transfer { say: None }, cost };
            }
            messages.push(ChatMessage::tool_result(&call.id, result.output));
        }
    }
    tracing::warn!("the model kept calling tools; taking details instead");
    failed(true, usage)
}

/// The built-in receptionist used without OpenAI: answers hours, services and prices from
/// the settings, transfers on request, and otherwise offers to take a message.
pub fn built_in_reply(business: &BusinessContext, said: &str, now: DateTime<Utc>) -> TurnReply {
    let said = said.to_lowercase();
    let mentions = |words: &[&str]| words.iter().any(|word| said.contains(word));
    let name = &business.business_name;

    if mentions(&["person", "human", "someone", "somebody", "staff", "manager", "operator", "representative"]) {
        return TurnReply::Transfer { say: None };
    }
    if mentions(&["bye", "that's all", "that is all", "nothing else"]) {
        return TurnReply::Say(format!("Thank you for calling {name}. Have a great day!"));
    }
    if mentions(&["hour", "open", "close", "when are you"]) {
        let status = business.status_at(now);
        let state = if status.open { "We're open right now" } else { "We're closed right now" };
        let today = status.today.map(|today| format!(", and today's hours are {today}")).unwrap_or_default();
        return TurnReply::Say(format!("{state}{today}. Is there anything else I can help you with?"));
    }
    if mentions(&["price", "cost", "how much", "charge", "fee"])
        && let Some(pricing) = business.pricing_info.as_deref().filter(|p| !p.trim().is_empty())
    {
        return TurnReply::Say(format!("{}. Anything else I can help with?", pricing.trim().trim_end_matches('.')));
    }
    if mentions(&["service", "offer", "do you do", "provide"])
        && let Some(services) = business.services_offered.as_deref().filter(|s| !s.trim().is_empty())
    {
        return TurnReply::Say(format!(
            "We offer {}. Would you like to book or leave a message?",
            services.trim().trim_end_matches('.')
        ));
    }
    if mentions(&["appointment", "book", "schedule", "reservation", "reserve"]) {
        let answer = match business.appointment_handling {
            AppointmentHandling::BookingLink => {
                "You can book online on our website. I can also take your name and number for a call back."
            }
            AppointmentHandling::CallBackLater => {
                "Please call back during opening hours to book, or I can take a message now."
            }
            _ => "I can help with that. Could you tell me your name, your phone number and when you'd like to come in?",
        };
        return TurnReply::Say(answer.into());
    }
    TurnReply::Say(format!(
        "Thanks. I'll make sure the team at {name} gets your message. Is there anything else you'd like me to pass on?"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn business() -> BusinessContext {
        BusinessContext {
            business_name: "Bella Hair".into(),
            ai_instructions: "You are the receptionist for Bella Hair.".into(),
            business_hours: Some(
                serde_json::from_value(json!({"monday": {"open": "09:00", "close": "17:00"}})).unwrap(),
            ),
            holiday_hours: None,
            timezone: "America/New_York".into(),
            services_offered: Some("Cuts, colour and blow-dry".into()),
            pricing_info: Some("Cuts from $45.".into()),
            appointment_handling: AppointmentHandling::CollectDetails,
            can_transfer: true,
            books: false,
            languages: vec![languages::ENGLISH],
            reply_language: None,
        }
    }

    fn monday_noon_new_york() -> DateTime<Utc> {
        chrono_tz::America::New_York.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_prompt_carries_instructions_time_and_state() {
        let prompt = system_prompt(&business(), monday_noon_new_york());
        assert!(prompt.starts_with("You are the receptionist for Bella Hair."));
        assert!(prompt.contains("It is Monday 23 November 2026, 12:00 local time. The business is open now."));
        assert!(prompt.contains("Today's hours: 09:00-17:00."));
    }

    #[test]
    fn messages_keep_the_call_in_order() {
        let history = [Line::Receptionist("Hello!".into()), Line::Caller("Are you open?".into())];
        let messages = messages(&business(), &history, monday_noon_new_york());
        let roles: Vec<&str> = messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, ["system", "assistant", "user"]);
        assert_eq!(messages[2].content.as_deref(), Some("Are you open?"));
    }

    #[test]
    fn built_in_replies_answer_from_the_settings() {
        let now = monday_noon_new_york();
        let say = |said: &str| match built_in_reply(&business(), said, now) {
            TurnReply::Say(text) => text,
            other => panic!("{other:?}"),
        };
        assert!(
            say("What are your hours today?").starts_with("We're open right now, and today's hours are 09:00-17:00.")
        );
        assert!(say("How much is a haircut?").starts_with("Cuts from $45."));
        assert!(say("What services do you offer?").contains("Cuts, colour and blow-dry"));
        assert!(say("I'd like to book an appointment").contains("your name"));
        assert!(say("My sink is leaking").contains("gets your message"));
        assert_eq!(built_in_reply(&business(), "Can I speak to a person?", now), TurnReply::Transfer { say: None });
    }

    #[tokio::test]
    async fn without_a_model_the_turn_uses_the_built_in_reply() {
        let history = [Line::Caller("When do you open?".into())];
        let outcome =
            take_turn(None, Duration::from_secs(1), &business(), &history, monday_noon_new_york(), None).await;
        assert_eq!(outcome.cost, 0.0);
        assert!(matches!(outcome.reply, TurnReply::Say(text) if text.contains("09:00-17:00")));
    }

    #[test]
    fn the_greeting_is_the_business_own_or_a_default() {
        assert_eq!(greeting("Bella Hair", Some("  Ciao! Bella Hair here. ")), "Ciao! Bella Hair here.");
        assert_eq!(greeting("Bella Hair", Some(" ")), "Thank you for calling Bella Hair. How can I help you today?");
    }
}
