//! The stand-in models' booking script, the same in both voice modes: a caller line with
//! "book" (to a business that books) calls `check_availability` for the first service; its
//! slots get `book_appointment` of the first one for "Sam Caller"; a booking gets "You're
//! booked for <label>."; any other line is echoed.

use serde_json::{Value, json};

/// The name the stand-in books under.
const CALLER_NAME: &str = "Sam Caller";

/// What the stand-in does next.
pub enum Step {
    /// Call a tool with these arguments.
    Call(&'static str, Value),
    /// Say these words.
    Say(String),
}

/// The service names of `check_availability` among `tools` (as the realtime session and
/// chat completions write them); empty when the business does not book.
pub fn services<'a>(tools: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    tools
        .into_iter()
        // Chat completions nest the function; the realtime session does not.
        .map(|tool| if tool["function"].is_object() { &tool["function"] } else { tool })
        .find(|tool| tool["name"] == "check_availability")
        .and_then(|tool| tool["parameters"]["properties"]["service"]["enum"].as_array())
        .map(|names| names.iter().filter_map(|name| name.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The answer to what the caller said.
pub fn after_caller(line: &str, services: &[String]) -> Step {
    match services.first() {
        Some(service) if line.to_lowercase().contains("book") => {
            Step::Call("check_availability", json!({"service": service}))
        }
        _ => Step::Say(format!("(stand-in model) You said: {line}")),
    }
}

/// The answer to a tool's output.
pub fn after_tool(output: &Value) -> Step {
    // A refused booking also lists slots; only `check_availability`'s answer is booked from.
    if output.get("booked").is_none()
        && let Some(slot) = output["slots"].as_array().and_then(|slots| slots.first())
    {
        return Step::Call("book_appointment", json!({"slot_id": slot["slot_id"], "caller_name": CALLER_NAME}));
    }
    if output["booked"] == true {
        return Step::Say(format!("You're booked for {}.", output["label"].as_str().unwrap_or("that time")));
    }
    let why = output["reason"].as_str().or(output["note"].as_str()).or(output["error"].as_str());
    Step::Say(format!("Sorry, I could not book that: {}", why.unwrap_or("no free time was offered")))
}
