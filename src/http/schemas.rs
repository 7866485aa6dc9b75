//! Shapes of the JSON the API answers, for the OpenAPI document. Handlers build these
//! bodies with `serde_json::json!`; the types here describe them (and the tests check the
//! real answers against the same field lists).

#![allow(dead_code, reason = "documentation types: read by utoipa, never constructed")]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoResponses, ToSchema};

use crate::db::admins::Admin;
use crate::db::calls::CallLog;
use crate::db::customers::Customer;

/// Every error: a human-readable message, and for invalid fields the reason per field.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// Field name to reason, for validation errors.
    pub details: Option<HashMap<String, String>>,
}

/// A message.
#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    pub message: String,
}

/// A changed password, with a fresh token: tokens issued before the change no longer work.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    pub message: String,
    pub access_token: String,
}

/// A call. `transcript` is absent in the admin view, which adds `customer_business_name`.
#[derive(Serialize, ToSchema)]
pub struct CallObject {
    pub id: i64,
    pub customer_id: i64,
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
    pub twilio_call_sid: Option<String>,
    pub duration_seconds: Option<i32>,
    /// `in_progress`, `completed`, `busy`, `failed`, `no-answer`, `canceled`.
    pub status: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `appointment`, `question`, `message`, `complaint`, `other`.
    pub intent: Option<String>,
    pub callback_requested: bool,
    pub handled: bool,
    pub handled_at: Option<DateTime<Utc>>,
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    /// US dollars.
    pub twilio_cost: f64,
    /// US dollars.
    pub openai_cost: f64,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    /// Absent in the admin view.
    #[schema(required = false)]
    pub transcript: Option<String>,
    /// Only in the admin view.
    #[schema(required = false)]
    pub customer_business_name: Option<String>,
}

/// A call with its lines (`logs` absent in the admin view).
#[derive(Serialize, ToSchema)]
pub struct CallWithLogs {
    #[schema(inline)]
    #[serde(flatten)]
    pub call: CallObject,
    #[schema(required = false)]
    pub logs: Option<Vec<CallLog>>,
}

/// A line of a call as the portal shows it.
#[derive(Serialize, ToSchema)]
pub struct TranscriptLine {
    /// `caller` or `ai`.
    pub speaker: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// A call in the portal: `transcript` is the list of lines.
#[derive(Serialize, ToSchema)]
pub struct PortalCall {
    pub id: i64,
    pub customer_id: i64,
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
    pub twilio_call_sid: Option<String>,
    pub duration_seconds: Option<i32>,
    pub status: String,
    pub direction: String,
    pub intent: Option<String>,
    pub callback_requested: bool,
    pub handled: bool,
    pub handled_at: Option<DateTime<Utc>>,
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub twilio_cost: f64,
    pub openai_cost: f64,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub transcript: Vec<TranscriptLine>,
}

/// `{calls, total, page, pages, per_page}`.
#[derive(Serialize, ToSchema)]
pub struct CallPage {
    pub calls: Vec<CallObject>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub per_page: i64,
}

/// `{customers, total, page, pages, per_page}`.
#[derive(Serialize, ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub per_page: i64,
}

/// A customer with its ten newest calls.
#[derive(Serialize, ToSchema)]
pub struct CustomerWithCalls {
    #[schema(inline)]
    #[serde(flatten)]
    pub customer: Customer,
    pub recent_calls: Vec<CallObject>,
}

/// The answer of creating a customer.
#[derive(Serialize, ToSchema)]
pub struct CreatedCustomer {
    pub message: String,
    pub customer: Customer,
    /// Shown once: the portal password to hand to the business.
    pub temporary_password: String,
}

/// `{message, customer}`.
#[derive(Serialize, ToSchema)]
pub struct CustomerMessage {
    pub message: String,
    pub customer: Customer,
}

/// The answer of setting a portal password.
#[derive(Serialize, ToSchema)]
pub struct PortalAccess {
    pub message: String,
    pub customer: PortalAccessCustomer,
}

#[derive(Serialize, ToSchema)]
pub struct PortalAccessCustomer {
    pub id: i64,
    pub email: String,
    pub business_name: String,
    pub has_portal_access: bool,
}

/// `{access_token, admin}`.
#[derive(Serialize, ToSchema)]
pub struct AdminLogin {
    pub access_token: String,
    pub admin: Admin,
}

