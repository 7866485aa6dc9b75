//! A partial change to a business: which fields a request sets (or clears), validated and
//! applied to a [`Customer`]. Admin create/update/settings and the portal's settings all
//! go through here, so the rules are the same everywhere; which fields each may set is
//! stated once, in [`Settable`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::booking::BookingSettings;
use crate::db::customers::{Customer, SUBSCRIPTION_STATUSES, SUBSCRIPTION_TIERS, Setting};
use crate::db::stored_json::StoredJson;
use crate::http::error::{AppError, Result};
use crate::http::extract::from_json_value;
use crate::http::validate::{self, MAX_NAME_LEN, MAX_TEXT_LEN};
use crate::profile::{AppointmentHandling, BusinessHours, Faq, FaqRows, VoiceMode};
use crate::receptionist::{BusinessProfile, compile_instructions, languages};

/// Longest `ai_instructions`, hand-written or compiled, in characters. They are sent with
/// every model turn, at the platform's cost; the compiled text of a large business (50
/// FAQs of a few sentences, a week of hours, services and prices) fits.
pub const MAX_INSTRUCTIONS_LEN: usize = 20_000;
/// Most FAQs a business keeps (each is compiled into the instructions).
pub const MAX_FAQS: usize = 50;

/// Fields a request may set. For nullable fields the outer `Option` says whether the field
/// was sent and the inner one whether it was `null`: `{"phone": null}` clears the phone,
/// leaving `phone` out keeps it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CustomerPatch {
    pub business_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub contact_name: Option<Option<String>>,
    pub email: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub business_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<BusinessHours>)]
    pub business_hours: Option<Option<BusinessHours>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub holiday_hours: Option<Option<String>>,
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub deskringer_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub forward_to_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub greeting_message: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub services_offered: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<crate::profile::Faq>>)]
    pub faqs: Option<Option<FaqRows>>,
    pub appointment_handling: Option<AppointmentHandling>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<crate::booking::BookingSettings>)]
    pub booking: Option<Option<BookingSettings>>,
    pub voice_mode: Option<VoiceMode>,
    /// BCP-47 codes, the main language first (1 to 5, each a supported one).
    pub languages: Option<Vec<String>>,
    pub reject_unverified_callers: Option<bool>,
    /// At most 320 characters; `""` or `null` is off.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub missed_call_text: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub pricing_info: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub special_instructions: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub ai_instructions: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub notification_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub notification_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub notification_instructions: Option<Option<String>>,
    pub subscription_status: Option<String>,
    pub subscription_tier: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub trial_ends_at: Option<Option<DateTime<Utc>>>,
}

/// Who is changing a business, and so which fields the request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settable {
    /// Staff creating or editing a business: every field.
    Everything,
    /// Staff changing the receptionist's settings (`/api/customers/{id}/settings`):
    /// [`RECEPTIONIST_SETTINGS`]; other fields are ignored.
    ReceptionistSettings,
    /// The business itself, in the portal: [`PORTAL_SETTINGS`]; any other field is refused
    /// by name (an owner never changes its email, number, subscription or instructions).
    Portal,
}

/// What the receptionist settings endpoint changes.
pub const RECEPTIONIST_SETTINGS: &[&str] = &[
    "greeting_message",
    "ai_instructions",
    "business_type",
    "business_hours",
    "holiday_hours",
    "timezone",
    "services_offered",
    "faqs",
    "appointment_handling",
    "booking",
    "pricing_info",
    "special_instructions",
    "forward_to_number",
    "notification_instructions",
    "voice_mode",
    "languages",
    "reject_unverified_callers",
    "missed_call_text",
];

/// What a business may change about itself.
pub const PORTAL_SETTINGS: &[&str] = &[
    "business_name",
    "contact_name",
    "phone",
    "business_type",
    "business_hours",
    "holiday_hours",
    "timezone",
    "forward_to_number",
    "greeting_message",
    "services_offered",
    "faqs",
    "appointment_handling",
    "booking",
    "pricing_info",
    "special_instructions",
    "notification_email",
    "notification_phone",
    "notification_instructions",
    "voice_mode",
    "languages",
    "reject_unverified_callers",
    "missed_call_text",
];

