//! Telling people: the owner's email and SMS after a call or about a text conversation, the
//! welcome email of a new business and the admin's test email. All user-provided text in
//! HTML is escaped.
//!
//! Each notification is recorded in `call_notifications` once sent, so a retried or
//! re-enqueued job never sends it twice. (A crash in the instant between the provider
//! accepting a message and the record being written can still repeat it: neither SendGrid
//! nor Twilio takes an idempotency key.)

use chrono::{DateTime, Utc};
use graphile_worker::{TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::{JobContext, context, run_logged};
use crate::clients::sendgrid::{Delivery, Email};
use crate::clients::twilio::SmsDelivery;
use crate::config::Config;
use crate::markup::escape;
use crate::receptionist::hours::time_zone;
use crate::receptionist::summary::truncate;

/// Email the business owner about call `call_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailOwner {
    /// The call's id.
    pub call_id: i64,
}

/// Text the business owner about call `call_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextOwner {
    /// The call's id.
    pub call_id: i64,
}

impl TaskHandler for EmailOwner {
    const IDENTIFIER: &'static str = "email_owner";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let result = async { email_owner(context(&ctx)?, self.call_id).await }.await;
        if let Err(error) = &result {
            tracing::warn!(
                call.id = self.call_id,
                attempt = ctx.job().attempts(),
                error = format!("{error:#}"),
                "email_owner failed; will retry"
            );
        }
        result
    }
}

impl TaskHandler for TextOwner {
    const IDENTIFIER: &'static str = "text_owner";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let result = async { text_owner(context(&ctx)?, self.call_id).await }.await;
        if let Err(error) = &result {
            tracing::warn!(
                call.id = self.call_id,
                attempt = ctx.job().attempts(),
                error = format!("{error:#}"),
                "text_owner failed; will retry"
            );
        }
        result
    }
}

/// Email the business owner about text conversation `call_id` (its `notice`-th notice: the
/// first when it starts, then at most one an hour).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailOwnerOfThread {
    /// The thread's `calls` row.
    pub call_id: i64,
    /// Which notice of the thread this is.
    pub notice: i32,
}

/// Text the business owner about text conversation `call_id` (see [`EmailOwnerOfThread`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextOwnerOfThread {
    /// The thread's `calls` row.
    pub call_id: i64,
    /// Which notice of the thread this is.
    pub notice: i32,
}

fn thread_span(call_id: i64) -> tracing::Span {
    tracing::info_span!("thread_notice", call.id = call_id)
}

impl TaskHandler for EmailOwnerOfThread {
    const IDENTIFIER: &'static str = "email_owner_of_thread";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        run_logged::<Self>(&ctx, thread_span(self.call_id), async {
            email_owner_of_thread(context(&ctx)?, self.call_id, self.notice).await
        })
        .await
    }
}

impl TaskHandler for TextOwnerOfThread {
    const IDENTIFIER: &'static str = "text_owner_of_thread";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        run_logged::<Self>(&ctx, thread_span(self.call_id), async {
            text_owner_of_thread(context(&ctx)?, self.call_id, self.notice).await
        })
        .await
    }
}

/// Queues the owner's email and text about text conversation `call_id` (its `notice`-th
/// notice) inside `tx`.
pub async fn queue_thread_notice(
    db: &sqlx::PgPool,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    call_id: i64,
    notice: i32,
) -> anyhow::Result<()> {
    let key = format!("thread-{call_id}-{notice}");
    super::enqueue(db, tx, EmailOwnerOfThread { call_id, notice }, format!("{key}-email")).await?;
    super::enqueue(db, tx, TextOwnerOfThread { call_id, notice }, format!("{key}-sms")).await
}

/// A text conversation with what its owner's notices need.
#[derive(Debug)]
pub struct ThreadReport {
    pub call_id: i64,
    pub business_name: String,
    pub timezone: String,
    pub email: String,
    pub deskringer_number: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub sender: Option<String>,
    /// When the sender's latest text arrived.
    pub last_at: Option<DateTime<Utc>>,
    /// The sender's latest text.
    pub last_text: Option<String>,
}

