//! The receptionist's tools, defined once for both voice modes: each tool's name,
//! description and arguments ([`for_call`]), and one [`CallDesk::run`] that carries out a
//! call of it. The chat-completions client and the realtime session only write the list in
//! their wire format and hand back `{id, name, arguments}`.
//!
//! The names and arguments are a contract (the model is told them). What a tool returns is
//! a short JSON object for the model to say aloud; a failure is one sentence it can act on,
//! never internal error text. The server resolves time, not the model: slots are offered by
//! `check_availability` under short ids (`S1`, ...) kept for the whole call in `call_slots`,
//! and only those can be booked. The caller's number is the call's `From`, never the model's
//! word: find, move and cancel reach only that number's appointments at this business.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::booking::diary::{BookingError, BookingRequest, Diary, Slot};
use crate::booking::notices::Change;
use crate::booking::slots::{SlotRequest, label};
use crate::clients::twilio::{SmsDelivery, Twilio, TwilioError};
use crate::clients::{ToolCall, ToolSpec};
use crate::db::appointments::{self as db, AppointmentRow, AppointmentSource, AppointmentStatus};
use crate::db::calls::Channel;
use crate::db::customers::Customer;
use crate::db::sms_opt_outs;
use crate::profile::AppointmentHandling;

/// Hands the caller to a person.
pub const TRANSFER: &str = "transfer_to_human";
/// Ends the call (realtime: the model decides when the conversation is over).
pub const END_CALL: &str = "end_call";
/// Free times of a service.
pub const CHECK_AVAILABILITY: &str = "check_availability";
/// Books an offered time.
pub const BOOK_APPOINTMENT: &str = "book_appointment";
/// The caller's upcoming appointments.
pub const FIND_APPOINTMENTS: &str = "find_appointments";
/// Moves one of the caller's appointments to an offered time.
pub const RESCHEDULE_APPOINTMENT: &str = "reschedule_appointment";
/// Cancels one of the caller's appointments.
pub const CANCEL_APPOINTMENT: &str = "cancel_appointment";
/// Texts the caller (the call's `From`) something they asked for.
pub const SEND_TEXT: &str = "send_text";

/// Longest text `send_text` sends: two SMS segments.
pub const MAX_SENT_TEXT_CHARS: usize = 320;
/// Most texts `send_text` sends in one call.
pub const MAX_TEXTS_PER_CALL: i64 = 2;

/// How many free starts `check_availability` offers.
const OFFERED: usize = 3;

/// Which conversation asks (realtime calls also get `end_call`; a text conversation gets
/// only the booking tools: the sender is already texting, and nobody can be transferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Gather turns over chat completions.
    Standard,
    /// A realtime session.
    Realtime,
    /// A text conversation (chat completions).
    Text,
}

/// Whether `customer`'s receptionist books: `appointment_handling` is `book` and at least
/// one service is defined.
pub fn books(customer: &Customer) -> bool {
    AppointmentHandling::from_db(&customer.appointment_handling) == AppointmentHandling::Book
        && Diary::of(customer).is_ok()
}

/// The tools a call to `customer` gets.
pub fn for_call(customer: &Customer, mode: Mode) -> Vec<ToolSpec> {
    let mut tools = Vec::new();
    if mode != Mode::Text {
        tools.push(ToolSpec {
            name: TRANSFER,
            description: "Transfer the caller to a member of staff. Use when the caller asks for a person, has an \
                          urgent problem, or needs something you cannot help with."
                .into(),
            parameters: json!({"type": "object", "properties": {
                "reason": {"type": "string", "description": "Why the caller needs a person"}
            }}),
        });
    }
    if mode == Mode::Realtime {
        tools.push(ToolSpec {
            name: END_CALL,
            description: "End the call, after the caller has said goodbye and needs nothing else.".into(),
            parameters: json!({"type": "object", "properties": {}}),
        });
    }
    if mode != Mode::Text {
        tools.push(ToolSpec {
            name: SEND_TEXT,
            description: "Text the caller, at the number they are calling from, something they asked to have in \
                          writing: the address, the website, directions, a booking's details. At most 320 \
                          characters and two texts a call."
                .into(),
            parameters: json!({"type": "object", "required": ["message"], "properties": {
                "message": {"type": "string", "maxLength": MAX_SENT_TEXT_CHARS, "description": "The text to send"}
            }}),
        });
    }
    if let Some(diary) = books(customer).then(|| Diary::of(customer).ok()).flatten() {
        let services: Vec<&str> = diary.settings().services.iter().map(|s| s.name.as_str()).collect();
        tools.extend(booking_tools(&services));
    }
    tools
}

