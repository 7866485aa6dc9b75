//! What a business tells its receptionist: opening hours, FAQs and how to handle
//! appointments. These types validate themselves while being deserialized, so a value that
//! exists is a valid one, and an invalid request names the exact field that is wrong.

use std::fmt;

use chrono::NaiveTime;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};

/// Reads `T` only from a JSON object: serde's derive would also accept an array of the
/// fields in order (`[null, null]` as hours), which no client means. Errors keep the path
/// of the offending field inside the object.
#[derive(Debug)]
pub struct ObjectOnly<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        serde_path_to_error::deserialize(serde_json::Value::Object(object)).map(ObjectOnly).map_err(D::Error::custom)
    }
}

/// A time of day written `HH:MM` (24-hour clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    /// Parses `HH:MM`, e.g. `09:00` or `17:30`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        NaiveTime::parse_from_str(raw.trim(), "%H:%M")
            .map(ClockTime)
            .map_err(|_| format!("`{raw}` is not a time of day as HH:MM (for example 09:00)"))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// One day's hours: closed, or open from `open` to `close`. A `close` earlier than `open`
/// means the business closes after midnight (a bar open 18:00-02:00).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ObjectOnly<RawDayHours>", into = "RawDayHours")]
pub struct DayHours {
    /// `None` when closed all day.
    pub open_close: Option<(ClockTime, ClockTime)>,
    /// The times a closed day still carries: the portal sends every day with its times and
    /// a `closed` box, and must get them back as sent.
    pub kept_times: Option<(ClockTime, ClockTime)>,
    /// An optional label, e.g. "Christmas Day".
    pub note: Option<String>,
}

impl DayHours {
    /// Whether the business is closed all day.
    pub fn is_closed(&self) -> bool {
        self.open_close.is_none()
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.open_close {
            None => f.write_str("closed"),
            Some((open, close)) => write!(f, "{open}-{close}"),
        }
    }
}

/// The JSON shape of [`DayHours`]: `{"open": "09:00", "close": "17:00"}` or `{"closed": true}`
/// (a closed day may keep its times: `{"open": "09:00", "close": "17:00", "closed": true}`).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DayHours)]
pub struct RawDayHours {
    /// Opening time, `HH:MM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "09:00")]
    open: Option<String>,
    /// Closing time, `HH:MM`; earlier than `open` means after midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "17:00")]
    close: Option<String>,
    /// Closed all day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    closed: bool,
    /// A label, e.g. "Christmas Day".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// A time the form may leave empty (`""` is none).
fn optional_time(raw: Option<String>) -> Result<Option<ClockTime>, String> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(time) => ClockTime::parse(time).map(Some),
    }
}

impl TryFrom<ObjectOnly<RawDayHours>> for DayHours {
    type Error = String;

    fn try_from(ObjectOnly(raw): ObjectOnly<RawDayHours>) -> Result<Self, String> {
        let note = raw.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        let times = match (optional_time(raw.open)?, optional_time(raw.close)?) {
            (Some(open), Some(close)) => Some((open, close)),
            (None, None) => None,
            _ if raw.closed => None,
            _ => return Err("give both open and close as HH:MM, or mark the day closed".into()),
        };
        if raw.closed {
            return Ok(DayHours { open_close: None, kept_times: times, note });
        }
        match times {
            Some((open, close)) if open == close => {
                Err("open and close must differ (mark the day closed instead)".into())
            }
            Some(times) => Ok(DayHours { open_close: Some(times), kept_times: None, note }),
            None => Err("give both open and close as HH:MM, or mark the day closed".into()),
        }
    }
}

impl From<DayHours> for RawDayHours {
    fn from(hours: DayHours) -> Self {
        let closed = hours.open_close.is_none();
        let times = hours.open_close.or(hours.kept_times);
        RawDayHours {
            open: times.map(|(open, _)| open.to_string()),
            close: times.map(|(_, close)| close.to_string()),
            closed,
            note: hours.note,
        }
    }
}

/// Regular weekly hours. A day left out is unknown, and treated as closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, try_from = "ObjectOnly<WeekHours>")]
pub struct BusinessHours {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub monday: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub tuesday: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub wednesday: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub thursday: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub friday: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub saturday: Option<DayHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RawDayHours>)]
    pub sunday: Option<DayHours>,
}

