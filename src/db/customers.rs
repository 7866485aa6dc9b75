//! Queries on `customers` (the subscribed businesses) shared by several handlers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, Transaction};

use super::stored_json::StoredJson;

use crate::profile::{AppointmentHandling, BusinessHours, Faq};

/// A business, as the API shows it (never the password hash or Stripe ids).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
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
    pub pricing_info: Option<String>,
    pub special_instructions: Option<String>,
    pub ai_instructions: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub notification_instructions: Option<String>,
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

/// Columns of [`Customer`], for `SELECT` and `RETURNING` (a macro so queries stay
/// `concat!`ed static strings).
macro_rules! customer_columns {
    () => {
        "id, business_name, contact_name, email, phone, business_type, business_hours, holiday_hours, \
         timezone, deskringer_number, forward_to_number, greeting_message, services_offered, faqs, \
         appointment_handling, pricing_info, special_instructions, ai_instructions, notification_email, \
         notification_phone, notification_instructions, subscription_status, subscription_tier, created_at, \
         trial_ends_at, cancelled_at, past_due_since"
    };
}
pub(crate) use customer_columns;

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

/// The editable state of a business: what create and update write. Handlers fill it from
/// the current row (or defaults), apply the request, and save it whole.
#[derive(Debug, Clone)]
pub struct CustomerFields {
    pub business_name: String,
    pub contact_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub business_type: Option<String>,
    pub business_hours: Option<BusinessHours>,
    pub holiday_hours: Option<String>,
    pub timezone: String,
    pub deskringer_number: Option<String>,
    pub forward_to_number: Option<String>,
    pub greeting_message: Option<String>,
    pub services_offered: Option<String>,
    pub faqs: Option<Vec<Faq>>,
    pub appointment_handling: AppointmentHandling,
    pub pricing_info: Option<String>,
    pub special_instructions: Option<String>,
    pub ai_instructions: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub notification_instructions: Option<String>,
    pub subscription_status: String,
    pub subscription_tier: String,
    pub trial_ends_at: Option<DateTime<Utc>>,
}

impl CustomerFields {
    /// A new business with the defaults: trial, basic tier, New York time.
    pub fn new(business_name: String, email: String) -> Self {
        Self {
            business_name,
            contact_name: None,
            email,
            phone: None,
            business_type: None,
            business_hours: None,
            holiday_hours: None,
            timezone: DEFAULT_TIMEZONE.into(),
            deskringer_number: None,
            forward_to_number: None,
            greeting_message: None,
            services_offered: None,
            faqs: None,
            appointment_handling: AppointmentHandling::default(),
            pricing_info: None,
            special_instructions: None,
            ai_instructions: None,
            notification_email: None,
            notification_phone: None,
            notification_instructions: None,
            subscription_status: "trial".into(),
            subscription_tier: "basic".into(),
            trial_ends_at: None,
        }
    }

    /// Whether `setting` has a value.
    pub fn has(&self, setting: Setting) -> bool {
        match setting {
            Setting::BusinessHours => self.business_hours.is_some(),
            Setting::Faqs => self.faqs.is_some(),
        }
    }
}

impl From<Customer> for CustomerFields {
    fn from(c: Customer) -> Self {
        Self {
            business_name: c.business_name,
            contact_name: c.contact_name,
            email: c.email,
            phone: c.phone,
            business_type: c.business_type,
            business_hours: c.business_hours.and_then(|hours| hours.parse()),
            holiday_hours: c.holiday_hours,
            timezone: c.timezone,
            deskringer_number: c.deskringer_number,
            forward_to_number: c.forward_to_number,
            greeting_message: c.greeting_message,
            services_offered: c.services_offered,
            faqs: c.faqs.and_then(|faqs| faqs.parse()),
            appointment_handling: AppointmentHandling::from_db(&c.appointment_handling),
            pricing_info: c.pricing_info,
            special_instructions: c.special_instructions,
            ai_instructions: c.ai_instructions,
            notification_email: c.notification_email,
            notification_phone: c.notification_phone,
            notification_instructions: c.notification_instructions,
            subscription_status: c.subscription_status,
            subscription_tier: c.subscription_tier,
            trial_ends_at: c.trial_ends_at,
        }
    }
}