fn booking_tools(services: &[&str]) -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: CHECK_AVAILABILITY,
            description: "Find free times for a service. Returns at most 3 slots nearest the request, each with a \
                          slot_id to book and a label to say. Offer only these times."
                .into(),
            parameters: json!({"type": "object", "required": ["service"], "properties": {
                "service": {"type": "string", "enum": services, "description": "The service to book"},
                "date": {"type": "string", "description": "The local date wanted, YYYY-MM-DD (omit for the soonest)"},
                "earliest": {"type": "string", "description": "Earliest start wanted, HH:MM local time"},
                "latest": {"type": "string", "description": "Latest start wanted, HH:MM local time"}
            }}),
        },
        ToolSpec {
            name: BOOK_APPOINTMENT,
            description: "Book a slot that check_availability offered in this call, once the caller chose it.".into(),
            parameters: json!({"type": "object", "required": ["slot_id", "caller_name"], "properties": {
                "slot_id": {"type": "string", "description": "A slot_id from check_availability"},
                "caller_name": {"type": "string", "description": "The caller's name"},
                "notes": {"type": "string", "description": "Anything the caller wants the business to know"},
                "callback_phone": {"type": "string", "description": "Only when the caller's number is withheld: a number to reach them, E.164 like +14155550123"}
            }}),
        },
        ToolSpec {
            name: FIND_APPOINTMENTS,
            description: "The upcoming appointments of the number calling, to move or cancel one.".into(),
            parameters: json!({"type": "object", "properties": {}}),
        },
        ToolSpec {
            name: RESCHEDULE_APPOINTMENT,
            description: "Move one of the caller's appointments (from find_appointments) to a slot that \
                          check_availability offered in this call."
                .into(),
            parameters: json!({"type": "object", "required": ["appointment_id", "slot_id"], "properties": {
                "appointment_id": {"type": "integer"},
                "slot_id": {"type": "string"}
            }}),
        },
        ToolSpec {
            name: CANCEL_APPOINTMENT,
            description: "Cancel one of the caller's appointments (from find_appointments), once they confirm.".into(),
            parameters: json!({"type": "object", "required": ["appointment_id"], "properties": {
                "appointment_id": {"type": "integer"}
            }}),
        },
    ]
}

/// What a tool call does besides its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: the model answers the output.
    None,
    /// Hand the caller to a person.
    Transfer,
    /// End the call.
    EndCall,
}

/// A tool's answer: JSON text for the model, and its effect on the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// What the model is given.
    pub output: String,
    /// What happens to the call.
    pub effect: Effect,
}

impl ToolResult {
    fn output(value: Value) -> Self {
        ToolResult { output: value.to_string(), effect: Effect::None }
    }

    /// A short sentence the model can act on.
    fn problem(sentence: &str) -> Self {
        Self::output(json!({ "error": sentence }))
    }
}

/// The output a tool gives when the diary could not answer in time.
pub fn diary_down() -> String {
    json!({ "error": DIARY_DOWN }).to_string()
}

/// Said to the model when the business's own calendar cannot be read: it takes details.
const CALENDAR_DOWN: &str = "The business's calendar cannot be checked right now, so no time can be confirmed. \
                             Tell the caller, take their name, phone number and preferred time, and say the team \
                             will confirm.";

/// Said to the model when the diary cannot be reached: it takes details instead.
const DIARY_DOWN: &str = "The diary cannot be reached right now. Do not promise a time: take the caller's name, \
                          phone number and preferred time, and say the team will confirm.";