/// `{message, admin}`.
#[derive(Serialize, ToSchema)]
pub struct AdminMessage {
    pub message: String,
    pub admin: Admin,
}

/// `{access_token, customer}`.
#[derive(Serialize, ToSchema)]
pub struct CustomerLogin {
    pub access_token: String,
    pub customer: Customer,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerCounts {
    pub total: i64,
    pub active: i64,
    pub trial: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CallCounts {
    pub total: i64,
    pub today: i64,
    pub avg_duration_seconds: f64,
}

/// The dashboard's headline figures.
#[derive(Serialize, ToSchema)]
pub struct AdminStats {
    pub customers: CustomerCounts,
    pub calls: CallCounts,
}

#[derive(Serialize, ToSchema)]
pub struct TrialCustomer {
    pub id: i64,
    pub business_name: String,
    pub contact_name: Option<String>,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub trial_ends_at: Option<DateTime<Utc>>,
    pub days_remaining: i64,
    pub is_expired: bool,
    pub last_login: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct TrialCustomers {
    pub trial_customers: Vec<TrialCustomer>,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TestEmailResult {
    pub success: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Costs {
    pub twilio: f64,
    pub openai: f64,
    pub total: f64,
}

/// Call figures over a period.
#[derive(Serialize, ToSchema)]
pub struct CallStats {
    pub period_days: i64,
    pub total_calls: i64,
    pub completed_calls: i64,
    pub failed_calls: i64,
    pub avg_duration_seconds: f64,
    pub callback_requests: i64,
    pub costs: Costs,
}

#[derive(Serialize, ToSchema)]
pub struct CallList {
    pub calls: Vec<CallObject>,
}

#[derive(Serialize, ToSchema)]
pub struct Transcript {
    pub call_id: i64,
    pub transcript: String,
    pub logs: Vec<CallLog>,
}

/// The portal's figures (archived calls excluded).
#[derive(Serialize, ToSchema)]
pub struct PortalStats {
    pub total_calls: i64,
    pub handled_calls: i64,
    pub unhandled_calls: i64,
    pub calls_today: i64,
    pub avg_duration_seconds: f64,
    pub subscription_status: String,
    pub subscription_tier: String,
}

#[derive(Serialize, ToSchema)]
pub struct PortalCallList {
    pub calls: Vec<CallObject>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PortalCallMessage {
    pub message: String,
    pub call: CallObject,
}

#[derive(Serialize, ToSchema)]
pub struct BulkArchived {
    pub message: String,
    pub archived_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentLink {
    pub payment_link: String,
    pub stripe_customer_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckoutSession {
    pub checkout_url: String,
    pub session_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionStatus {
    pub status: String,
    pub has_stripe_subscription: bool,
    #[schema(required = false)]
    pub current_period_end: Option<DateTime<Utc>>,
    #[schema(required = false)]
    pub cancel_at_period_end: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CancelledSubscription {
    pub message: String,
    pub cancel_at: Option<DateTime<Utc>>,
}

/// Service endpoints.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: String,
    pub database: String,
}

#[derive(Serialize, ToSchema)]
pub struct RootInfo {
    pub message: String,
    pub version: String,
    pub status: String,
}

/// `{received, duplicate?}`.
#[derive(Serialize, ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
    #[schema(required = false)]
    pub duplicate: Option<bool>,
}

/// `{status}` of the Twilio status callback.
#[derive(Serialize, ToSchema)]
pub struct StatusRecorded {
    /// `recorded`, `already recorded` or `ignored`.
    pub status: String,
}

/// A Stripe event (only these fields are read; the rest is ignored).
#[derive(Serialize, ToSchema)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// 401 and 403: the access rules of a route behind a token.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// The token is missing, invalid or expired.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// The token is of the wrong kind (admin vs customer).
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// 400 and 422: a malformed request or an invalid field.
#[derive(IntoResponses)]
pub enum InputErrors {
    /// Malformed JSON, wrong content type, bad query string or path parameter.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// A field is missing, of the wrong type, or invalid; `details` names it.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
}

/// 404: no such resource (or it belongs to another business).
#[derive(IntoResponses)]
pub enum NotFound {
    /// Not found.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
}

/// Login credentials.
#[derive(Serialize, ToSchema)]
pub struct CredentialsInput {
    #[schema(example = "admin@deskringer.com")]
    pub email: String,
    pub password: String,
}

/// A new admin.
#[derive(Serialize, ToSchema)]
pub struct CreateAdminInput {
    pub email: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    pub name: Option<String>,
}

/// A password change.
#[derive(Serialize, ToSchema)]
pub struct ChangePasswordInput {
    pub current_password: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub new_password: String,
}

/// Where to send the test email.
#[derive(Serialize, ToSchema)]
pub struct TestEmailInput {
    pub email: String,
}

/// A portal password.
#[derive(Serialize, ToSchema)]
pub struct SetPasswordInput {
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
}

/// Fields of a business. In an update, a field left out is kept and `null` clears it.
/// Phone numbers are E.164; `ai_instructions` is compiled from the other fields unless set.
#[derive(Serialize, ToSchema)]
pub struct CustomerInput {
    pub business_name: Option<String>,
    pub email: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub business_type: Option<String>,
    pub business_hours: Option<crate::profile::BusinessHours>,
    /// Free text, e.g. "Closed on Christmas Day"; `""` clears it.
    pub holiday_hours: Option<String>,
    pub timezone: Option<String>,
    pub deskringer_number: Option<String>,
    pub forward_to_number: Option<String>,
    pub greeting_message: Option<String>,
    pub services_offered: Option<String>,
    /// Rows with both parts blank are dropped.
    pub faqs: Option<Vec<crate::profile::Faq>>,
    pub appointment_handling: Option<crate::profile::AppointmentHandling>,
    pub pricing_info: Option<String>,
    pub special_instructions: Option<String>,
    pub ai_instructions: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub notification_instructions: Option<String>,
    pub subscription_status: Option<String>,
    pub subscription_tier: Option<String>,
    pub trial_ends_at: Option<DateTime<Utc>>,
}

/// A new business: `business_name` and `email` are required, any other field optional.
#[derive(Serialize, ToSchema)]
pub struct CreateCustomerInput {
    pub business_name: String,
    pub email: String,
    /// Email the login details (default true).
    pub send_welcome_email: Option<bool>,
    #[serde(flatten)]
    pub fields: CustomerInput,
}

/// The receptionist's settings.
#[derive(Serialize, ToSchema)]
pub struct SettingsInput {
    pub greeting_message: Option<String>,
    pub ai_instructions: Option<String>,
    pub business_type: Option<String>,
    pub business_hours: Option<crate::profile::BusinessHours>,
    /// Free text, e.g. "Closed on Christmas Day"; `""` clears it.
    pub holiday_hours: Option<String>,
    pub timezone: Option<String>,
    pub services_offered: Option<String>,
    /// Rows with both parts blank are dropped.
    pub faqs: Option<Vec<crate::profile::Faq>>,
    pub appointment_handling: Option<crate::profile::AppointmentHandling>,
    pub pricing_info: Option<String>,
    pub special_instructions: Option<String>,
    pub forward_to_number: Option<String>,
    pub notification_instructions: Option<String>,
}

/// What a business may change about itself; any other field is refused.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalSettingsInput {
    pub business_name: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub business_type: Option<String>,
    pub business_hours: Option<crate::profile::BusinessHours>,
    /// Free text, e.g. "Closed on Christmas Day"; `""` clears it.
    pub holiday_hours: Option<String>,
    pub timezone: Option<String>,
    pub forward_to_number: Option<String>,
    pub greeting_message: Option<String>,
    pub services_offered: Option<String>,
    /// Rows with both parts blank are dropped.
    pub faqs: Option<Vec<crate::profile::Faq>>,
    pub appointment_handling: Option<crate::profile::AppointmentHandling>,
    pub pricing_info: Option<String>,
    pub special_instructions: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub notification_instructions: Option<String>,
}

/// Calls to archive together.
#[derive(Serialize, ToSchema)]
pub struct BulkArchiveInput {
    #[schema(min_items = 1, max_items = 1000)]
    pub call_ids: Vec<i64>,
}

/// A Twilio webhook's form (Twilio sends more fields; all are signed).
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct TwilioWebhookForm {
    pub CallSid: String,
    pub From: Option<String>,
    pub To: Option<String>,
    pub SpeechResult: Option<String>,
    pub CallStatus: Option<String>,
    pub CallDuration: Option<String>,
    pub DialCallStatus: Option<String>,
}
