//! After the call: a short, actionable summary, the caller's intent and whether they want a
//! call back. The model writes it; without the model (or when it fails) a heuristic does.

use serde::Deserialize;

use super::conversation::Line;
use super::languages::{ENGLISH, Language};
use crate::clients::openai::{self, ChatMessage, OpenAi};

/// Longest summary kept (it is also sent by SMS).
pub const MAX_SUMMARY_CHARS: usize = 200;

/// The caller's intents, as the `calls.intent` column allows them.
pub const INTENTS: &[&str] = &["appointment", "question", "message", "complaint", "other"];

/// What the call was about.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSummary {
    /// One or two sentences, under [`MAX_SUMMARY_CHARS`].
    pub summary: String,
    /// One of [`INTENTS`].
    pub intent: String,
    /// Whether the caller asked to be called back.
    pub callback_requested: bool,
    /// What the model call cost, in US dollars.
    pub cost: f64,
}

#[derive(Deserialize)]
struct ModelSummary {
    summary: String,
    intent: String,
    #[serde(default)]
    callback_requested: bool,
}

const INSTRUCTIONS: &str = "You summarise phone calls answered by a receptionist for the business owner. \
Answer with a JSON object: {\"summary\": string, \"intent\": string, \"callback_requested\": boolean}. \
summary: one or two short, actionable sentences under 200 characters, naming the caller and their number if given, \
and what the owner should do. intent: one of appointment, question, message, complaint, other. \
callback_requested: true if the caller wants to be called back.";

/// The languages of a summary: the owner reads the business's main one; the call may have
/// been held in another (known in standard mode, `None` when the model followed the caller).
#[derive(Debug, Clone, Copy)]
pub struct SummaryLanguages {
    /// The business's main language, which the summary is written in.
    pub main: &'static Language,
    /// The language the call was held in, when known.
    pub call: Option<&'static Language>,
}

impl Default for SummaryLanguages {
    fn default() -> Self {
        SummaryLanguages { main: ENGLISH, call: None }
    }
}

impl SummaryLanguages {
    /// The call's language when it is not the main one: the owner is told of it.
    fn other(&self) -> Option<&'static Language> {
        self.call.filter(|call| call.primary() != self.main.primary())
    }

    /// What the model is told about them.
    fn instructions(&self) -> String {
        let main = self.main.name;
        match self.other() {
            Some(call) => {
                format!(" Write the summary in {main}. The caller spoke {}: say so in the summary.", call.name)
            }
            None => {
                format!(" Write the summary in {main}. If the caller spoke another language, say which in the summary.")
            }
        }
    }
}

/// Summarises the call with the model, falling back to [`heuristic_summary`].
pub async fn summarize(
    openai: Option<&OpenAi>,
    caller_phone: Option<&str>,
    lines: &[Line],
    languages: SummaryLanguages,
) -> CallSummary {
    if let Some(openai) = openai {
        let transcript = transcript(lines);
        let messages = [
            ChatMessage::system(format!("{INSTRUCTIONS}{}", languages.instructions())),
            ChatMessage::user(format!("Caller number: {}\n\n{transcript}", caller_phone.unwrap_or("unknown"))),
        ];
        match openai.complete_json(&messages).await {
            Ok((value, usage)) => match serde_json::from_value::<ModelSummary>(value) {
                Ok(model) if INTENTS.contains(&model.intent.as_str()) && !model.summary.trim().is_empty() => {
                    return CallSummary {
                        summary: truncate(model.summary.trim(), MAX_SUMMARY_CHARS),
                        intent: model.intent,
                        callback_requested: model.callback_requested,
                        cost: openai::cost(&openai.model, usage),
                    };
                }
                _ => tracing::warn!("the model's summary has the wrong shape; using the heuristic"),
            },
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "summary by the model failed; using the heuristic")
            }
        }
    }
    let mut summary = heuristic_summary(lines);
    if let Some(call) = languages.other() {
        summary.summary = truncate(&format!("(In {}) {}", call.name, summary.summary), MAX_SUMMARY_CHARS);
    }
    summary
}

/// A summary without the model: the caller's first words, an intent from keywords.
pub fn heuristic_summary(lines: &[Line]) -> CallSummary {
    let caller_words: Vec<&str> = lines
        .iter()
        .filter_map(|line| match line {
            Line::Caller(text) => Some(text.as_str()),
            Line::Receptionist(_) => None,
        })
        .collect();
    let all = caller_words.join(" ").to_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| all.contains(word));
    let intent = if has(&["appointment", "book", "schedule", "reservation"]) {
        "appointment"
    } else if has(&["complain", "unhappy", "disappointed", "terrible", "refund"]) {
        "complaint"
    } else if has(&["message", "tell them", "let them know", "pass on"]) {
        "message"
    } else if all.contains('?') || has(&["what", "when", "how", "do you", "are you", "is there"]) {
        "question"
    } else {
        "other"
    };
    let callback_requested = has(&["call me back", "call back", "callback", "ring me", "give me a call"]);
    let summary = match caller_words.first() {
        Some(first) => truncate(&format!("Caller said: \"{first}\""), MAX_SUMMARY_CHARS),
        None => "The caller did not say anything.".to_owned(),
    };
    CallSummary { summary, intent: intent.to_owned(), callback_requested, cost: 0.0 }
}

/// `Caller: ...` / `Receptionist: ...` lines.
pub fn transcript(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|line| match line {
            Line::Caller(text) => format!("Caller: {text}"),
            Line::Receptionist(text) => format!("Receptionist: {text}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cuts `text` to at most `max` characters, ending with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heuristic_finds_intent_and_callbacks() {
        let lines = [
            Line::Receptionist("Hello".into()),
            Line::Caller("I'd like to book a haircut for Friday".into()),
            Line::Caller("Please call me back on this number".into()),
        ];
        let summary = heuristic_summary(&lines);
        assert_eq!(summary.intent, "appointment");
        assert!(summary.callback_requested);
        assert_eq!(summary.summary, "Caller said: \"I'd like to book a haircut for Friday\"");
    }

    #[test]
    fn summaries_stay_short() {
        let long = "x".repeat(500);
        let summary = heuristic_summary(&[Line::Caller(long)]);
        assert_eq!(summary.summary.chars().count(), MAX_SUMMARY_CHARS);
        assert!(summary.summary.ends_with('…'));
    }

    #[tokio::test]
    async fn without_a_model_the_heuristic_answers() {
        let summary = summarize(None, None, &[Line::Caller("Is there parking?".into())], Default::default()).await;
        assert_eq!(summary.intent, "question");
        assert!(!summary.callback_requested);
        assert_eq!(summary.summary, "Caller said: \"Is there parking?\"");

        let spanish = SummaryLanguages { main: ENGLISH, call: super::super::languages::find("es-MX") };
        let summary = summarize(None, None, &[Line::Caller("¿Hay estacionamiento?".into())], spanish).await;
        assert_eq!(summary.summary, "(In Spanish (Mexico)) Caller said: \"¿Hay estacionamiento?\"");
    }
}
