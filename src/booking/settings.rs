//! The `booking` object a business sets: its services and the rules its diary follows.
//!
//! Like [`crate::profile`], these types validate themselves while being deserialized: a
//! value that exists is a valid one, and a bad one is refused with a message that names
//! the field (`services[1].minutes: must be a whole number from 1 to 480`), which the HTTP
//! layer turns into a 422 about `booking.services[1].minutes`.
//!
//! The clients send form values as text, so every number may also arrive as a numeric
//! string (`"30"`), and `""` or `null` means "not given": the default for a rule, none for
//! a price. A field left out also takes its default. Service rows the owner added and left
//! wholly blank are dropped, as blank FAQ rows are.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::slots::Rules;
use crate::profile::ObjectOnly;

/// Most services one business may list.
pub const MAX_SERVICES: usize = 50;
/// Longest service name, in characters.
pub const MAX_SERVICE_NAME_LEN: usize = 100;
/// Longest service, in minutes (a working day).
pub const MAX_SERVICE_MINUTES: u32 = 480;
/// The slot steps a business may choose, in minutes.
pub const SLOT_STEPS: [u32; 4] = [15, 20, 30, 60];
/// Furthest ahead a business may take bookings, in days.
pub const MAX_HORIZON_DAYS: u32 = 365;
/// Most appointments that may overlap (chairs, rooms, staff).
pub const MAX_CAPACITY: u16 = 50;
/// Longest gap kept free after each appointment, in minutes: four hours is more than any
/// clean-up or travel needs; beyond that a business wants time off, not a buffer.
pub const MAX_BUFFER_MINUTES: u32 = 240;
/// Longest notice a business may ask for, in minutes (30 days).
pub const MAX_NOTICE_MINUTES: u32 = 30 * 24 * 60;
/// Earliest reminder, in hours before the start (a week).
pub const MAX_REMINDER_HOURS: u32 = 168;
/// Highest price, in cents (1,000,000.00): anything above is a typing slip.
pub const MAX_PRICE_CENTS: u64 = 100_000_000;

/// How a business takes bookings: what it offers and the rules its diary follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "ObjectOnly<RawBookingSettings>")]
pub struct BookingSettings {
    /// What a caller can book, each with its length. Names are unique (ignoring case).
    #[schema(max_items = 50)]
    pub services: Vec<Service>,
    /// Minutes between offered start times, counted from each opening: 15, 20, 30 or 60.
    #[schema(example = 30)]
    pub slot_step_minutes: u32,
    /// Least time between now and a bookable start, in minutes (at most 30 days).
    #[schema(example = 60, maximum = 43200)]
    pub min_notice_minutes: u32,
    /// How many local days, today included, can be booked (1 to 365).
    #[schema(example = 30, minimum = 1, maximum = 365)]
    pub horizon_days: u32,
    /// How many appointments may overlap, for example chairs or staff (1 to 50).
    #[schema(example = 1, minimum = 1, maximum = 50)]
    pub capacity: u16,
    /// Minutes kept free after each appointment (0 to 240).
    #[schema(example = 0, maximum = 240)]
    pub buffer_minutes: u32,
    /// Whether the caller gets a confirmation text.
    #[schema(example = true)]
    pub sms_confirmations: bool,
    /// Hours before the start that the caller gets a reminder text; 0 sends none (at most 168).
    #[schema(example = 24, maximum = 168)]
    pub reminder_hours: u32,
}

impl Default for BookingSettings {
    fn default() -> Self {
        BookingSettings {
            services: Vec::new(),
            slot_step_minutes: 30,
            min_notice_minutes: 60,
            horizon_days: 30,
            capacity: 1,
            buffer_minutes: 0,
            sms_confirmations: true,
            reminder_hours: 24,
        }
    }
}

impl BookingSettings {
    /// The rules availability is computed with.
    pub fn rules(&self) -> Rules {
        Rules {
            slot_step_minutes: self.slot_step_minutes,
            min_notice_minutes: self.min_notice_minutes,
            horizon_days: self.horizon_days,
            capacity: self.capacity,
            buffer_minutes: self.buffer_minutes,
        }
    }

    /// The service called `name`, ignoring case and surrounding spaces (as a model or a
    /// caller may write it).
    pub fn service(&self, name: &str) -> Option<&Service> {
        let name = name.trim();
        self.services.iter().find(|service| service.name.to_lowercase() == name.to_lowercase())
    }
}