/// Tells the caller and the owner of a change a call made (queued by the layer above, so
/// the receptionist does not depend on the job queue).
pub type Notify = std::sync::Arc<
    dyn Fn(PgPool, AppointmentRow, Change) -> futures_util::future::BoxFuture<'static, anyhow::Result<()>>
        + Send
        + Sync,
>;

/// How `send_text` texts the caller: the Twilio client, and what a text costs.
#[derive(Debug, Clone)]
pub struct Texter {
    /// The Twilio REST client (texts are logged instead when it is not configured).
    pub twilio: Twilio,
    /// US dollars per text, added to the call's `twilio_cost`.
    pub cost_per_sms: f64,
}

/// What a call's tools can reach: the database, the business, the call, the number calling
/// (`None` when withheld) and how changes are told.
#[derive(Clone)]
pub struct CallDesk {
    /// The database.
    pub db: PgPool,
    /// The business called.
    pub customer: Customer,
    /// The call.
    pub call_id: i64,
    /// The caller's number (E.164) from Twilio's `From`; `None` when withheld.
    pub caller: Option<String>,
    /// Tells the caller and the owner of a booking, move or cancellation.
    pub notify: Notify,
    /// The business's connected calendar, whose busy times the diary leaves out.
    pub outside: Option<crate::booking::diary::OutsideCalendar>,
    /// A phone call or a text conversation (bookings say which they came from).
    pub channel: Channel,
    /// How `send_text` texts the caller.
    pub texter: Texter,
}

impl std::fmt::Debug for CallDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallDesk").field("customer", &self.customer.id).field("call_id", &self.call_id).finish()
    }
}