async fn load_thread(job: &JobContext, call_id: i64) -> anyhow::Result<Option<ThreadReport>> {
    Ok(sqlx::query_as!(
        ThreadReport,
        r#"SELECT c.id AS call_id, cu.business_name, cu.timezone, cu.email, cu.deskringer_number,
                  cu.notification_email, cu.notification_phone, c.caller_phone AS sender,
                  l.timestamp AS "last_at?", l.message AS "last_text?"
           FROM calls c JOIN customers cu ON cu.id = c.customer_id
           LEFT JOIN LATERAL (SELECT timestamp, message FROM call_logs
                              WHERE call_id = c.id AND speaker = 'caller' ORDER BY timestamp DESC, id DESC LIMIT 1) l
                  ON true
           WHERE c.id = $1 AND c.channel = 'sms'"#,
        call_id
    )
    .fetch_optional(&job.db)
    .await?)
}

async fn thread_notice_sent(job: &JobContext, call_id: i64, notice: i32, channel: &str) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sms_thread_notices WHERE call_id = $1 AND notice = $2 AND channel = $3) AS "sent!""#,
        call_id,
        notice,
        channel
    )
    .fetch_one(&job.db)
    .await?)
}

async fn record_thread_notice(
    job: &JobContext,
    call_id: i64,
    notice: i32,
    channel: &str,
    provider_id: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO sms_thread_notices (call_id, notice, channel, provider_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        call_id,
        notice,
        channel,
        provider_id
    )
    .execute(&job.db)
    .await?;
    Ok(())
}

/// Sends the owner's email about a text conversation, once per notice, to the notification
/// address or else the business's own.
pub async fn email_owner_of_thread(job: &JobContext, call_id: i64, notice: i32) -> anyhow::Result<()> {
    let Some(report) = load_thread(job, call_id).await? else { return Ok(()) };
    if thread_notice_sent(job, call_id, notice, "email").await? {
        return Ok(());
    }
    let to = report.notification_email.clone().unwrap_or_else(|| report.email.clone());
    let email = thread_email(&report, notice, &to, &job.config);
    let delivery = job.clients.sendgrid.send(&email).await?;
    record_thread_notice(job, call_id, notice, "email", None).await?;
    tracing::info!(notice, sent = (delivery == Delivery::Sent), "owner emailed about a text conversation");
    Ok(())
}

/// Sends the owner's text about a text conversation, once per notice, to
/// `notification_phone` (none when unset), from the business's number or else the
/// platform's.
pub async fn text_owner_of_thread(job: &JobContext, call_id: i64, notice: i32) -> anyhow::Result<()> {
    let Some(report) = load_thread(job, call_id).await? else { return Ok(()) };
    let Some(to) = report.notification_phone.clone() else { return Ok(()) };
    if thread_notice_sent(job, call_id, notice, "sms").await? {
        return Ok(());
    }
    let Some(from) = report.deskringer_number.clone().or_else(|| job.config.twilio.phone_number.clone()) else {
        tracing::warn!("no number to text the owner from; SMS skipped");
        return Ok(());
    };
    let delivery = job.clients.twilio.send_sms(&from, &to, &thread_sms(&report, notice)).await?;
    let provider_id = match &delivery {
        SmsDelivery::Sent(sid) => Some(sid.as_str()),
        SmsDelivery::Logged => None,
    };
    record_thread_notice(job, call_id, notice, "sms", provider_id).await?;
    tracing::info!(notice, sent = provider_id.is_some(), "owner texted about a text conversation");
    Ok(())
}

fn thread_headline(notice: i32) -> &'static str {
    if notice <= 1 { "New text conversation" } else { "More texts" }
}

/// The owner's email about a text conversation: who, when (local), their latest text, link.
pub fn thread_email(report: &ThreadReport, notice: i32, to: &str, config: &Config) -> Email {
    let headline = thread_headline(notice);
    let sender = report.sender.clone().unwrap_or_else(|| "an unknown number".into());
    let when = report
        .last_at
        .map(|at| at.with_timezone(&time_zone(&report.timezone)).format("%A %-d %B %Y at %H:%M %Z").to_string())
        .unwrap_or_default();
    let text_body = report.last_text.clone().unwrap_or_default();
    let link =
        config.portal_url.as_deref().map(|url| format!("{}/calls/{}", url.trim_end_matches('/'), report.call_id));
    let mut text = format!(
        "{headline} for {business}\n\nFrom: {sender}\nWhen: {when}\n\nTheir text:\n{text_body}\n\n\
         The receptionist is answering; the whole conversation is in your portal.\n",
        business = report.business_name
    );
    let mut html = format!(
        "<h2>{headline} for {business}</h2><table>\
         <tr><th align=\"left\">From</th><td>{sender}</td></tr>\
         <tr><th align=\"left\">When</th><td>{when}</td></tr></table>\
         <h3>Their text</h3><p>{text_body}</p>\
         <p>The receptionist is answering; the whole conversation is in your portal.</p>",
        headline = escape(headline),
        business = escape(&report.business_name),
        sender = escape(&sender),
        when = escape(&when),
        text_body = escape(&text_body),
    );
    if let Some(link) = link {
        text.push_str(&format!("\nSee the conversation: {link}\n"));
        html.push_str(&format!("<p><a href=\"{0}\">See the conversation</a></p>", escape(&link)));
    }
    Email { to: to.to_owned(), subject: format!("{headline} from {sender} - {}", report.business_name), text, html }
}