/// The derived shape of [`BusinessHours`], read through [`ObjectOnly`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeekHours {
    #[serde(default)]
    monday: Option<DayHours>,
    #[serde(default)]
    tuesday: Option<DayHours>,
    #[serde(default)]
    wednesday: Option<DayHours>,
    #[serde(default)]
    thursday: Option<DayHours>,
    #[serde(default)]
    friday: Option<DayHours>,
    #[serde(default)]
    saturday: Option<DayHours>,
    #[serde(default)]
    sunday: Option<DayHours>,
}

impl From<ObjectOnly<WeekHours>> for BusinessHours {
    fn from(ObjectOnly(w): ObjectOnly<WeekHours>) -> Self {
        BusinessHours {
            monday: w.monday,
            tuesday: w.tuesday,
            wednesday: w.wednesday,
            thursday: w.thursday,
            friday: w.friday,
            saturday: w.saturday,
            sunday: w.sunday,
        }
    }
}

impl BusinessHours {
    /// The days Monday to Sunday with their names, for rendering.
    pub fn days(&self) -> [(&'static str, Option<&DayHours>); 7] {
        [
            ("Monday", self.monday.as_ref()),
            ("Tuesday", self.tuesday.as_ref()),
            ("Wednesday", self.wednesday.as_ref()),
            ("Thursday", self.thursday.as_ref()),
            ("Friday", self.friday.as_ref()),
            ("Saturday", self.saturday.as_ref()),
            ("Sunday", self.sunday.as_ref()),
        ]
    }

    /// Whether no day is given at all.
    pub fn is_empty(&self) -> bool {
        self.days().iter().all(|(_, hours)| hours.is_none())
    }
}

/// One frequently asked question with the answer the receptionist should give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "ObjectOnly<RawFaq>")]
pub struct Faq {
    /// The question, as a caller might ask it.
    pub question: String,
    /// The answer to give.
    pub answer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFaq {
    question: String,
    answer: String,
}

impl TryFrom<ObjectOnly<RawFaq>> for Faq {
    type Error = String;

    fn try_from(ObjectOnly(raw): ObjectOnly<RawFaq>) -> Result<Self, String> {
        let (question, answer) = (raw.question.trim(), raw.answer.trim());
        if question.is_empty() || answer.is_empty() {
            return Err("each FAQ needs a non-empty `question` and `answer`".into());
        }
        Ok(Faq { question: question.to_owned(), answer: answer.to_owned() })
    }
}

/// FAQs as a form sends them: rows the owner added and left blank are dropped; a row with
/// only its question or only its answer is refused, naming the row (counted from 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<ObjectOnly<RawFaq>>")]
pub struct FaqRows(pub Vec<Faq>);

impl TryFrom<Vec<ObjectOnly<RawFaq>>> for FaqRows {
    type Error = String;

    fn try_from(rows: Vec<ObjectOnly<RawFaq>>) -> Result<Self, String> {
        let mut faqs = Vec::with_capacity(rows.len());
        for (n, ObjectOnly(row)) in rows.into_iter().enumerate() {
            match (row.question.trim().is_empty(), row.answer.trim().is_empty()) {
                (true, true) => {}
                (false, true) => return Err(format!("row {} has a question but no answer", n + 1)),
                (true, false) => return Err(format!("row {} has an answer but no question", n + 1)),
                (false, false) => faqs.push(Faq::try_from(ObjectOnly(row))?),
            }
        }
        Ok(FaqRows(faqs))
    }
}

/// How the receptionist handles a caller who wants an appointment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentHandling {
    /// Take the caller's name, number, preferred time and reason; staff confirm later.
    #[default]
    CollectDetails,
    /// Promise a call back from staff to arrange the appointment.
    Callback,
    /// Transfer the caller to a person who books it.
    Transfer,
    /// Point the caller to the online booking page.
    BookingLink,
    /// Ask the caller to call back later, during opening hours.
    CallBackLater,
    /// Book, move and cancel appointments in the diary during the call.
    Book,
}

impl AppointmentHandling {
    /// The database spelling, as in the CHECK constraint.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CollectDetails => "collect_details",
            Self::Callback => "callback",
            Self::Transfer => "transfer",
            Self::BookingLink => "booking_link",
            Self::CallBackLater => "call_back_later",
            Self::Book => "book",
        }
    }

    /// Reads the database spelling; unknown values fall back to the default.
    pub fn from_db(raw: &str) -> Self {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).unwrap_or_default()
    }
}