/// Something a caller can book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "ObjectOnly<RawService>")]
pub struct Service {
    /// Its name, as the receptionist says it ("Haircut").
    #[schema(example = "Haircut", max_length = 100)]
    pub name: String,
    /// How long it takes, in minutes (1 to 480).
    #[schema(example = 45, minimum = 1, maximum = 480)]
    pub minutes: u32,
    /// What it costs, in the business's currency; `null` when not said.
    #[schema(value_type = Option<f64>, example = 25.5)]
    pub price: Option<Price>,
}

/// An amount of money in the business's currency, kept as whole cents.
///
/// Cents, not `f64`: an owner types `19.99` and must get `19.99` back, in the API and in what
/// the receptionist says, and equal prices must compare equal; binary fractions give neither
/// for sure. It is written in JSON as a number of currency units (`19.99`, or `25` for a
/// whole amount), which is what the clients send and show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price {
    cents: u64,
}

impl Price {
    /// A price of `cents` hundredths of the currency unit.
    pub fn from_cents(cents: u64) -> Self {
        Price { cents }
    }

    /// The amount in hundredths of the currency unit.
    pub fn cents(self) -> u64 {
        self.cents
    }

    /// Reads an amount as people type it: `25`, `25.5`, `19.99` (no sign, no currency
    /// symbol, at most two decimals).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let refused = || format!("`{raw}` is not an amount such as 25 or 19.99 (no currency sign, at most 2 decimals)");
        let (whole, fraction) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 || whole.len() > 12 {
            return Err(refused());
        }
        let units: u64 = whole.parse().map_err(|_| refused())?;
        let fraction: u64 = format!("{fraction:0<2}").parse().map_err(|_| refused())?;
        let cents = units * 100 + fraction;
        if cents > MAX_PRICE_CENTS {
            return Err(format!("must be at most {}", Price::from_cents(MAX_PRICE_CENTS)));
        }
        Ok(Price { cents })
    }
}

impl fmt::Display for Price {
    /// `25` for a whole amount, `19.99` or `7.50` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cents % 100 {
            0 => write!(f, "{}", self.cents / 100),
            cents => write!(f, "{}.{cents:02}", self.cents / 100),
        }
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.cents % 100 {
            0 => serializer.serialize_u64(self.cents / 100),
            // The nearest f64 to n/100, which serde_json writes as its shortest form: "19.99".
            _ => serializer.serialize_f64(self.cents as f64 / 100.0),
        }
    }
}

/// The JSON shape of [`BookingSettings`] as a client sends it; every field may be left out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBookingSettings {
    #[serde(default)]
    services: Option<Vec<ObjectOnly<RawService>>>,
    #[serde(default)]
    slot_step_minutes: SlotStep,
    #[serde(default)]
    min_notice_minutes: Whole<0, { MAX_NOTICE_MINUTES as u64 }>,
    #[serde(default)]
    horizon_days: Whole<1, { MAX_HORIZON_DAYS as u64 }>,
    #[serde(default)]
    capacity: Whole<1, { MAX_CAPACITY as u64 }>,
    #[serde(default)]
    buffer_minutes: Whole<0, { MAX_BUFFER_MINUTES as u64 }>,
    #[serde(default)]
    sms_confirmations: FormBool,
    #[serde(default)]
    reminder_hours: Whole<0, { MAX_REMINDER_HOURS as u64 }>,
}

impl TryFrom<ObjectOnly<RawBookingSettings>> for BookingSettings {
    type Error = String;