impl CustomerPatch {
    /// Reads a request body as the fields `who` may set.
    pub fn from_body(body: Value, who: Settable) -> Result<Self> {
        let Value::Object(mut fields) = body else {
            return Err(AppError::Unprocessable {
                message: "the request body must be an object".into(),
                details: None,
            });
        };
        match who {
            Settable::Everything => {}
            Settable::ReceptionistSettings => fields.retain(|name, _| RECEPTIONIST_SETTINGS.contains(&name.as_str())),
            Settable::Portal => {
                if let Some(name) = fields.keys().find(|name| !PORTAL_SETTINGS.contains(&name.as_str())) {
                    return Err(AppError::Unprocessable {
                        message: format!("{name} is not a field that can be set here"),
                        details: Some(serde_json::json!({ name: "cannot be set here" })),
                    });
                }
            }
        }
        from_json_value(Value::Object(fields))
    }
}
/// Keeps "sent as null" (`Some(None)`) apart from "not sent" (`None`, via `#[serde(default)]`).
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

impl CustomerPatch {
    /// Whether the request changes a field the instructions are compiled from.
    fn touches_instruction_inputs(&self) -> bool {
        self.business_name.is_some()
            || self.business_type.is_some()
            || self.services_offered.is_some()
            || self.business_hours.is_some()
            || self.holiday_hours.is_some()
            || self.timezone.is_some()
            || self.faqs.is_some()
            || self.appointment_handling.is_some()
            || self.booking.is_some()
            || self.pricing_info.is_some()
            || self.special_instructions.is_some()
            || self.forward_to_number.is_some()
    }

    /// Whether the request sends a new value for `setting`.
    pub fn replaces(&self, setting: Setting) -> bool {
        match setting {
            Setting::BusinessHours => self.business_hours.is_some(),
            Setting::Faqs => self.faqs.is_some(),
        }
    }

