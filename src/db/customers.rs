//! Queries on `customers` (the subscribed businesses) shared by several handlers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};

use super::stored_json::StoredJson;

use crate::profile::{AppointmentHandling, BusinessHours, Faq, VoiceMode};

/// A business, as the API shows it (never the password hash or Stripe ids).
#[derive(Debug, Clone, Default, Serialize, FromRow, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    pub business_name: String,
    pub contact_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub business_type: Option<String>,
    #[schema(value_type = Option<BusinessHours>)]
    pub business_hours: Option<StoredJson<BusinessHours>>,
    /// Holiday hours as the business wrote them ("Closed on Christmas Day").
    pub holiday_hours: Option<String>,
    pub timezone: String,
    pub deskringer_number: Option<String>,
    pub forward_to_number: Option<String>,
    pub greeting_message: Option<String>,
    pub services_offered: Option<String>,
    #[schema(value_type = Option<Vec<Faq>>)]
    pub faqs: Option<StoredJson<Vec<Faq>>>,
    pub appointment_handling: String,
    /// How callers book: services and the diary's rules (`null` until set: the defaults).
    #[schema(value_type = Option<crate::booking::BookingSettings>)]
    pub booking: Option<StoredJson<crate::booking::BookingSettings>>,
    pub pricing_info: Option<String>,
    pub special_instructions: Option<String>,
    pub ai_instructions: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub notification_instructions: Option<String>,
    /// `standard` (Gather turns) or `realtime` (streamed, interruptible conversation).
    pub voice_mode: String,
    /// The BCP-47 codes of the languages the receptionist speaks, the main one first.
    #[schema(example = json!(["en-US", "es-MX"]))]
    pub languages: Vec<String>,
    /// Whether calls whose caller ID failed verification (SHAKEN/STIR) are rejected.
    pub reject_unverified_callers: bool,
    /// Texted to a caller whose call ended before they said anything; `""` is off.
    pub missed_call_text: String,
    pub subscription_status: String,
    pub subscription_tier: String,
    pub created_at: DateTime<Utc>,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Since when a payment is overdue (not shown by the API).
    #[serde(skip)]
    #[schema(ignore)]
    pub past_due_since: Option<DateTime<Utc>>,
}

impl Customer {
    /// Whether calls to this business are answered at `now`: paying, ending at the period's
    /// end, within `past_due_grace` of a failed payment, or on a trial that has not ended.
    pub fn is_in_service(&self, now: DateTime<Utc>, past_due_grace: chrono::Duration) -> bool {
        match self.subscription_status.as_str() {
            "active" | "trialing" | "cancelling" => true,
            "past_due" => self.past_due_since.is_none_or(|since| since + past_due_grace > now),
            "trial" => self.trial_ends_at.is_none_or(|ends| ends > now),
            _ => false,
        }
    }

    /// Why calls to this business are not answered at `now`, in words for its owner or an
    /// admin; `None` while it is in service (see [`Customer::is_in_service`]).
    pub fn out_of_service_reason(&self, now: DateTime<Utc>, past_due_grace: chrono::Duration) -> Option<&'static str> {
        if self.is_in_service(now, past_due_grace) {
            return None;
        }
        Some(match self.subscription_status.as_str() {
            "trial" | "trial_expired" => "its free trial has ended",
            "cancelled" | "canceled" | "incomplete_expired" => "its subscription is cancelled",
            "past_due" | "unpaid" => "its subscription payment is overdue",
            "incomplete" => "its subscription's first payment has not gone through",
            "paused" => "its subscription is paused",
            _ => "it has no active subscription",
        })
    }

    /// The settings whose stored JSON no longer reads as its type (only data from before a
    /// rule tightened can be so). Reading them works; an edit must replace them, so that
    /// saving never drops them silently.
    pub fn unreadable_settings(&self) -> Vec<Setting> {
        let mut unreadable = Vec::new();
        if self.business_hours.as_ref().is_some_and(|hours| hours.parse().is_none()) {
            unreadable.push(Setting::BusinessHours);
        }
        if self.faqs.as_ref().is_some_and(|faqs| faqs.parse().is_none()) {
            unreadable.push(Setting::Faqs);
        }
        unreadable
    }
}

/// The settings stored as JSON documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    BusinessHours,
    Faqs,
}

impl Setting {
    /// The field's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Setting::BusinessHours => "business_hours",
            Setting::Faqs => "faqs",
        }
    }
}

/// Unique index on `lower(email)`.
pub const EMAIL_UNIQUE_CONSTRAINT: &str = "customers_email_key";
/// Unique index on `deskringer_number`.
pub const NUMBER_UNIQUE_CONSTRAINT: &str = "customers_deskringer_number_key";

/// Every `subscription_status` the database accepts: DeskRinger's own and Stripe's.
pub const SUBSCRIPTION_STATUSES: &[&str] = &[
    "trial",
    "trial_expired",
    "active",
    "past_due",
    "cancelling",
    "cancelled",
    "unpaid",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "canceled",
];