/// The 23 editable columns in the order [`bind_fields`] binds them ($1..$23).
macro_rules! field_columns {
    () => {
        "business_name, contact_name, email, phone, business_type, business_hours, holiday_hours, timezone, \
         deskringer_number, forward_to_number, greeting_message, services_offered, faqs, appointment_handling, \
         pricing_info, special_instructions, ai_instructions, notification_email, notification_phone, \
         notification_instructions, subscription_status, subscription_tier, trial_ends_at"
    };
}

type PgQueryAs<'q> = sqlx::query::QueryAs<'q, Postgres, Customer, sqlx::postgres::PgArguments>;

fn bind_fields(query: PgQueryAs<'_>, f: CustomerFields) -> PgQueryAs<'_> {
    query
        .bind(f.business_name)
        .bind(f.contact_name)
        .bind(f.email.trim().to_lowercase())
        .bind(f.phone)
        .bind(f.business_type)
        .bind(f.business_hours.as_ref().map(StoredJson::new))
        .bind(f.holiday_hours)
        .bind(f.timezone)
        .bind(f.deskringer_number)
        .bind(f.forward_to_number)
        .bind(f.greeting_message)
        .bind(f.services_offered)
        .bind(f.faqs.as_ref().map(StoredJson::new))
        .bind(f.appointment_handling.as_str())
        .bind(f.pricing_info)
        .bind(f.special_instructions)
        .bind(f.ai_instructions)
        .bind(f.notification_email)
        .bind(f.notification_phone)
        .bind(f.notification_instructions)
        .bind(f.subscription_status)
        .bind(f.subscription_tier)
        .bind(f.trial_ends_at)
}

/// Inserts a business with its (already hashed) portal password. Unique violations come
/// back as errors on [`EMAIL_UNIQUE_CONSTRAINT`] or [`NUMBER_UNIQUE_CONSTRAINT`].
pub async fn insert(db: impl PgExecutor<'_>, fields: CustomerFields, password_hash: &str) -> sqlx::Result<Customer> {
    let sql = concat!(
        "INSERT INTO customers (",
        field_columns!(),
        ", password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24) RETURNING ",
        customer_columns!()
    );
    bind_fields(sqlx::query_as(sql), fields).bind(password_hash).fetch_one(db).await
}

/// Overwrites a business's editable fields.
pub async fn update(tx: &mut Transaction<'_, Postgres>, id: i64, fields: CustomerFields) -> sqlx::Result<Customer> {
    let sql = concat!(
        "UPDATE customers SET (",
        field_columns!(),
        ", updated_at, subscription_status_at) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22, $23, now(), \
         CASE WHEN subscription_status IS DISTINCT FROM $21 THEN now() ELSE subscription_status_at END) \
         WHERE id = $24 RETURNING ",
        customer_columns!()
    );
    bind_fields(sqlx::query_as(sql), fields).bind(id).fetch_one(&mut **tx).await
}

/// One business by id.
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(concat!("SELECT ", customer_columns!(), " FROM customers WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The business answering calls to `number` (its DeskRinger number).
pub async fn find_by_number(db: impl PgExecutor<'_>, number: &str) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(concat!("SELECT ", customer_columns!(), " FROM customers WHERE deskringer_number = $1"))
        .bind(number.trim())
        .fetch_optional(db)
        .await
}

/// One business by id, locked until the transaction ends, for read-modify-write updates.
pub async fn find_for_update(tx: &mut Transaction<'_, Postgres>, id: i64) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(concat!("SELECT ", customer_columns!(), " FROM customers WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Replaces a business's portal password hash; `None` when the business does not exist.
pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    id: i64,
    password_hash: &str,
) -> sqlx::Result<Option<Customer>> {
    sqlx::query_as(concat!(
        "UPDATE customers SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING ",
        customer_columns!()
    ))
    .bind(id)
    .bind(password_hash)
    .fetch_optional(db)
    .await
}