    /// Validates every field the request sends and writes it into `fields`. Then
    /// `ai_instructions` is taken from the request if it sets them, else recompiled when
    /// an input of theirs changed (or `always_compile` is set, for a new business).
    /// On error `fields` may be half-changed; callers then save nothing.
    pub fn apply(self, fields: &mut Customer, always_compile: bool) -> Result<()> {
        let recompile = always_compile || self.touches_instruction_inputs();

        if let Some(v) = self.business_name {
            fields.business_name = validate::required_text("business_name", &v, MAX_NAME_LEN)?;
        }
        if let Some(v) = self.email {
            fields.email = validate::email("email", &v)?;
        }
        if let Some(v) = self.timezone {
            fields.timezone = validate::timezone("timezone", &v)?;
        }
        if let Some(v) = self.subscription_status {
            fields.subscription_status = validate::one_of("subscription_status", &v, SUBSCRIPTION_STATUSES)?;
        }
        if let Some(v) = self.subscription_tier {
            fields.subscription_tier = validate::one_of("subscription_tier", &v, SUBSCRIPTION_TIERS)?;
        }
        if let Some(v) = self.appointment_handling {
            fields.appointment_handling = v.as_str().to_owned();
        }
        if let Some(v) = self.voice_mode {
            fields.voice_mode = v.as_str().to_owned();
        }
        if let Some(codes) = self.languages {
            fields.languages =
                languages::check(&codes).map_err(|(field, reason)| AppError::invalid_field(&field, reason))?;
        }
        if let Some(v) = self.reject_unverified_callers {
            fields.reject_unverified_callers = v;
        }
        if let Some(v) = self.missed_call_text {
            let text = v.as_deref().unwrap_or_default();
            fields.missed_call_text =
                validate::optional_text("missed_call_text", text, MAX_MISSED_CALL_TEXT)?.unwrap_or_default();
        }

        let text = |field: &str, value: Option<String>, max: usize| match value {
            None => Ok(None),
            Some(v) => validate::optional_text(field, &v, max),
        };
        set(&mut fields.contact_name, self.contact_name, |v| text("contact_name", v, MAX_NAME_LEN))?;
        set(&mut fields.business_type, self.business_type, |v| text("business_type", v, MAX_NAME_LEN))?;
        set(&mut fields.greeting_message, self.greeting_message, |v| text("greeting_message", v, MAX_TEXT_LEN))?;
        set(&mut fields.services_offered, self.services_offered, |v| text("services_offered", v, MAX_TEXT_LEN))?;
        set(&mut fields.pricing_info, self.pricing_info, |v| text("pricing_info", v, MAX_TEXT_LEN))?;
        set(&mut fields.special_instructions, self.special_instructions, |v| {
            text("special_instructions", v, MAX_TEXT_LEN)
        })?;
        set(&mut fields.notification_instructions, self.notification_instructions, |v| {
            text("notification_instructions", v, MAX_TEXT_LEN)
        })?;

        let phone = |field: &'static str| {
            move |value: Option<String>| -> Result<Option<String>> {
                match value.as_deref().map(str::trim) {
                    None | Some("") => Ok(None),
                    Some(v) => validate::e164(field, v).map(Some),
                }
            }
        };
        set(&mut fields.phone, self.phone, phone("phone"))?;
        set(&mut fields.deskringer_number, self.deskringer_number, phone("deskringer_number"))?;
        set(&mut fields.forward_to_number, self.forward_to_number, phone("forward_to_number"))?;
        set(&mut fields.notification_phone, self.notification_phone, phone("notification_phone"))?;
        set(&mut fields.notification_email, self.notification_email, |value| match value.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => validate::email("notification_email", v).map(Some),
        })?;

        if let Some(hours) = self.business_hours {
            fields.business_hours = hours.filter(|h| !h.is_empty()).map(|h| StoredJson::new(&h));
        }
        set(&mut fields.holiday_hours, self.holiday_hours, |v| text("holiday_hours", v, MAX_TEXT_LEN))?;
        if let Some(booking) = self.booking {
            // `null` (or leaving it out) is the defaults; a client that sends no `booking`
            // leaves the stored one alone.
            fields.booking = booking.map(|booking| StoredJson::new(&booking));
        }
        if let Some(rows) = self.faqs {
            if let Some(FaqRows(faqs)) = &rows
                && faqs.len() > MAX_FAQS
            {
                return Err(AppError::invalid_field(
                    "faqs",
                    format!("at most {MAX_FAQS} questions ({} were sent)", faqs.len()),
                ));
            }
            // No rows left (none sent, or only blank ones) is no FAQs.
            fields.faqs =
                rows.map(|FaqRows(faqs)| faqs).filter(|faqs| !faqs.is_empty()).map(|faqs| StoredJson::new(&faqs));
        }
        set(&mut fields.trial_ends_at, self.trial_ends_at, Ok)?;

        // Instructions written by hand win; an empty field (the dashboard sends `""` when the
        // admin wrote none) or `null` means "compile them from the settings", never "no
        // instructions": a receptionist without them would know nothing of the business.
        match self.ai_instructions.map(|v| text("ai_instructions", v, MAX_INSTRUCTIONS_LEN)).transpose()? {
            Some(Some(written)) => fields.ai_instructions = Some(written),
            Some(None) => recompile_instructions(fields)?,
            None if recompile => recompile_instructions(fields)?,
            None => {}
        }
        Ok(())
    }
}

