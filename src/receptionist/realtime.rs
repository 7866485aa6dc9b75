//! What the receptionist is told in a realtime call, and what a realtime call costs. The
//! session's wire format lives in `clients::realtime`; this module decides the words.

use chrono::{DateTime, Utc};

use super::conversation::{BusinessContext, system_prompt};
use crate::clients::realtime::{ResponseUsage, Tool};

use super::tools::{self, END_CALL as END_CALL_TOOL, Mode, TRANSFER as TRANSFER_TOOL};
use crate::db::customers::Customer;

/// Said before a transfer, by the realtime voice.
pub const TRANSFER_LINE: &str = super::conversation::TRANSFERRING;
/// The check-in after a silence.
pub const CHECK_IN_LINE: &str = super::conversation::STILL_THERE;
/// The goodbye after a second silence.
pub const SILENCE_GOODBYE_LINE: &str = super::conversation::GOODBYE;
/// Said while a tool (the diary) is still working after a moment.
pub const FILLER_LINE: &str = "One moment while I check the diary.";
/// Said when a call reaches its longest length.
pub const TIME_LIMIT_LINE: &str =
    "I'm sorry, we've reached the time limit for this call. Please call again if you need anything else. Goodbye!";
/// What the model is told when it asks for a transfer the business cannot take.
pub const NO_TRANSFER_OUTPUT: &str = "Transfers are not possible on this line. Tell the caller nobody can take the call right now and offer to take a message for the team.";
/// Said in the standard flow when the realtime session failed mid-call.
pub const FALLBACK_APOLOGY: &str = "Sorry, I had a little trouble on the line. Could you tell me again how I can help?";

/// The session instructions: the same prompt the standard flow uses (compiled instructions,
/// local time, open now), plus how to behave on a live phone line.
pub fn session_instructions(business: &BusinessContext, now: DateTime<Utc>) -> String {
    let mut instructions = system_prompt(business, now);
    instructions.push_str(&format!(
        "\n## On the phone\nYou are answering the phone for {} in a live voice call. Speak naturally and keep \
         answers short: one or two sentences, then let the caller talk. If the caller asks for a person, call \
         `{TRANSFER_TOOL}`. When the caller has nothing more to ask and has said goodbye, call `{END_CALL_TOOL}`.\n",
        business.business_name
    ));
    instructions.push_str(&super::languages::realtime_instructions(&business.languages));
    instructions
}

/// The tools offered to the model in a realtime call to `customer`.
pub fn session_tools(customer: &Customer) -> Vec<Tool> {
    tools::for_call(customer, Mode::Realtime).iter().map(Tool::from).collect()
}

/// Instructions for a response that says `line` word for word.
pub fn say_exactly(line: &str) -> String {
    format!("Say exactly this to the caller, and nothing else: \"{line}\"")
}

/// Prices in US dollars per million tokens: text in, cached text in, text out, audio in,
/// cached audio in, audio out (OpenAI's list prices when this was written).
const REALTIME_PRICES_PER_MILLION: &[(&str, [f64; 6])] = &[
    ("gpt-realtime-mini", [0.60, 0.06, 2.40, 10.00, 0.30, 20.00]),
    ("gpt-realtime", [4.00, 0.40, 16.00, 32.00, 0.40, 64.00]),
];

/// What one response cost, from the usage `response.done` reports. An unknown model is
/// priced as `gpt-realtime` (the dearer one), so costs are never understated.
pub fn response_cost(model: &str, usage: &ResponseUsage) -> f64 {
    let prices = REALTIME_PRICES_PER_MILLION
        .iter()
        .find(|(name, _)| model == *name || model.starts_with(&format!("{name}-")))
        .map_or(REALTIME_PRICES_PER_MILLION[1].1, |(_, prices)| *prices);
    let [text_in, cached_text_in, text_out, audio_in, cached_audio_in, audio_out] = prices;
    let input = usage.input_token_details.unwrap_or_default();
    let cached = input.cached_tokens_details.unwrap_or_default();
    let output = usage.output_token_details.unwrap_or_default();
    let tokens = |n: u32| f64::from(n);
    let text_in_tokens = input.text_tokens.saturating_sub(cached.text_tokens);
    let audio_in_tokens = input.audio_tokens.saturating_sub(cached.audio_tokens);
    (tokens(text_in_tokens) * text_in
        + tokens(cached.text_tokens) * cached_text_in
        + tokens(output.text_tokens) * text_out
        + tokens(audio_in_tokens) * audio_in
        + tokens(cached.audio_tokens) * cached_audio_in
        + tokens(output.audio_tokens) * audio_out)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::realtime::{CachedTokens, InputTokens, OutputTokens};
    use crate::profile::AppointmentHandling;

    #[test]
    fn a_minute_of_conversation_costs_what_the_price_list_says() {
        // A minute each way: 600 audio tokens in (1 per 100 ms), 1,200 out (1 per 50 ms).
        let usage = ResponseUsage {
            input_token_details: Some(InputTokens {
                text_tokens: 1_000,
                audio_tokens: 600,
                cached_tokens_details: Some(CachedTokens { text_tokens: 800, audio_tokens: 0 }),
            }),
            output_token_details: Some(OutputTokens { text_tokens: 100, audio_tokens: 1_200 }),
        };
        let expected = (200.0 * 0.60 + 800.0 * 0.06 + 100.0 * 2.40 + 600.0 * 10.0 + 1_200.0 * 20.0) / 1e6;
        assert!((response_cost("gpt-realtime-mini", &usage) - expected).abs() < 1e-12);
        assert!(response_cost("gpt-realtime-mini-2025-12-15", &usage) == response_cost("gpt-realtime-mini", &usage));
        assert!(response_cost("some-future-model", &usage) > response_cost("gpt-realtime-mini", &usage));
        assert_eq!(response_cost("gpt-realtime-mini", &ResponseUsage::default()), 0.0);
    }

    #[test]
    fn the_instructions_are_the_standard_prompt_plus_the_phone_manner() {
        let business = BusinessContext {
            business_name: "Bella Hair".into(),
            ai_instructions: "You are the receptionist for Bella Hair.".into(),
            business_hours: None,
            holiday_hours: None,
            timezone: "America/New_York".into(),
            services_offered: None,
            pricing_info: None,
            appointment_handling: AppointmentHandling::CollectDetails,
            can_transfer: false,
            books: false,
            languages: vec![super::super::languages::find("es-MX").unwrap(), super::super::languages::ENGLISH],
            reply_language: None,
        };
        let now = Utc::now();
        let instructions = session_instructions(&business, now);
        assert!(instructions.starts_with(&system_prompt(&business, now)));
        assert!(instructions.contains("answering the phone for Bella Hair"));
        assert!(instructions.contains("never promise one"));
        assert!(instructions.contains("serves callers in: Spanish (Mexico), English"), "{instructions}");
        let names: Vec<String> = session_tools(&Customer::default()).into_iter().map(|tool| tool.name).collect();
        assert_eq!(names, [TRANSFER_TOOL, END_CALL_TOOL, crate::receptionist::tools::SEND_TEXT]);
    }
}