    fn try_from(ObjectOnly(raw): ObjectOnly<RawBookingSettings>) -> Result<Self, String> {
        let defaults = BookingSettings::default();
        let mut services: Vec<Service> = Vec::new();
        // Rows are named by their position as sent (blank ones included), so the form can
        // point at the row it shows.
        for (index, ObjectOnly(row)) in raw.services.unwrap_or_default().into_iter().enumerate() {
            if row.is_blank() {
                continue;
            }
            let service = Service::try_from(ObjectOnly(row)).map_err(|e| format!("services[{index}].{e}"))?;
            let key = service.name.to_lowercase();
            if services.iter().any(|earlier| earlier.name.to_lowercase() == key) {
                return Err(format!(
                    "services[{index}].name: `{}` is listed twice; give each service its own name",
                    service.name
                ));
            }
            services.push(service);
            if services.len() > MAX_SERVICES {
                return Err(format!("services: at most {MAX_SERVICES} services can be listed"));
            }
        }
        Ok(BookingSettings {
            services,
            slot_step_minutes: raw.slot_step_minutes.0.unwrap_or(defaults.slot_step_minutes),
            min_notice_minutes: raw.min_notice_minutes.get().unwrap_or(defaults.min_notice_minutes),
            horizon_days: raw.horizon_days.get().unwrap_or(defaults.horizon_days),
            capacity: raw.capacity.0.map_or(defaults.capacity, |n| n as u16),
            buffer_minutes: raw.buffer_minutes.get().unwrap_or(defaults.buffer_minutes),
            sms_confirmations: raw.sms_confirmations.0.unwrap_or(defaults.sms_confirmations),
            reminder_hours: raw.reminder_hours.get().unwrap_or(defaults.reminder_hours),
        })
    }
}

/// The JSON shape of one [`Service`] as a client sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    minutes: Whole<1, { MAX_SERVICE_MINUTES as u64 }>,
    #[serde(default)]
    price: FormPrice,
}

impl RawService {
    /// A row the owner added and left empty.
    fn is_blank(&self) -> bool {
        self.name.as_deref().is_none_or(|name| name.trim().is_empty())
            && self.minutes.0.is_none()
            && self.price.0.is_none()
    }
}

impl TryFrom<ObjectOnly<RawService>> for Service {
    type Error = String;

    fn try_from(ObjectOnly(raw): ObjectOnly<RawService>) -> Result<Self, String> {
        let name = raw.name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            return Err("name: give the service a name".into());
        }
        if name.chars().count() > MAX_SERVICE_NAME_LEN {
            return Err(format!("name: must be at most {MAX_SERVICE_NAME_LEN} characters"));
        }
        let Some(minutes) = raw.minutes.get() else {
            return Err(format!("minutes: give the length of {name} in minutes (1 to {MAX_SERVICE_MINUTES})"));
        };
        Ok(Service { name: name.to_owned(), minutes, price: raw.price.0 })
    }
}

/// A whole number from `MIN` to `MAX` as a form sends it; `None` when not given.
#[derive(Debug, Default)]
struct Whole<const MIN: u64, const MAX: u64>(Option<u64>);

impl<const MIN: u64, const MAX: u64> Whole<MIN, MAX> {
    /// The value; every bound used here fits in a `u32`.
    fn get(&self) -> Option<u32> {
        self.0.map(|n| u32::try_from(n).expect("bounds fit in u32"))
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Whole<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let refused = || D::Error::custom(format!("must be a whole number from {MIN} to {MAX}"));
        match form_whole(Value::deserialize(deserializer)?) {
            Ok(None) => Ok(Whole(None)),
            Ok(Some(n)) if (MIN..=MAX).contains(&n) => Ok(Whole(Some(n))),
            _ => Err(refused()),
        }
    }
}

/// The slot step: one of [`SLOT_STEPS`], or `None` when not given.
#[derive(Debug, Default)]
struct SlotStep(Option<u32>);

impl<'de> Deserialize<'de> for SlotStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match form_whole(Value::deserialize(deserializer)?) {
            Ok(None) => Ok(SlotStep(None)),
            Ok(Some(n)) if SLOT_STEPS.iter().any(|&step| u64::from(step) == n) => Ok(SlotStep(Some(n as u32))),
            _ => Err(D::Error::custom("must be 15, 20, 30 or 60 (minutes)")),
        }
    }
}

/// A yes/no as a form sends it: `true`/`false` or the same words as text; `None` when not given.
#[derive(Debug, Default)]
struct FormBool(Option<bool>);

impl<'de> Deserialize<'de> for FormBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(FormBool(None)),
            Value::Bool(b) => Ok(FormBool(Some(b))),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(FormBool(None)),
                "true" => Ok(FormBool(Some(true))),
                "false" => Ok(FormBool(Some(false))),
                _ => Err(D::Error::custom("must be true or false")),
            },
            _ => Err(D::Error::custom("must be true or false")),
        }
    }
}

/// A price as a form sends it: a JSON number or text (see [`Price::parse`]); `None` when
/// not given.
#[derive(Debug, Default)]
struct FormPrice(Option<Price>);