/// Compiles `ai_instructions` from the business's structured fields; 422 on
/// `ai_instructions` when the result is longer than [`MAX_INSTRUCTIONS_LEN`], naming the
/// fields that make it long.
fn recompile_instructions(fields: &mut Customer) -> Result<()> {
    let hours = fields.business_hours.as_ref().and_then(StoredJson::parse);
    let faqs: Vec<Faq> = fields.faqs.as_ref().and_then(StoredJson::parse).unwrap_or_default();
    let profile = BusinessProfile {
        business_name: &fields.business_name,
        business_type: fields.business_type.as_deref(),
        services_offered: fields.services_offered.as_deref(),
        business_hours: hours.as_ref(),
        holiday_hours: fields.holiday_hours.as_deref(),
        timezone: &fields.timezone,
        faqs: &faqs,
        appointment_handling: AppointmentHandling::from_db(&fields.appointment_handling),
        pricing_info: fields.pricing_info.as_deref(),
        special_instructions: fields.special_instructions.as_deref(),
        forward_to_number: fields.forward_to_number.as_deref(),
    };
    let compiled = compile_instructions(&profile);
    let length = compiled.chars().count();
    if length > MAX_INSTRUCTIONS_LEN {
        return Err(AppError::invalid_field(
            "ai_instructions",
            format!(
                "the instructions compiled from these settings would be {length} characters, more than the \
                 {MAX_INSTRUCTIONS_LEN} allowed: shorten {}",
                longest_inputs(&profile).join(", ")
            ),
        ));
    }
    fields.ai_instructions = Some(compiled);
    Ok(())
}