/// The owner's SMS about a text conversation; at most two segments.
pub fn thread_sms(report: &ThreadReport, notice: i32) -> String {
    let sender = report.sender.as_deref().unwrap_or("an unknown number");
    let latest = report.last_text.as_deref().unwrap_or_default();
    truncate(&format!("DeskRinger: {} from {sender}: \"{latest}\"", thread_headline(notice).to_lowercase()), 320)
}

/// Email a new business its portal login, once. The payload carries the temporary
/// password (the admin was shown it too); the job row is deleted once it has run.
#[derive(Clone, Serialize, Deserialize)]
pub struct WelcomeOwner {
    /// The new business.
    pub customer_id: i64,
    /// Its temporary portal password.
    pub temporary_password: String,
}

impl std::fmt::Debug for WelcomeOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WelcomeOwner").field("customer_id", &self.customer_id).finish_non_exhaustive()
    }
}

impl TaskHandler for WelcomeOwner {
    const IDENTIFIER: &'static str = "welcome_owner";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let result = async { welcome_owner(context(&ctx)?, self.customer_id, &self.temporary_password).await }.await;
        if let Err(error) = &result {
            tracing::warn!(
                customer.id = self.customer_id,
                attempt = ctx.job().attempts(),
                error = format!("{error:#}"),
                "welcome_owner failed; will retry"
            );
        }
        result
    }
}

/// Sends a new business its welcome email, once; not at all if its password has already
/// been changed (the temporary one would no longer work).
pub async fn welcome_owner(job: &JobContext, customer_id: i64, temporary_password: &str) -> anyhow::Result<()> {
    let row = sqlx::query!(
        "SELECT email, business_name, token_generation, welcome_email_sent_at FROM customers WHERE id = $1",
        customer_id
    )
    .fetch_optional(&job.db)
    .await?;
    let Some(row) = row else { return Ok(()) };
    if row.welcome_email_sent_at.is_some() {
        return Ok(());
    }
    if row.token_generation != 0 {
        tracing::info!(customer.id = customer_id, "password already changed; welcome email not sent");
        return Ok(());
    }
    let email = welcome_email(&row.email, &row.business_name, temporary_password, &job.config);
    let delivery = job.clients.sendgrid.send(&email).await?;
    sqlx::query!("UPDATE customers SET welcome_email_sent_at = now() WHERE id = $1", customer_id)
        .execute(&job.db)
        .await?;
    tracing::info!(customer.id = customer_id, sent = (delivery == Delivery::Sent), "welcome email handled");
    Ok(())
}

/// A finished call with what its notifications need.
#[derive(Debug, FromRow)]
pub struct CallReport {
    pub call_id: i64,
    pub business_name: String,
    pub timezone: String,
    pub deskringer_number: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
    pub duration_seconds: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub summary: Option<String>,
    pub intent: Option<String>,
    pub callback_requested: bool,
    pub transcript: Option<String>,
}

async fn load_report(job: &JobContext, call_id: i64) -> anyhow::Result<Option<CallReport>> {
    Ok(sqlx::query_as!(
        CallReport,
        "SELECT c.id AS call_id, cu.business_name, cu.timezone, cu.deskringer_number, cu.notification_email, \
                cu.notification_phone, c.caller_phone, c.caller_name, c.duration_seconds, c.created_at, c.summary, \
                c.intent, c.callback_requested, c.transcript \
         FROM calls c JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1",
        call_id
    )
    .fetch_optional(&job.db)
    .await?)
}