impl<'de> Deserialize<'de> for FormPrice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(deserializer)? {
            Value::Null => return Ok(FormPrice(None)),
            // serde_json writes a number in its shortest form (19.99 as "19.99"), so the
            // decimal reading of the text is the amount that was typed.
            Value::Number(n) => n.to_string(),
            Value::String(s) if s.trim().is_empty() => return Ok(FormPrice(None)),
            Value::String(s) => s,
            _ => return Err(D::Error::custom("must be an amount such as 25 or 19.99")),
        };
        Price::parse(&text).map(|price| FormPrice(Some(price))).map_err(D::Error::custom)
    }
}

/// A whole number from a JSON number or numeric text; `Ok(None)` for `null` or blank text;
/// `Err` for anything else (negative, fractional, not a number).
fn form_whole(value: Value) -> Result<Option<u64>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(n), _) => Ok(Some(n)),
            // 30.0 is thirty.
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f <= u32::MAX as f64 => Ok(Some(f as u64)),
            _ => Err(()),
        },
        Value::String(s) => match s.trim() {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| ()),
        },
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(value: Value) -> Result<BookingSettings, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    fn refused(value: Value) -> String {
        settings(value.clone()).expect_err(&format!("{value} should be refused"))
    }

    #[test]
    fn an_empty_object_takes_every_default() {
        let s = settings(json!({})).unwrap();
        assert_eq!(s, BookingSettings::default());
        assert_eq!(s.services, vec![]);
        assert_eq!(s.slot_step_minutes, 30);
        assert_eq!(s.min_notice_minutes, 60);
        assert_eq!(s.horizon_days, 30);
        assert_eq!(s.capacity, 1);
        assert_eq!(s.buffer_minutes, 0);
        assert!(s.sms_confirmations);
        assert_eq!(s.reminder_hours, 24);
    }

    #[test]
    fn empty_strings_and_nulls_take_the_defaults() {
        let blank = settings(json!({
            "services": null, "slot_step_minutes": "", "min_notice_minutes": "", "horizon_days": " ",
            "capacity": "", "buffer_minutes": null, "sms_confirmations": "", "reminder_hours": ""
        }))
        .unwrap();
        assert_eq!(blank, BookingSettings::default());
    }

    #[test]
    fn numbers_sent_as_text_are_read() {
        let s = settings(json!({
            "services": [{"name": "Cut", "minutes": "45", "price": "19.99"}],
            "slot_step_minutes": "15", "min_notice_minutes": " 0 ", "horizon_days": "365",
            "capacity": "3", "buffer_minutes": "10", "sms_confirmations": "false", "reminder_hours": "0"
        }))
        .unwrap();
        assert_eq!(s.services[0].minutes, 45);
        assert_eq!(s.services[0].price, Some(Price::from_cents(1999)));
        assert_eq!(
            (s.slot_step_minutes, s.min_notice_minutes, s.horizon_days, s.capacity, s.buffer_minutes),
            (15, 0, 365, 3, 10)
        );
        assert!(!s.sms_confirmations);
        assert_eq!(s.reminder_hours, 0);
    }

    #[test]
    fn settings_serialize_back_with_every_field() {
        let s = settings(json!({"services": [
            {"name": " Haircut ", "minutes": 45, "price": "25"},
            {"name": "Colour", "minutes": 90, "price": 60.5},
            {"name": "Consultation", "minutes": 15}
        ]}))
        .unwrap();
        let written = serde_json::to_value(&s).unwrap();
        assert_eq!(
            written,
            json!({
                "services": [
                    {"name": "Haircut", "minutes": 45, "price": 25},
                    {"name": "Colour", "minutes": 90, "price": 60.5},
                    {"name": "Consultation", "minutes": 15, "price": null}
                ],
                "slot_step_minutes": 30, "min_notice_minutes": 60, "horizon_days": 30, "capacity": 1,
                "buffer_minutes": 0, "sms_confirmations": true, "reminder_hours": 24
            })
        );
        assert_eq!(settings(written).unwrap(), s, "what is written reads back the same");
    }

    #[test]
    fn service_minutes_must_be_from_1_to_480() {
        for ok in [json!(1), json!(480), json!("60"), json!(30.0)] {
            let s = settings(json!({"services": [{"name": "Cut", "minutes": ok}]})).unwrap();
            assert!((1..=480).contains(&s.services[0].minutes));
        }
        for bad in [json!(0), json!(481), json!(-5), json!("ten"), json!(12.5), json!(true)] {
            let err = refused(json!({"services": [{"name": "Cut", "minutes": bad}]}));
            assert_eq!(err, "services[0]: minutes: must be a whole number from 1 to 480", "{bad}");
        }
        let err = refused(json!({"services": [{"name": "Cut"}]}));
        assert_eq!(err, "services[0].minutes: give the length of Cut in minutes (1 to 480)");
    }

    #[test]
    fn service_names_are_trimmed_and_required() {
        let s = settings(json!({"services": [{"name": "  Beard trim ", "minutes": 20}]})).unwrap();
        assert_eq!(s.services[0].name, "Beard trim");
        let err = refused(json!({"services": [{"name": "Cut", "minutes": 30}, {"name": " ", "minutes": 20}]}));
        assert_eq!(err, "services[1].name: give the service a name");
        let long = "x".repeat(MAX_SERVICE_NAME_LEN + 1);
        let err = refused(json!({"services": [{"name": long, "minutes": 20}]}));
        assert_eq!(err, "services[0].name: must be at most 100 characters");
    }

    #[test]
    fn service_names_are_unique_ignoring_case() {
        let err = refused(json!({"services": [
            {"name": "Haircut", "minutes": 30}, {"name": "Colour", "minutes": 60}, {"name": " HAIRCUT", "minutes": 45}
        ]}));
        assert_eq!(err, "services[2].name: `HAIRCUT` is listed twice; give each service its own name");
    }

    #[test]
    fn blank_service_rows_are_dropped_and_rows_keep_their_sent_position() {
        let s = settings(json!({"services": [
            {"name": "", "minutes": "", "price": ""}, {"name": "Cut", "minutes": 30}, {}
        ]}))
        .unwrap();
        assert_eq!(s.services.len(), 1);
        let err = refused(json!({"services": [{"name": "", "minutes": ""}, {"name": "", "minutes": 30}]}));
        assert_eq!(err, "services[1].name: give the service a name");
    }

    #[test]
    fn at_most_50_services() {
        let rows = |n: usize| (0..n).map(|i| json!({"name": format!("S{i}"), "minutes": 30})).collect::<Vec<_>>();
        assert_eq!(settings(json!({"services": rows(50)})).unwrap().services.len(), 50);
        assert_eq!(refused(json!({"services": rows(51)})), "services: at most 50 services can be listed");
    }

    #[test]
    fn prices_are_exact_amounts_or_none() {
        let price = |value: Value| {
            settings(json!({"services": [{"name": "Cut", "minutes": 30, "price": value}]})).map(|s| s.services[0].price)
        };
        assert_eq!(price(json!(19.99)).unwrap(), Some(Price::from_cents(1999)));
        assert_eq!(price(json!(0.1)).unwrap(), Some(Price::from_cents(10)));
        assert_eq!(price(json!("7.5")).unwrap(), Some(Price::from_cents(750)));
        assert_eq!(price(json!(40)).unwrap(), Some(Price::from_cents(4000)));
        assert_eq!(price(json!(0)).unwrap(), Some(Price::from_cents(0)));
        assert_eq!(price(json!("")).unwrap(), None);
        assert_eq!(price(json!(null)).unwrap(), None);
        for bad in [json!("$25"), json!(-1), json!("1.999"), json!("12,50"), json!(1e9), json!([25])] {
            let err = price(bad.clone()).unwrap_err();
            assert!(err.starts_with("services[0]: price: "), "{bad}: {err}");
        }
        assert_eq!(Price::from_cents(750).to_string(), "7.50");
        assert_eq!(Price::from_cents(2500).to_string(), "25");
        assert_eq!(serde_json::to_value(Price::from_cents(1999)).unwrap(), json!(19.99));
    }

    #[test]
    fn slot_step_must_be_15_20_30_or_60() {
        for step in [15, 20, 30, 60] {
            assert_eq!(settings(json!({"slot_step_minutes": step})).unwrap().slot_step_minutes, step);
        }
        for bad in [json!(10), json!(45), json!("0"), json!("half an hour")] {
            assert_eq!(
                refused(json!({"slot_step_minutes": bad})),
                "slot_step_minutes: must be 15, 20, 30 or 60 (minutes)"
            );
        }
    }

    #[test]
    fn each_numeric_rule_has_its_range() {
        for (field, low, high) in [
            ("min_notice_minutes", 0, 43_200),
            ("horizon_days", 1, 365),
            ("capacity", 1, 50),
            ("buffer_minutes", 0, 240),
            ("reminder_hours", 0, 168),
        ] {
            for ok in [low, high] {
                let s = serde_json::to_value(settings(json!({ field: ok })).unwrap()).unwrap();
                assert_eq!(s[field], json!(ok), "{field}");
            }
            let message = format!("{field}: must be a whole number from {low} to {high}");
            for bad in [json!(high + 1), json!(-1), json!("many"), json!(1.5), json!({})] {
                assert_eq!(refused(json!({ field: bad })), message, "{field} = {bad}");
            }
            if low > 0 {
                assert_eq!(refused(json!({ field: low - 1 })), message, "{field} below {low}");
            }
        }
    }

    #[test]
    fn sms_confirmations_is_a_yes_or_no() {
        assert!(!settings(json!({"sms_confirmations": false})).unwrap().sms_confirmations);
        assert!(settings(json!({"sms_confirmations": "TRUE"})).unwrap().sms_confirmations);
        assert_eq!(refused(json!({"sms_confirmations": "maybe"})), "sms_confirmations: must be true or false");
        assert_eq!(refused(json!({"sms_confirmations": 1})), "sms_confirmations: must be true or false");
    }

    #[test]
    fn unknown_fields_and_non_objects_are_refused() {
        assert!(refused(json!({"capacityy": 2})).contains("unknown field `capacityy`"));
        assert!(refused(json!([[], 30])).contains("invalid type"));
        assert!(refused(json!({"services": [["Cut", 30]]})).starts_with("services[0]: invalid type"));
    }

    #[test]
    fn a_bad_value_becomes_a_422_naming_the_exact_field() {
        // The path a settings request takes: the body is read with serde_path_to_error and
        // the problem located by field_error, as in CustomerPatch.
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "only the error matters")]
        struct Body {
            booking: Option<BookingSettings>,
        }
        for (booking, field, message) in [
            (
                json!({"services": [{"name": "Cut", "minutes": 30}, {"name": "Dye", "minutes": 999}]}),
                "booking.services[1].minutes",
                "booking.services[1].minutes: must be a whole number from 1 to 480",
            ),
            (
                json!({"services": [{"name": "Cut", "minutes": 30}, {"name": "cut", "minutes": 20}]}),
                "booking.services[1].name",
                "booking.services[1].name: `cut` is listed twice; give each service its own name",
            ),
            (
                json!({"services": [{"name": "Cut", "minutes": 30, "price": "a lot"}]}),
                "booking.services[0].price",
                "booking.services[0].price: `a lot` is not an amount such as 25 or 19.99 (no currency sign, at most 2 decimals)",
            ),
            (
                json!({"services": [{"name": 7, "minutes": 30}]}),
                "booking.services[0].name",
                "booking.services[0].name must be text",
            ),
            (json!({"capacity": 0}), "booking.capacity", "booking.capacity: must be a whole number from 1 to 50"),
            (
                json!({"slot_step_minutes": 25}),
                "booking.slot_step_minutes",
                "booking.slot_step_minutes: must be 15, 20, 30 or 60 (minutes)",
            ),
            (json!("weekly"), "booking", "booking must be an object"),
        ] {
            let error = crate::http::extract::from_json_value::<Body>(json!({ "booking": booking })).unwrap_err();
            let crate::http::error::AppError::Unprocessable { message: got, details } = error else {
                panic!("{booking}: not a 422: {error:?}");
            };
            assert_eq!(got, message, "{booking}");
            assert_eq!(details, Some(json!({ field: message })), "{booking}");
        }
    }

    #[test]
    fn rules_and_service_lookup_come_from_the_settings() {
        let s =
            settings(json!({"services": [{"name": "Beard Trim", "minutes": 20}], "capacity": 2, "buffer_minutes": 5}))
                .unwrap();
        assert_eq!(s.service(" beard trim").map(|s| s.minutes), Some(20));
        assert_eq!(s.service("haircut"), None);
        let rules = s.rules();
        assert_eq!((rules.capacity, rules.buffer_minutes, rules.slot_step_minutes), (2, 5, 30));
    }
}