/// The caller's number as Twilio gives it, or `None` when withheld ("anonymous",
/// "restricted", empty, or anything that is not a phone number).
pub fn caller_number(from: Option<&str>) -> Option<String> {
    let from = from?.trim();
    let digits = from.strip_prefix('+')?;
    let valid = (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    // Twilio's stand-in for a withheld number.
    (valid && from != "+266696687").then(|| from.to_owned())
}

impl CallDesk {
    /// Carries out `call`. Never fails: a bad argument, a refused booking or a database
    /// failure becomes an output the model can act on.
    pub async fn run(&self, call: &ToolCall, now: DateTime<Utc>) -> ToolResult {
        let arguments: Value =
            match serde_json::from_str(if call.arguments.trim().is_empty() { "{}" } else { &call.arguments }) {
                Ok(value @ Value::Object(_)) => value,
                _ => return ToolResult::problem("The arguments were not a JSON object; call the tool again."),
            };
        let result = match call.name.as_str() {
            TRANSFER => {
                return ToolResult { output: json!({"transferring": true}).to_string(), effect: Effect::Transfer };
            }
            END_CALL => return ToolResult { output: json!({"ending": true}).to_string(), effect: Effect::EndCall },
            CHECK_AVAILABILITY => self.check_availability(arguments, now).await,
            BOOK_APPOINTMENT => self.book(arguments, now).await,
            FIND_APPOINTMENTS => self.find(now).await,
            RESCHEDULE_APPOINTMENT => self.reschedule(arguments, now).await,
            CANCEL_APPOINTMENT => self.cancel(arguments).await,
            SEND_TEXT if self.channel == Channel::Voice => self.send_text(arguments).await,
            _ => return ToolResult::problem("There is no such tool."),
        };
        result.unwrap_or_else(|error| {
            tracing::warn!(call.id = self.call_id, tool = %call.name, error = format!("{error:#}"), "a tool failed");
            ToolResult::problem(DIARY_DOWN)
        })
    }

    fn diary(&self) -> Result<Diary, ToolResult> {
        Diary::of(&self.customer)
            .map(|diary| diary.with_outside_calendar(self.outside.clone()))
            .map_err(|_| ToolResult::problem("This business does not take bookings by phone."))
    }

    async fn check_availability(&self, arguments: Value, now: DateTime<Utc>) -> anyhow::Result<ToolResult> {
        #[derive(Deserialize)]
        struct Args {
            service: Option<String>,
            date: Option<String>,
            earliest: Option<String>,
            latest: Option<String>,
        }
        let Ok(args) = serde_json::from_value::<Args>(arguments) else {
            return Ok(ToolResult::problem("Give service as text, and date, earliest and latest as text if at all."));
        };
        let diary = match self.diary() {
            Ok(diary) => diary,
            Err(problem) => return Ok(problem),
        };
        let services = || diary.settings().services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        let Some(service) = args.service.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(ToolResult::problem(&format!("Say which service; the services are: {}.", services())));
        };
        let Ok(service) = diary.service(service).cloned() else {
            return Ok(ToolResult::problem(&format!("There is no such service; the services are: {}.", services())));
        };
        let date = match args.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(raw) => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => return Ok(ToolResult::problem("Give the date as YYYY-MM-DD, from the dates you were told.")),
            },
        };
        let time = |raw: Option<&str>| -> Result<Option<NaiveTime>, ()> {
            match raw.map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(raw) => NaiveTime::parse_from_str(raw, "%H:%M").map(Some).map_err(|_| ()),
            }
        };
        let (Ok(earliest), Ok(latest)) = (time(args.earliest.as_deref()), time(args.latest.as_deref())) else {
            return Ok(ToolResult::problem("Give earliest and latest as HH:MM, 24-hour local time."));
        };
        let wanted = SlotRequest { date, earliest, latest };
        let slots = match diary.nearest(&self.db, &service.name, &wanted, now, OFFERED).await {
            Ok(slots) => slots,
            Err(BookingError::BadRequest(error)) => return Ok(ToolResult::problem(&format!("{error}."))),
            Err(BookingError::CalendarUnavailable(reason)) => return self.calendar_down(&reason).await,
            Err(BookingError::Db(error)) => return Err(error.into()),
            Err(error) => return Ok(ToolResult::problem(&format!("{error}."))),
        };
        let offered = self.offer(&service.name, &slots).await?;
        let mut answer = json!({ "slots": offered });
        let asked_day = date.unwrap_or_else(|| now.with_timezone(&diary.zone()).date_naive());
        if slots.is_empty() {
            answer["note"] = json!("Nothing is free then or on the following days that can be booked.");
        } else if date.is_some()
            && slots.iter().all(|slot| slot.start.with_timezone(&diary.zone()).date_naive() != asked_day)
        {
            answer["note"] = json!("Nothing is free on the day asked for; these are the nearest free times.");
        }
        Ok(ToolResult::output(answer))
    }

    /// Records `slots` as offered in this call and returns them as the model sees them.
    async fn offer(&self, service: &str, slots: &[Slot]) -> anyhow::Result<Vec<Value>> {
        let mut offered = Vec::with_capacity(slots.len());
        for slot in slots {
            let slot_id = sqlx::query_scalar!(
                "INSERT INTO call_slots (call_id, slot_id, service, starts_at)
                 VALUES ($1, 'S' || (SELECT count(*) + 1 FROM call_slots WHERE call_id = $1), $2, $3)
                 ON CONFLICT (call_id, service, starts_at) DO UPDATE SET service = EXCLUDED.service
                 RETURNING slot_id",
                self.call_id,
                service,
                slot.start
            )
            .fetch_one(&self.db)
            .await?;
            offered.push(json!({"slot_id": slot_id, "label": slot.label}));
        }
        Ok(offered)
    }

    async fn book(&self, arguments: Value, now: DateTime<Utc>) -> anyhow::Result<ToolResult> {
        #[derive(Deserialize)]
        struct Args {
            slot_id: Option<String>,
            caller_name: Option<String>,
            notes: Option<String>,
            callback_phone: Option<String>,
        }
        let Ok(args) = serde_json::from_value::<Args>(arguments) else {
            return Ok(ToolResult::problem("Give slot_id and caller_name as text."));
        };
        let diary = match self.diary() {
            Ok(diary) => diary,
            Err(problem) => return Ok(problem),
        };
        let Some(caller_name) = args.caller_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(refused("Ask the caller's name first, then book.", &[]));
        };
        let phone = match (&self.caller, args.callback_phone.as_deref().map(str::trim).filter(|p| !p.is_empty())) {
            (Some(caller), _) => caller.clone(),
            (None, Some(callback)) => match caller_number(Some(&callback.replace([' ', '-', '(', ')', '.'], ""))) {
                Some(phone) => phone,
                None => return Ok(refused("callback_phone must be a phone number like +14155550123.", &[])),
            },
            (None, None) => {
                return Ok(refused(
                    "The caller's number is withheld: ask for a number to reach them and pass it as callback_phone.",
                    &[],
                ));
            }
        };
        let slot_id = args.slot_id.as_deref().map(str::trim).unwrap_or_default();
        let mut tx = self.db.begin().await?;
        // Locked for the whole booking: a repeat of this call (the caller interrupted and the
        // model asked again) waits, then finds the booking made.
        let offered = sqlx::query!(
            "SELECT service, starts_at, appointment_id FROM call_slots WHERE call_id = $1 AND slot_id = $2 FOR UPDATE",
            self.call_id,
            slot_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(offered) = offered else {
            return Ok(refused("That slot_id was not offered in this call: call check_availability first.", &[]));
        };
        if let Some(id) = offered.appointment_id
            && let Some(first) = db::find(&self.db, self.customer.id, id).await?
            && first.status == AppointmentStatus::Booked
        {
            return Ok(self.booked(&diary, &first));
        }
        let request = BookingRequest {
            service: offered.service.clone(),
            starts_at: offered.starts_at,
            caller_name: caller_name.to_owned(),
            caller_phone: Some(phone),
            notes: args.notes.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            source: match self.channel {
                Channel::Voice => AppointmentSource::Call,
                Channel::Sms => AppointmentSource::Sms,
            },
            call_id: Some(self.call_id),
        };
        match diary.book(&self.db, &request, now).await {
            Ok(appointment) => {
                sqlx::query!(
                    "UPDATE call_slots SET appointment_id = $3 WHERE call_id = $1 AND slot_id = $2",
                    self.call_id,
                    slot_id,
                    appointment.id
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.record(&appointment, Change::Booked, &diary).await?;
                Ok(self.booked(&diary, &appointment))
            }
            Err(BookingError::Taken { alternatives }) => {
                drop(tx);
                let slots = self.offer(&offered.service, &alternatives).await?;
                Ok(refused("That time has just been taken.", &slots))
            }
            Err(BookingError::CalendarUnavailable(reason)) => self.calendar_down(&reason).await,
            Err(BookingError::Db(error)) => Err(error.into()),
            Err(other) => Ok(refused(&format!("{other}."), &[])),
        }
    }

    fn booked(&self, diary: &Diary, appointment: &AppointmentRow) -> ToolResult {
        let text_sent = diary.settings().sms_confirmations && appointment.caller_phone.is_some();
        ToolResult::output(json!({
            "booked": true,
            "appointment_id": appointment.id,
            "label": label(appointment.starts_at, diary.zone()),
            "text_sent": text_sent,
        }))
    }

    async fn find(&self, now: DateTime<Utc>) -> anyhow::Result<ToolResult> {
        let Some(caller) = &self.caller else {
            return Ok(ToolResult::problem(
                "The caller's number is withheld, so their appointments cannot be found by phone; offer to take a message.",
            ));
        };
        let diary = match self.diary() {
            Ok(diary) => diary,
            Err(problem) => return Ok(problem),
        };
        let appointments = db::upcoming_for_caller(&self.db, self.customer.id, caller, now).await?;
        let appointments: Vec<Value> = appointments
            .iter()
            .map(|a| json!({"appointment_id": a.id, "service": a.service, "label": label(a.starts_at, diary.zone())}))
            .collect();
        Ok(ToolResult::output(json!({ "appointments": appointments })))
    }

    /// One of the caller's own appointments at this business, or the sentence to say.
    async fn callers_appointment(&self, arguments: &Value) -> anyhow::Result<Result<AppointmentRow, ToolResult>> {
        let Some(caller) = &self.caller else {
            return Ok(Err(ToolResult::problem(
                "The caller's number is withheld, so their appointments cannot be changed by phone; offer to take a message.",
            )));
        };
        let id = match &arguments["appointment_id"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        let Some(id) = id else {
            return Ok(Err(ToolResult::problem("Give appointment_id from find_appointments.")));
        };
        match db::find(&self.db, self.customer.id, id).await? {
            Some(appointment) if appointment.caller_phone.as_deref() == Some(caller.as_str()) => Ok(Ok(appointment)),
            _ => Ok(Err(ToolResult::problem("The caller has no appointment with that id; call find_appointments."))),
        }
    }

    async fn reschedule(&self, arguments: Value, now: DateTime<Utc>) -> anyhow::Result<ToolResult> {
        let appointment = match self.callers_appointment(&arguments).await? {
            Ok(appointment) => appointment,
            Err(problem) => return Ok(problem),
        };
        let diary = match self.diary() {
            Ok(diary) => diary,
            Err(problem) => return Ok(problem),
        };
        let slot_id = arguments["slot_id"].as_str().map(str::trim).unwrap_or_default();
        let offered = sqlx::query!(
            "SELECT service, starts_at FROM call_slots WHERE call_id = $1 AND slot_id = $2",
            self.call_id,
            slot_id
        )
        .fetch_optional(&self.db)
        .await?;
        let Some(offered) = offered else {
            return Ok(refused("That slot_id was not offered in this call: call check_availability first.", &[]));
        };
        if appointment.status != AppointmentStatus::Booked {
            return Ok(refused("That appointment is cancelled; book a new one instead.", &[]));
        }
        // A repeat of a move already made answers as the first did.
        if appointment.starts_at == offered.starts_at {
            return Ok(self.booked(&diary, &appointment));
        }
        match diary.reschedule(&self.db, &appointment, offered.starts_at, now).await {
            Ok(moved) => {
                self.record(&moved, Change::Moved, &diary).await?;
                Ok(self.booked(&diary, &moved))
            }
            Err(BookingError::Taken { alternatives }) => {
                let slots = self.offer(&appointment.service, &alternatives).await?;
                Ok(refused("That time has just been taken; the appointment stays as it was.", &slots))
            }
            Err(BookingError::CalendarUnavailable(reason)) => self.calendar_down(&reason).await,
            Err(BookingError::Db(error)) => Err(error.into()),
            Err(other) => Ok(refused(&format!("{other}; the appointment stays as it was."), &[])),
        }
    }

    async fn cancel(&self, arguments: Value) -> anyhow::Result<ToolResult> {
        let appointment = match self.callers_appointment(&arguments).await? {
            Ok(appointment) => appointment,
            Err(problem) => return Ok(problem),
        };
        let diary = match self.diary() {
            Ok(diary) => diary,
            Err(problem) => return Ok(problem),
        };
        let label = label(appointment.starts_at, diary.zone());
        // Cancelling twice answers as the first time did.
        if let Some(cancelled) = db::cancel(&self.db, appointment.id).await? {
            self.record(&cancelled, Change::Cancelled, &diary).await?;
        }
        Ok(ToolResult::output(json!({"cancelled": true, "label": label})))
    }

    /// Texts the caller `message` from the business's number: only the number calling (the
    /// model names no number), at most [`MAX_SENT_TEXT_CHARS`] characters and
    /// [`MAX_TEXTS_PER_CALL`] texts a call, never to a number that opted out. The transcript
    /// records it and the call's cost includes it.
    async fn send_text(&self, arguments: Value) -> anyhow::Result<ToolResult> {
        // Only `message`: a number the model adds is refused, never used.
        if arguments.as_object().is_some_and(|fields| fields.keys().any(|name| name != "message")) {
            return Ok(ToolResult::problem(
                "send_text only texts the number the caller is calling from and takes only message; it cannot \
                 text any other number.",
            ));
        }
        let Some(caller) = &self.caller else {
            return Ok(ToolResult::problem(
                "The caller's number is withheld, so nothing can be texted to them; tell them instead.",
            ));
        };
        let Some(message) = arguments["message"].as_str().map(str::trim).filter(|m| !m.is_empty()) else {
            return Ok(ToolResult::problem("Give message: the text to send."));
        };
        let length = message.chars().count();
        if length > MAX_SENT_TEXT_CHARS {
            return Ok(ToolResult::problem(&format!(
                "The message is {length} characters, more than the {MAX_SENT_TEXT_CHARS} allowed; shorten it and \
                 call send_text again."
            )));
        }
        let Some(from) = self.customer.deskringer_number.as_deref() else {
            return Ok(ToolResult::problem("Texts cannot be sent from this line; tell the caller instead."));
        };
        const OPTED_OUT: &str = "The caller has opted out of texts from this business; tell them instead.";
        if sms_opt_outs::is_opted_out(&self.db, self.customer.id, caller).await? {
            return Ok(ToolResult::problem(OPTED_OUT));
        }
        // Claimed before sending, so two texts at once cannot both be the second.
        let claimed = sqlx::query_scalar!(
            r#"INSERT INTO call_texts (call_id, n, body)
               SELECT $1, (count(*) + 1)::int2, $2 FROM call_texts WHERE call_id = $1 HAVING count(*) < $3
               ON CONFLICT DO NOTHING RETURNING n"#,
            self.call_id,
            message,
            MAX_TEXTS_PER_CALL
        )
        .fetch_optional(&self.db)
        .await?;
        let Some(n) = claimed else {
            return Ok(ToolResult::problem(
                "Two texts have already been sent in this call; no more can be sent. Tell the caller instead.",
            ));
        };
        let release = || async {
            sqlx::query!("DELETE FROM call_texts WHERE call_id = $1 AND n = $2", self.call_id, n)
                .execute(&self.db)
                .await
        };
        let provider_id = match self.texter.twilio.send_sms(from, caller, message).await {
            Ok(SmsDelivery::Sent(sid)) => Some(sid),
            Ok(SmsDelivery::Logged) => None,
            Err(error) => {
                release().await?;
                return match error.downcast_ref::<TwilioError>() {
                    Some(twilio) if twilio.is_unsubscribed() => {
                        sms_opt_outs::opt_out(&self.db, self.customer.id, caller).await?;
                        Ok(ToolResult::problem(OPTED_OUT))
                    }
                    _ => {
                        tracing::warn!(call.id = self.call_id, error = format!("{error:#}"), "send_text failed");
                        Ok(ToolResult::problem("The text could not be sent right now; tell the caller instead."))
                    }
                };
            }
        };
        let line = format!("[Texted the caller: {message}]");
        sqlx::query!(
            "WITH sent AS (UPDATE call_texts SET provider_id = $3 WHERE call_id = $1 AND n = $4),
                  cost AS (UPDATE calls SET twilio_cost = twilio_cost + $5::float8 WHERE id = $1)
             INSERT INTO call_logs (call_id, speaker, message) VALUES ($1, 'ai', $2)",
            self.call_id,
            line,
            provider_id,
            n,
            self.texter.cost_per_sms
        )
        .execute(&self.db)
        .await?;
        tracing::info!(call.id = self.call_id, sent = provider_id.is_some(), "caller texted during the call");
        Ok(ToolResult::output(json!({"sent": true, "texts_left": MAX_TEXTS_PER_CALL - i64::from(n)})))
    }

    /// The business's connected calendar cannot be read: nothing is booked blind. The model
    /// takes details instead, and the transcript (so the summary and the owner's email) says
    /// why.
    async fn calendar_down(&self, reason: &str) -> anyhow::Result<ToolResult> {
        let line = format!("[No time could be confirmed: the business's calendar cannot be reached ({reason})]");
        sqlx::query!("INSERT INTO call_logs (call_id, speaker, message) VALUES ($1, 'ai', $2)", self.call_id, line)
            .execute(&self.db)
            .await?;
        Ok(ToolResult::problem(CALENDAR_DOWN))
    }

    /// Links the call to what it did, says so in the transcript, and tells the caller and
    /// the owner.
    async fn record(&self, appointment: &AppointmentRow, change: Change, diary: &Diary) -> anyhow::Result<()> {
        let (action, verb) = match change {
            Change::Booked => ("booked", "Booked"),
            Change::Moved => ("moved", "Moved"),
            Change::Cancelled => ("cancelled", "Cancelled"),
        };
        let line = format!(
            "[{verb}: {} on {} for {}]",
            appointment.service,
            label(appointment.starts_at, diary.zone()),
            appointment.caller_name
        );
        sqlx::query!(
            "WITH action AS (INSERT INTO call_appointments (call_id, appointment_id, action) VALUES ($1, $2, $3))
             INSERT INTO call_logs (call_id, speaker, message) VALUES ($1, 'ai', $4)",
            self.call_id,
            appointment.id,
            action,
            line
        )
        .execute(&self.db)
        .await?;
        (self.notify)(self.db.clone(), appointment.clone(), change).await
    }
}

/// `{"booked": false, "reason", "slots"}`.
fn refused(reason: &str, slots: &[Value]) -> ToolResult {
    ToolResult::output(json!({"booked": false, "reason": reason, "slots": slots}))
}

/// The dates the model needs to turn "next Tuesday" into a date: today and the next 14
/// days with their weekdays, in the business's time zone.
pub fn calendar_lines(zone: chrono_tz::Tz, now: DateTime<Utc>) -> String {
    let today = now.with_timezone(&zone).date_naive();
    let mut lines = String::from("Dates (local): ");
    let days: Vec<String> = (0..15u64)
        .filter_map(|n| today.checked_add_days(chrono::Days::new(n)))
        .enumerate()
        .map(|(n, day)| {
            let name = match n {
                0 => " (today)",
                1 => " (tomorrow)",
                _ => "",
            };
            format!("{} {}{name}", day.format("%A"), day.format("%Y-%m-%d"))
        })
        .collect();
    lines.push_str(&days.join("; "));
    lines.push('.');
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn withheld_numbers_are_no_number() {
        assert_eq!(caller_number(Some("+14155550123")).as_deref(), Some("+14155550123"));
        for withheld in [None, Some(""), Some("anonymous"), Some("Restricted"), Some("+266696687"), Some("266696687")] {
            assert_eq!(caller_number(withheld), None, "{withheld:?}");
        }
    }

    #[test]
    fn the_calendar_names_the_next_fifteen_days_in_local_time() {
        let zone = chrono_tz::America::New_York;
        // 2026-12-08 03:00 UTC is still Monday 7 December in New York.
        let now = Utc.with_ymd_and_hms(2026, 12, 8, 3, 0, 0).unwrap();
        let lines = calendar_lines(zone, now);
        assert!(
            lines.starts_with("Dates (local): Monday 2026-12-07 (today); Tuesday 2026-12-08 (tomorrow);"),
            "{lines}"
        );
        assert!(lines.ends_with("Monday 2026-12-21."), "{lines}");
    }

    #[test]
    fn booking_tools_are_offered_only_to_a_business_that_books() {
        let mut customer = Customer { appointment_handling: "collect_details".into(), ..Customer::default() };
        let names = |c: &Customer, mode| for_call(c, mode).iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(names(&customer, Mode::Standard), [TRANSFER, SEND_TEXT]);
        assert_eq!(names(&customer, Mode::Realtime), [TRANSFER, END_CALL, SEND_TEXT]);
        assert!(names(&customer, Mode::Text).is_empty());
        customer.appointment_handling = "book".into();
        assert_eq!(names(&customer, Mode::Standard), [TRANSFER, SEND_TEXT], "no services, no booking tools");
        let settings: crate::booking::BookingSettings =
            serde_json::from_value(json!({"services": [{"name": "Haircut", "minutes": 45}]})).unwrap();
        customer.booking = Some(crate::db::stored_json::StoredJson::new(&settings));
        assert_eq!(
            names(&customer, Mode::Standard),
            [
                TRANSFER,
                SEND_TEXT,
                CHECK_AVAILABILITY,
                BOOK_APPOINTMENT,
                FIND_APPOINTMENTS,
                RESCHEDULE_APPOINTMENT,
                CANCEL_APPOINTMENT
            ]
        );
        assert_eq!(
            names(&customer, Mode::Text),
            [CHECK_AVAILABILITY, BOOK_APPOINTMENT, FIND_APPOINTMENTS, RESCHEDULE_APPOINTMENT, CANCEL_APPOINTMENT]
        );
        let check = &for_call(&customer, Mode::Standard)[2];
        assert_eq!(check.parameters["properties"]["service"]["enum"], json!(["Haircut"]));
    }
}