async fn already_sent(job: &JobContext, call_id: i64, channel: &str) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM call_notifications WHERE call_id = $1 AND channel = $2) AS "sent!""#,
        call_id,
        channel
    )
    .fetch_one(&job.db)
    .await?)
}

async fn record_sent(
    job: &JobContext,
    call_id: i64,
    channel: &str,
    recipient: &str,
    provider_id: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO call_notifications (call_id, channel, recipient, provider_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (call_id, channel) DO NOTHING",
        call_id,
        channel,
        recipient,
        provider_id
    )
    .execute(&job.db)
    .await?;
    Ok(())
}

/// Sends the owner's email for a call, once.
pub async fn email_owner(job: &JobContext, call_id: i64) -> anyhow::Result<()> {
    let Some(report) = load_report(job, call_id).await? else { return Ok(()) };
    let Some(to) = report.notification_email.clone() else { return Ok(()) };
    if already_sent(job, call_id, "email").await? {
        return Ok(());
    }
    let email = call_email(&report, &to, &job.config);
    let delivery = job.clients.sendgrid.send(&email).await?;
    record_sent(job, call_id, "email", &to, None).await?;
    tracing::info!(call.id = call_id, sent = (delivery == Delivery::Sent), "owner emailed about a call");
    Ok(())
}

/// Sends the owner's SMS for a call, once, from the business's own DeskRinger number.
pub async fn text_owner(job: &JobContext, call_id: i64) -> anyhow::Result<()> {
    let Some(report) = load_report(job, call_id).await? else { return Ok(()) };
    let Some(to) = report.notification_phone.clone() else { return Ok(()) };
    if already_sent(job, call_id, "sms").await? {
        return Ok(());
    }
    let Some(from) = report.deskringer_number.clone().or_else(|| job.config.twilio.phone_number.clone()) else {
        tracing::warn!(call.id = call_id, "no number to text the owner from; SMS skipped");
        return Ok(());
    };
    let delivery = job.clients.twilio.send_sms(&from, &to, &call_sms(&report)).await?;
    let provider_id = match &delivery {
        SmsDelivery::Sent(sid) => Some(sid.as_str()),
        SmsDelivery::Logged => None,
    };
    record_sent(job, call_id, "sms", &to, provider_id).await?;
    tracing::info!(call.id = call_id, sent = provider_id.is_some(), "owner texted about a call");
    Ok(())
}

fn caller_label(report: &CallReport) -> String {
    match (&report.caller_name, &report.caller_phone) {
        (Some(name), Some(phone)) => format!("{name} ({phone})"),
        (None, Some(phone)) => phone.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => "an unknown caller".into(),
    }
}

fn duration_label(seconds: Option<i32>) -> String {
    match seconds {
        Some(s) if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        Some(s) => format!("{s}s"),
        None => "unknown length".into(),
    }
}

/// The owner's email about a call: caller, local time, duration, summary, transcript, link.
pub fn call_email(report: &CallReport, to: &str, config: &Config) -> Email {
    let caller = caller_label(report);
    let when =
        report.created_at.with_timezone(&time_zone(&report.timezone)).format("%A %-d %B %Y at %H:%M %Z").to_string();
    let duration = duration_label(report.duration_seconds);
    let summary = report.summary.clone().unwrap_or_else(|| "No summary available.".into());
    let transcript = report.transcript.clone().unwrap_or_default();
    let callback = if report.callback_requested { "Yes - the caller asked to be called back." } else { "No" };
    let intent = report.intent.clone().unwrap_or_else(|| "other".into());
    let link =
        config.portal_url.as_deref().map(|url| format!("{}/calls/{}", url.trim_end_matches('/'), report.call_id));

    let mut text = format!(
        "New call for {business}\n\nCaller: {caller}\nWhen: {when}\nDuration: {duration}\nIntent: {intent}\n\
         Call back requested: {callback}\n\nSummary:\n{summary}\n\nTranscript:\n{transcript}\n",
        business = report.business_name
    );
    let mut html = format!(
        "<h2>New call for {business}</h2><table>\
         <tr><th align=\"left\">Caller</th><td>{caller}</td></tr>\
         <tr><th align=\"left\">When</th><td>{when}</td></tr>\
         <tr><th align=\"left\">Duration</th><td>{duration}</td></tr>\
         <tr><th align=\"left\">Intent</th><td>{intent}</td></tr>\
         <tr><th align=\"left\">Call back requested</th><td>{callback}</td></tr></table>\
         <h3>Summary</h3><p>{summary}</p><h3>Transcript</h3><pre style=\"white-space: pre-wrap\">{transcript}</pre>",
        business = escape(&report.business_name),
        caller = escape(&caller),
        when = escape(&when),
        duration = escape(&duration),
        intent = escape(&intent),
        callback = escape(callback),
        summary = escape(&summary),
        transcript = escape(&transcript),
    );
    if let Some(link) = link {
        text.push_str(&format!("\nSee the call in your portal: {link}\n"));
        html.push_str(&format!("<p><a href=\"{0}\">See the call in your portal</a></p>", escape(&link)));
    }
    Email { to: to.to_owned(), subject: format!("New call from {caller} - {}", report.business_name), text, html }
}