/// Which conversation a business's callers get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoiceMode {
    /// Twilio listens for a whole sentence (`<Gather>`), the chat model answers, the reply
    /// is synthesised and played: a few seconds a turn.
    #[default]
    Standard,
    /// The caller's audio streams to the OpenAI Realtime API and its voice streams back:
    /// replies start within the model's latency and the caller can interrupt.
    Realtime,
}

impl VoiceMode {
    /// The database spelling, as in the CHECK constraint.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Realtime => "realtime",
        }
    }

    /// Reads the database (or environment) spelling; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "standard" => Some(Self::Standard),
            "realtime" => Some(Self::Realtime),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn day_hours_round_trip_in_the_api_shape() {
        let hours: BusinessHours = serde_json::from_value(json!({
            "monday": {"open": "09:00", "close": "17:00"},
            "sunday": {"closed": true}
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&hours).unwrap(),
            json!({"monday": {"open": "09:00", "close": "17:00"}, "sunday": {"closed": true}})
        );
    }

    #[test]
    fn closed_false_with_times_is_an_open_day() {
        let day: DayHours =
            serde_json::from_value(json!({"open": "18:00", "close": "02:00", "closed": false})).unwrap();
        assert_eq!(day.to_string(), "18:00-02:00");
    }

    #[test]
    fn invalid_hours_are_refused_with_the_reason() {
        for (bad, reason) in [
            (json!({"monday": {"open": "25:00", "close": "17:00"}}), "not a time of day"),
            (json!({"monday": {"open": "09:00"}}), "give both"),
            (json!({"monday": {"open": "", "close": "", "closed": false}}), "give both"),
            (json!({"funday": {"closed": true}}), "unknown field"),
            (json!({"monday": {"open": "9am", "close": "5pm"}}), "not a time of day"),
            (json!({"monday": "9-5"}), "invalid type"),
            (json!({"monday": [null, null]}), "invalid type"),
            (json!([null, null]), "invalid type"),
        ] {
            let err = serde_json::from_value::<BusinessHours>(bad.clone()).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn a_closed_day_keeps_the_times_the_form_sent() {
        let sent = json!({
            "saturday": {"open": "10:00", "close": "16:00", "closed": false},
            "sunday": {"open": "09:00", "close": "17:00", "closed": true},
            "monday": {"open": "", "close": "", "closed": true}
        });
        let hours: BusinessHours = serde_json::from_value(sent).unwrap();
        assert!(hours.sunday.as_ref().unwrap().is_closed());
        assert_eq!(
            serde_json::to_value(&hours).unwrap(),
            json!({
                "monday": {"closed": true},
                "saturday": {"open": "10:00", "close": "16:00"},
                "sunday": {"open": "09:00", "close": "17:00", "closed": true}
            })
        );
    }

    #[test]
    fn blank_faq_rows_are_dropped_and_half_rows_named() {
        let rows: FaqRows = serde_json::from_value(json!([
            {"question": "Walk-ins?", "answer": "Yes."},
            {"question": "", "answer": " "}
        ]))
        .unwrap();
        assert_eq!(rows.0.len(), 1);
        let err = serde_json::from_value::<FaqRows>(json!([
            {"question": "Walk-ins?", "answer": "Yes."},
            {"question": "Parking?", "answer": ""}
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("row 2 has a question but no answer"), "{err}");
    }

    #[test]
    fn faqs_need_both_parts() {
        assert!(serde_json::from_value::<Vec<Faq>>(json!([{"question": "Parking?", "answer": ""}])).is_err());
        assert!(serde_json::from_value::<Vec<Faq>>(json!([["Parking?", "Yes"]])).is_err());
        let faqs: Vec<Faq> =
            serde_json::from_value(json!([{"question": " Parking? ", "answer": "Free, out back."}])).unwrap();
        assert_eq!(faqs[0].question, "Parking?");
    }

    #[test]
    fn appointment_handling_uses_snake_case() {
        assert_eq!(serde_json::to_value(AppointmentHandling::CallBackLater).unwrap(), json!("call_back_later"));
        assert_eq!(AppointmentHandling::from_db("booking_link"), AppointmentHandling::BookingLink);
        assert!(serde_json::from_value::<AppointmentHandling>(json!("whenever")).is_err());
        assert_eq!(VoiceMode::parse(VoiceMode::Realtime.as_str()), Some(VoiceMode::Realtime));
        assert_eq!(serde_json::to_value(VoiceMode::Standard).unwrap(), json!("standard"));
        assert_eq!(VoiceMode::parse("fast"), None);
    }
}