/// Every `subscription_tier`.
pub const SUBSCRIPTION_TIERS: &[&str] = &["basic", "premium"];

/// Default time zone of a new business.
pub const DEFAULT_TIMEZONE: &str = "America/New_York";

impl Customer {
    /// A business not yet saved, with the defaults: a trial until `trial_ends_at`, the basic
    /// tier, New York time, details collected for appointments.
    pub fn new_business(trial_ends_at: DateTime<Utc>) -> Self {
        Customer {
            timezone: DEFAULT_TIMEZONE.into(),
            appointment_handling: AppointmentHandling::default().as_str().into(),
            voice_mode: VoiceMode::default().as_str().into(),
            languages: vec![crate::receptionist::languages::ENGLISH.code.into()],
            subscription_status: "trial".into(),
            subscription_tier: "basic".into(),
            created_at: Utc::now(),
            trial_ends_at: Some(trial_ends_at),
            ..Customer::default()
        }
    }
}

// Reads use `SELECT *`: `FromRow` takes the columns `Customer` has and leaves the rest
// (password hash, Stripe ids), so a new column needs no edit here. Writes name every column
// they set, once each, in `insert` and `update`.

/// Saves a new business with its (already hashed) portal password: the row, then its
/// fields through [`update`], so the editable columns are written in one statement only.
/// Unique violations come back as errors on [`EMAIL_UNIQUE_CONSTRAINT`] or
/// [`NUMBER_UNIQUE_CONSTRAINT`].
pub async fn insert(tx: &mut Transaction<'_, Postgres>, c: &Customer, password_hash: &str) -> sqlx::Result<Customer> {
    let id = sqlx::query_scalar!(
        "INSERT INTO customers (business_name, email, password_hash) VALUES ($1, lower($2), $3) RETURNING id",
        c.business_name,
        c.email.trim(),
        password_hash
    )
    .fetch_one(&mut **tx)
    .await?;
    update(tx, &Customer { id, ..c.clone() }).await
}

/// Saves a business's editable fields.
pub async fn update(tx: &mut Transaction<'_, Postgres>, c: &Customer) -> sqlx::Result<Customer> {
    sqlx::query_as(
        "UPDATE customers SET business_name = $2, contact_name = $3, email = lower($4), phone = $5, \
                business_type = $6, business_hours = $7, holiday_hours = $8, timezone = $9, \
                deskringer_number = $10, forward_to_number = $11, greeting_message = $12, services_offered = $13, \
                faqs = $14, appointment_handling = $15, pricing_info = $16, special_instructions = $17, \
                ai_instructions = $18, notification_email = $19, notification_phone = $20, \
                notification_instructions = $21, subscription_status = $22, subscription_tier = $23, \
                trial_ends_at = $24, voice_mode = $25, booking = $26, missed_call_text = $27, updated_at = now(), \
                languages = $28, reject_unverified_callers = $29, \
                subscription_status_at = CASE WHEN subscription_status IS DISTINCT FROM $22 THEN now() \
                                              ELSE subscription_status_at END \
         WHERE id = $1 RETURNING *",
    )
    .bind(c.id)
    .bind(&c.business_name)
    .bind(&c.contact_name)
    .bind(c.email.trim())
    .bind(&c.phone)
    .bind(&c.business_type)
    .bind(&c.business_hours)
    .bind(&c.holiday_hours)
    .bind(&c.timezone)
    .bind(&c.deskringer_number)
    .bind(&c.forward_to_number)
    .bind(&c.greeting_message)
    .bind(&c.services_offered)
    .bind(&c.faqs)
    .bind(&c.appointment_handling)
    .bind(&c.pricing_info)
    .bind(&c.special_instructions)
    .bind(&c.ai_instructions)
    .bind(&c.notification_email)
    .bind(&c.notification_phone)
    .bind(&c.notification_instructions)
    .bind(&c.subscription_status)
    .bind(&c.subscription_tier)
    .bind(c.trial_ends_at)
    .bind(&c.voice_mode)
    .bind(&c.booking)
    .bind(&c.missed_call_text)
    .bind(&c.languages)
    .bind(c.reject_unverified_callers)
    .fetch_one(&mut **tx)
    .await
}

/// One business by id.
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as("SELECT * FROM customers WHERE id = $1").bind(id).fetch_optional(db).await
}

/// The business answering calls to `number` (its DeskRinger number).
pub async fn find_by_number(db: impl PgExecutor<'_>, number: &str) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as("SELECT * FROM customers WHERE deskringer_number = $1").bind(number.trim()).fetch_optional(db).await
}

/// One business by id, locked until the transaction ends, for read-modify-write updates.
pub async fn find_for_update(tx: &mut Transaction<'_, Postgres>, id: i64) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as("SELECT * FROM customers WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut **tx).await
}

/// Replaces a business's portal password hash; `None` when the business does not exist.
pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    id: i64,
    password_hash: &str,
) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as("UPDATE customers SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING *")
        .bind(id)
        .bind(password_hash)
        .fetch_optional(db)
        .await
}