/// The free-text settings the instructions are compiled from, longest first (those a
/// business can shorten), for the message when they are too long together.
fn longest_inputs(profile: &BusinessProfile<'_>) -> Vec<&'static str> {
    let length = |text: Option<&str>| text.map_or(0, |t| t.chars().count());
    let faqs = profile.faqs.iter().map(|faq| faq.question.chars().count() + faq.answer.chars().count()).sum();
    let mut inputs = [
        ("faqs", faqs),
        ("services_offered", length(profile.services_offered)),
        ("pricing_info", length(profile.pricing_info)),
        ("special_instructions", length(profile.special_instructions)),
        ("holiday_hours", length(profile.holiday_hours)),
        ("business_type", length(profile.business_type)),
        ("business_name", length(Some(profile.business_name))),
    ];
    inputs.sort_by_key(|(_, chars)| std::cmp::Reverse(*chars));
    inputs.iter().filter(|(_, chars)| *chars > 0).map(|(name, _)| *name).collect()
}

/// Longest `missed_call_text`: two SMS segments.
pub const MAX_MISSED_CALL_TEXT: usize = 320;

/// Writes a sent nullable field through its check; leaves the field alone when not sent.
fn set<T>(
    target: &mut Option<T>,
    sent: Option<Option<T>>,
    check: impl FnOnce(Option<T>) -> Result<Option<T>>,
) -> Result<()> {
    if let Some(value) = sent {
        *target = check(value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Customer {
        let mut fields = Customer::new_business(Utc::now());
        fields.business_name = "Bella Hair".into();
        fields.email = "owner@bella.example".into();
        fields.phone = Some("+14155550100".into());
        fields
    }

    fn patch(value: serde_json::Value) -> CustomerPatch {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let mut f = fields();
        patch(json!({"contact_name": "Ann"})).apply(&mut f, false).unwrap();
        assert_eq!(f.phone.as_deref(), Some("+14155550100"));
        assert_eq!(f.contact_name.as_deref(), Some("Ann"));
        patch(json!({"phone": null, "contact_name": ""})).apply(&mut f, false).unwrap();
        assert_eq!(f.phone, None);
        assert_eq!(f.contact_name, None);
    }

    #[test]
    fn changing_an_input_recompiles_the_instructions() {
        let mut f = fields();
        patch(json!({"services_offered": "Cuts and colour"})).apply(&mut f, false).unwrap();
        assert!(f.ai_instructions.as_deref().unwrap().contains("Cuts and colour"));
    }

    #[test]
    fn explicit_instructions_win_over_compilation() {
        let mut f = fields();
        patch(json!({"services_offered": "Cuts", "ai_instructions": "Be brief."})).apply(&mut f, false).unwrap();
        assert_eq!(f.ai_instructions.as_deref(), Some("Be brief."));
    }

    #[test]
    fn changing_only_the_forward_number_recompiles_the_instructions() {
        let mut f = fields();
        f.ai_instructions = Some("compiled before the number was set".into());
        patch(json!({"forward_to_number": "+1 415 555 0199"})).apply(&mut f, false).unwrap();
        assert!(f.ai_instructions.as_deref().unwrap().contains("you can transfer them to: +14155550199\n"));

        patch(json!({"forward_to_number": ""})).apply(&mut f, false).unwrap();
        assert!(!f.ai_instructions.as_deref().unwrap().contains("transfer them to:"));

        patch(json!({"forward_to_number": "+14155550199", "ai_instructions": "Be brief."}))
            .apply(&mut f, false)
            .unwrap();
        assert_eq!(f.ai_instructions.as_deref(), Some("Be brief."));
    }

    #[test]
    fn unrelated_changes_keep_the_instructions() {
        let mut f = fields();
        f.ai_instructions = Some("hand written".into());
        patch(json!({"notification_email": "alerts@bella.example"})).apply(&mut f, false).unwrap();
        assert_eq!(f.ai_instructions.as_deref(), Some("hand written"));
    }

    fn faqs(n: usize, answer: &str) -> serde_json::Value {
        json!((1..=n).map(|i| json!({"question": format!("Question {i}?"), "answer": answer})).collect::<Vec<_>>())
    }

    fn details(err: AppError) -> serde_json::Value {
        match err {
            AppError::Unprocessable { details, .. } => details.unwrap(),
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[test]
    fn at_most_fifty_faqs_are_kept() {
        let mut f = fields();
        patch(json!({"faqs": faqs(MAX_FAQS, "Yes.")})).apply(&mut f, false).unwrap();
        assert_eq!(f.faqs.as_ref().and_then(StoredJson::parse).map(|faqs: Vec<Faq>| faqs.len()), Some(MAX_FAQS));

        let err = patch(json!({"faqs": faqs(MAX_FAQS + 1, "Yes.")})).apply(&mut f, false).unwrap_err();
        assert_eq!(details(err), json!({"faqs": "at most 50 questions (51 were sent)"}));
    }

    #[test]
    fn compiled_instructions_longer_than_the_limit_are_refused_naming_what_to_shorten() {
        let mut f = fields();
        let long = "x".repeat(9_000);
        let answer = "y".repeat(300);
        let body = json!({"services_offered": long, "pricing_info": long[..8_000], "faqs": faqs(10, &answer)});
        let err = patch(body).apply(&mut f, false).unwrap_err();

        let details = details(err);
        let reason = details["ai_instructions"].as_str().unwrap();
        assert!(reason.contains("more than the 20000 allowed"), "{reason}");
        assert!(reason.ends_with("shorten services_offered, pricing_info, faqs, business_name"), "{reason}");
        // Hand-written instructions skip compilation, and have their own limit.
        let mut f = fields();
        let body = json!({"services_offered": long, "pricing_info": long, "ai_instructions": "Be brief."});
        patch(body).apply(&mut f, false).unwrap();
        assert_eq!(f.ai_instructions.as_deref(), Some("Be brief."));
    }

    #[test]
    fn invalid_values_name_their_field() {
        for (body, field) in [
            (json!({"email": "nope"}), "email"),
            (json!({"phone": "555-0100"}), "phone"),
            (json!({"forward_to_number": "12"}), "forward_to_number"),
            (json!({"timezone": "Moon/Base"}), "timezone"),
            (json!({"subscription_status": "gold"}), "subscription_status"),
            (json!({"subscription_tier": "platinum"}), "subscription_tier"),
            (json!({"business_name": "  "}), "business_name"),
            (json!({"notification_email": "x@"}), "notification_email"),
            (json!({"languages": []}), "languages"),
            (json!({"languages": ["en-US", "es-MX", "klingon"]}), "languages[2]"),
            (json!({"languages": ["es-MX", "es-MX"]}), "languages[1]"),
            (json!({"missed_call_text": "x".repeat(321)}), "missed_call_text"),
        ] {
            let err = patch(body.clone()).apply(&mut fields(), false).unwrap_err();
            assert!(err.to_string().starts_with(field), "{body}: {err}");
        }
    }
}