/// The owner's SMS about a call; short enough for one or two segments.
pub fn call_sms(report: &CallReport) -> String {
    let summary = report.summary.as_deref().unwrap_or("No summary available.");
    let callback = if report.callback_requested { " Call back requested." } else { "" };
    truncate(
        &format!(
            "DeskRinger: call from {} ({}).{callback} {summary}",
            caller_label(report),
            duration_label(report.duration_seconds)
        ),
        320,
    )
}

/// The welcome email of a new business with its portal login.
pub fn welcome_email(to: &str, business_name: &str, temporary_password: &str, config: &Config) -> Email {
    let portal = config.portal_url.clone().unwrap_or_else(|| "your DeskRinger portal".into());
    Email {
        to: to.to_owned(),
        subject: format!("Welcome to DeskRinger, {business_name}"),
        text: format!(
            "Welcome to DeskRinger!\n\nYour AI receptionist for {business_name} is being set up; your free trial lasts 7 days.\n\n\
             Log in at {portal} with:\nEmail: {to}\nTemporary password: {temporary_password}\n\nPlease change the password after logging in.\n"
        ),
        html: format!(
            "<h2>Welcome to DeskRinger!</h2><p>Your AI receptionist for {business} is being set up; your free trial lasts 7 days.</p>\
             <p>Log in at {portal} with:<br>Email: {email}<br>Temporary password: <code>{password}</code></p>\
             <p>Please change the password after logging in.</p>",
            business = escape(business_name),
            portal = escape(&portal),
            email = escape(to),
            password = escape(temporary_password),
        ),
    }
}

/// The admin's test email.
pub fn test_email(to: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: "DeskRinger test email".into(),
        text: "This is a test email from DeskRinger. Email sending works.".into(),
        html: "<p>This is a test email from DeskRinger. Email sending works.</p>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> CallReport {
        CallReport {
            call_id: 7,
            business_name: "Bob & Sons <Plumbing>".into(),
            timezone: "America/Chicago".into(),
            deskringer_number: Some("+14155550111".into()),
            notification_email: Some("owner@bob.test".into()),
            notification_phone: Some("+14155550133".into()),
            caller_phone: Some("+14155550199".into()),
            caller_name: None,
            duration_seconds: Some(125),
            created_at: "2026-11-24T18:30:00Z".parse().unwrap(),
            summary: Some("Wants a quote for <script>alert(1)</script>".into()),
            intent: Some("question".into()),
            callback_requested: true,
            transcript: Some("Caller: \"hi\" & bye".into()),
        }
    }

    #[test]
    fn the_email_escapes_user_text_and_uses_local_time() {
        let mut config = Config::for_tests();
        config.portal_url = Some("https://portal.deskringer.test/".into());
        let email = call_email(&report(), "owner@bob.test", &config);
        assert!(email.html.contains("Bob &amp; Sons &lt;Plumbing&gt;"));
        assert!(email.html.contains("&lt;script&gt;"));
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("Caller: &quot;hi&quot; &amp; bye"));
        assert!(email.text.contains("Tuesday 24 November 2026 at 12:30 CST"), "{}", email.text);
        assert!(email.text.contains("2m 05s"));
        assert!(email.text.contains("https://portal.deskringer.test/calls/7"));
    }

    #[test]
    fn the_sms_is_short_and_says_what_matters() {
        let sms = call_sms(&report());
        assert!(sms.starts_with("DeskRinger: call from +14155550199 (2m 05s). Call back requested."));
        let mut long = report();
        long.summary = Some("x".repeat(1000));
        assert!(call_sms(&long).chars().count() <= 320);
    }
}
