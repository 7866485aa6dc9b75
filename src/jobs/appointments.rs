//! Telling people about appointments, as jobs queued by [`appointment_changed`]: the
//! caller's texts (confirmation,
//! move, cancellation, and the reminder at its time) from the business's own number, and
//! the owner's email and text.
//!
//! Each message is recorded in `appointment_notices` once sent and looked for before
//! sending, so a retried or re-enqueued job never sends it twice (a crash between the
//! provider accepting it and the record being written can still repeat it: neither
//! SendGrid nor Twilio takes an idempotency key). Nothing is texted to a number that opted
//! out of the business's texts; a number Twilio itself reports as opted out (it texted STOP
//! while we were not told) is recorded as such and the job ends instead of retrying, as it
//! does for a text Twilio refuses as such (400: a landline, an invalid number).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use graphile_worker::{TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};

use super::{JobContext, context, run_logged};
use crate::booking::notices::{Audience, Change};
use crate::booking::slots::label;
use crate::clients::sendgrid::{Delivery, Email};
use crate::clients::twilio::{SmsDelivery, TwilioError};
use crate::config::Config;
use crate::db::appointments::AppointmentRow;
use crate::db::appointments::{AppointmentSource, AppointmentStatus};
use crate::db::customers;
use crate::db::sms_opt_outs;
use crate::markup::escape;
use crate::receptionist::hours::time_zone;
use crate::receptionist::summary::truncate;

/// Who a notice went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Recipient {
    /// The person the appointment is for.
    Caller,
    /// The business.
    Owner,
}

/// How a notice went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Channel {
    /// A text message.
    Sms,
    /// An email.
    Email,
}

/// What a notice told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum NoticeKind {
    /// The appointment was booked.
    Booked,
    /// It moved to another time.
    Moved,
    /// It was cancelled.
    Cancelled,
    /// It is coming up.
    Reminder,
}

impl From<Change> for NoticeKind {
    fn from(change: Change) -> Self {
        match change {
            Change::Booked => NoticeKind::Booked,
            Change::Moved => NoticeKind::Moved,
            Change::Cancelled => NoticeKind::Cancelled,
        }
    }
}

/// One change to an appointment, as the jobs that tell of it carry it: what the change
/// made of the appointment, so a message says what happened even if it changes again
/// before the job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The appointment.
    pub appointment_id: i64,
    /// What happened.
    pub change: Change,
    /// The appointment's sequence after the change (a second move is a second notice).
    pub sequence: i32,
    /// Its start after the change.
    pub starts_at: DateTime<Utc>,
}

/// Text the caller about a change (from the business's number).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextCaller(pub Notice);

/// Email the owner about a change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailOwner(pub Notice);

/// Text the owner about a change (to the business's `notification_phone`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextOwner(pub Notice);

/// Remind the caller of an appointment, queued to run `reminder_hours` before its start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemindCaller {
    /// The appointment.
    pub appointment_id: i64,
    /// Its sequence when the reminder was queued (its booking or last move).
    pub sequence: i32,
    /// The start it reminds of: if the appointment has moved since, this reminder is stale.
    pub starts_at: DateTime<Utc>,
}

fn span(appointment_id: i64) -> tracing::Span {
    tracing::info_span!("appointment_notice", appointment.id = appointment_id)
}

impl TaskHandler for TextCaller {
    const IDENTIFIER: &'static str = "appointment_text_caller";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        run_logged::<Self>(&ctx, span(self.0.appointment_id), async { text_caller(context(&ctx)?, &self.0).await })
            .await
    }
}

impl TaskHandler for RemindCaller {
    const IDENTIFIER: &'static str = "appointment_remind_caller";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        run_logged::<Self>(&ctx, span(self.appointment_id), async {
            remind_caller(context(&ctx)?, &self, Utc::now()).await
        })
        .await
    }
}

impl TaskHandler for EmailOwner {
    const IDENTIFIER: &'static str = "appointment_email_owner";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        run_logged::<Self>(&ctx, span(self.0.appointment_id), async { email_owner(context(&ctx)?, &self.0).await })
            .await
    }
}

impl TaskHandler for TextOwner {
    const IDENTIFIER: &'static str = "appointment_text_owner";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        run_logged::<Self>(&ctx, span(self.0.appointment_id), async { text_owner(context(&ctx)?, &self.0).await }).await
    }
}

/// An appointment with what its messages need from its business.
#[derive(Debug)]
pub struct Subject {
    pub appointment_id: i64,
    pub customer_id: i64,
    pub service: String,
    pub starts_at: DateTime<Utc>,
    pub caller_name: String,
    pub caller_phone: Option<String>,
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    pub source: AppointmentSource,
    pub business_name: String,
    pub timezone: String,
    pub business_email: String,
    pub deskringer_number: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone: Option<String>,
}

impl Subject {
    fn zone(&self) -> Tz {
        time_zone(&self.timezone)
    }
}

async fn load(job: &JobContext, appointment_id: i64) -> anyhow::Result<Option<Subject>> {
    Ok(sqlx::query_as!(
        Subject,
        r#"SELECT a.id AS appointment_id, a.customer_id, a.service, a.starts_at, a.caller_name, a.caller_phone, a.notes,
                  a.status AS "status: AppointmentStatus", a.source AS "source: AppointmentSource",
                  c.business_name, c.timezone, c.email AS business_email, c.deskringer_number, c.notification_email,
                  c.notification_phone
           FROM appointments a JOIN customers c ON c.id = a.customer_id WHERE a.id = $1"#,
        appointment_id
    )
    .fetch_optional(&job.db)
    .await?)
}

async fn already_sent(
    job: &JobContext,
    appointment_id: i64,
    recipient: Recipient,
    channel: Channel,
    kind: NoticeKind,
    sequence: i32,
) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM appointment_notices
                          WHERE appointment_id = $1 AND recipient = $2 AND channel = $3 AND kind = $4 AND sequence = $5)
           AS "sent!""#,
        appointment_id,
        recipient as Recipient,
        channel as Channel,
        kind as NoticeKind,
        sequence
    )
    .fetch_one(&job.db)
    .await?)
}

async fn record_sent(
    job: &JobContext,
    appointment_id: i64,
    recipient: Recipient,
    channel: Channel,
    kind: NoticeKind,
    sequence: i32,
    provider_id: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO appointment_notices (appointment_id, recipient, channel, kind, sequence, provider_id) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        appointment_id,
        recipient as Recipient,
        channel as Channel,
        kind as NoticeKind,
        sequence,
        provider_id
    )
    .execute(&job.db)
    .await?;
    Ok(())
}

/// What became of a text.
enum Texted {
    /// Twilio took it (its SID), or it was logged (Twilio not configured).
    Sent(Option<String>),
    /// The number opted out of the business's texts; nothing was sent.
    OptedOut,
    /// Twilio refused it for good (a landline, an invalid number); nothing was sent.
    Refused,
}

/// Texts `to` from `from` for business `customer_id`, unless `to` opted out of its texts.
async fn send_text(job: &JobContext, customer_id: i64, from: &str, to: &str, body: &str) -> anyhow::Result<Texted> {
    if sms_opt_outs::is_opted_out(&job.db, customer_id, to).await? {
        return Ok(Texted::OptedOut);
    }
    match job.clients.twilio.send_sms(from, to, body).await {
        Ok(SmsDelivery::Sent(sid)) => Ok(Texted::Sent(Some(sid))),
        Ok(SmsDelivery::Logged) => Ok(Texted::Sent(None)),
        Err(error) => match error.downcast_ref::<TwilioError>() {
            // Retrying would be refused forever: remember it, as if they had texted us STOP.
            Some(twilio) if twilio.is_unsubscribed() => {
                sms_opt_outs::opt_out(&job.db, customer_id, to).await?;
                Ok(Texted::OptedOut)
            }
            // A 400 is about the message itself (a number that cannot take texts, such as
            // a landline the caller rang from): the same text would be refused again.
            Some(twilio @ TwilioError::Api { status: 400, .. }) => {
                tracing::warn!(error = twilio.for_log(), "Twilio refused the text; not retried");
                Ok(Texted::Refused)
            }
            _ => Err(error),
        },
    }
}

/// Sends the caller's text about a change, once; nothing without a caller's phone or a
/// business number to text from (the caller could not reply to any other).
pub async fn text_caller(job: &JobContext, notice: &Notice) -> anyhow::Result<()> {
    let kind = NoticeKind::from(notice.change);
    let Some(subject) = load(job, notice.appointment_id).await? else { return Ok(()) };
    let body = caller_text(&subject.business_name, &subject.service, kind, notice.starts_at, subject.zone());
    send_caller_text(job, &subject, kind, notice.sequence, &body).await
}

/// Sends the caller's reminder, once: not for an appointment cancelled, moved or started
/// since the reminder was queued.
pub async fn remind_caller(job: &JobContext, reminder: &RemindCaller, now: DateTime<Utc>) -> anyhow::Result<()> {
    let Some(subject) = load(job, reminder.appointment_id).await? else { return Ok(()) };
    if subject.status != AppointmentStatus::Booked
        || subject.starts_at != reminder.starts_at
        || subject.starts_at <= now
    {
        tracing::info!("reminder not sent: the appointment was cancelled, moved or has started");
        return Ok(());
    }
    let body =
        caller_text(&subject.business_name, &subject.service, NoticeKind::Reminder, subject.starts_at, subject.zone());
    send_caller_text(job, &subject, NoticeKind::Reminder, reminder.sequence, &body).await
}

async fn send_caller_text(
    job: &JobContext,
    subject: &Subject,
    kind: NoticeKind,
    sequence: i32,
    body: &str,
) -> anyhow::Result<()> {
    let Some(to) = subject.caller_phone.as_deref() else { return Ok(()) };
    let Some(from) = subject.deskringer_number.as_deref() else {
        tracing::warn!(customer.id = subject.customer_id, "the business has no number to text the caller from");
        return Ok(());
    };
    if already_sent(job, subject.appointment_id, Recipient::Caller, Channel::Sms, kind, sequence).await? {
        return Ok(());
    }
    match send_text(job, subject.customer_id, from, to, body).await? {
        Texted::OptedOut => tracing::info!(?kind, "the caller opted out of texts; not sent"),
        Texted::Refused => {}
        Texted::Sent(sid) => {
            record_sent(job, subject.appointment_id, Recipient::Caller, Channel::Sms, kind, sequence, sid.as_deref())
                .await?;
            tracing::info!(?kind, sent = sid.is_some(), "caller texted about an appointment");
        }
    }
    Ok(())
}

/// Sends the owner's email about a change, once, to the notification address or else the
/// business's own.
pub async fn email_owner(job: &JobContext, notice: &Notice) -> anyhow::Result<()> {
    let kind = NoticeKind::from(notice.change);
    let Some(subject) = load(job, notice.appointment_id).await? else { return Ok(()) };
    if already_sent(job, subject.appointment_id, Recipient::Owner, Channel::Email, kind, notice.sequence).await? {
        return Ok(());
    }
    let to = subject.notification_email.clone().unwrap_or_else(|| subject.business_email.clone());
    let email = owner_email(&subject, notice, &to, &job.config);
    let delivery = job.clients.sendgrid.send(&email).await?;
    record_sent(job, subject.appointment_id, Recipient::Owner, Channel::Email, kind, notice.sequence, None).await?;
    tracing::info!(?kind, sent = (delivery == Delivery::Sent), "owner emailed about an appointment");
    Ok(())
}

/// Sends the owner's text about a change, once, to `notification_phone` (none when unset),
/// from the business's number or else the platform's.
pub async fn text_owner(job: &JobContext, notice: &Notice) -> anyhow::Result<()> {
    let kind = NoticeKind::from(notice.change);
    let Some(subject) = load(job, notice.appointment_id).await? else { return Ok(()) };
    let Some(to) = subject.notification_phone.as_deref() else { return Ok(()) };
    let Some(from) = subject.deskringer_number.as_deref().or(job.config.twilio.phone_number.as_deref()) else {
        tracing::warn!(customer.id = subject.customer_id, "no number to text the owner from; SMS skipped");
        return Ok(());
    };
    if already_sent(job, subject.appointment_id, Recipient::Owner, Channel::Sms, kind, notice.sequence).await? {
        return Ok(());
    }
    match send_text(job, subject.customer_id, from, to, &owner_text(&subject, notice)).await? {
        Texted::OptedOut => tracing::info!(?kind, "the owner's phone opted out of texts; not sent"),
        Texted::Refused => {}
        Texted::Sent(sid) => {
            record_sent(
                job,
                subject.appointment_id,
                Recipient::Owner,
                Channel::Sms,
                kind,
                notice.sequence,
                sid.as_deref(),
            )
            .await?;
            tracing::info!(?kind, sent = sid.is_some(), "owner texted about an appointment");
        }
    }
    Ok(())
}

/// The caller's text: the business, the service and its local day, date and time, and
/// how to cancel while it stands.
pub fn caller_text(business: &str, service: &str, kind: NoticeKind, starts_at: DateTime<Utc>, zone: Tz) -> String {
    let when = label(starts_at, zone);
    match kind {
        NoticeKind::Booked => format!("{business}: your {service} is booked for {when}. Reply C to cancel."),
        NoticeKind::Moved => format!("{business}: your {service} has moved to {when}. Reply C to cancel."),
        NoticeKind::Cancelled => format!("{business}: your {service} on {when} is cancelled."),
        NoticeKind::Reminder => format!("{business}: a reminder of your {service} on {when}. Reply C to cancel."),
    }
}

fn caller_label(subject: &Subject) -> String {
    match &subject.caller_phone {
        Some(phone) => format!("{} ({phone})", subject.caller_name),
        None => subject.caller_name.clone(),
    }
}

fn source_label(source: AppointmentSource) -> &'static str {
    match source {
        AppointmentSource::Call => "the receptionist, during a call",
        AppointmentSource::Sms => "a text conversation",
        AppointmentSource::Portal => "your portal",
        AppointmentSource::Admin => "DeskRinger staff",
    }
}

/// What the owner reads first: "New booking", "Booking moved", "Booking cancelled".
fn headline(change: Change) -> &'static str {
    match change {
        Change::Booked => "New booking",
        Change::Moved => "Booking moved",
        Change::Cancelled => "Booking cancelled",
    }
}

/// The owner's email about a change: what, when (local), who, notes, how it was booked.
pub fn owner_email(subject: &Subject, notice: &Notice, to: &str, config: &Config) -> Email {
    let headline = headline(notice.change);
    let when = label(notice.starts_at, subject.zone());
    let when_heading = if notice.change == Change::Moved { "Now" } else { "When" };
    let caller = caller_label(subject);
    let notes = subject.notes.clone().unwrap_or_default();
    let source = source_label(subject.source);
    let mut text = format!(
        "{headline} for {business}\n\nService: {service}\n{when_heading}: {when}\nFor: {caller}\nNotes: {notes}\n\
         Booked through: {source}\n",
        business = subject.business_name,
        service = subject.service,
    );
    let mut html = format!(
        "<h2>{headline} for {business}</h2><table>\
         <tr><th align=\"left\">Service</th><td>{service}</td></tr>\
         <tr><th align=\"left\">{when_heading}</th><td>{when}</td></tr>\
         <tr><th align=\"left\">For</th><td>{caller}</td></tr>\
         <tr><th align=\"left\">Notes</th><td>{notes}</td></tr>\
         <tr><th align=\"left\">Booked through</th><td>{source}</td></tr></table>",
        headline = escape(headline),
        business = escape(&subject.business_name),
        service = escape(&subject.service),
        when = escape(&when),
        caller = escape(&caller),
        notes = escape(&notes),
        source = escape(source),
    );
    if let Some(portal) = config.portal_url.as_deref() {
        text.push_str(&format!("\nYour diary is in your portal: {portal}\n"));
        html.push_str(&format!("<p><a href=\"{0}\">Open your portal</a></p>", escape(portal)));
    }
    Email {
        to: to.to_owned(),
        subject: format!("{headline}: {} on {when} - {}", subject.service, subject.caller_name),
        text,
        html,
    }
}

/// The owner's text about a change; at most two segments.
pub fn owner_text(subject: &Subject, notice: &Notice) -> String {
    let when = label(notice.starts_at, subject.zone());
    let at = if notice.change == Change::Moved { "now" } else { "on" };
    truncate(
        &format!(
            "DeskRinger: {} - {} {at} {when} for {}.",
            headline(notice.change).to_lowercase(),
            subject.service,
            caller_label(subject)
        ),
        320,
    )
}

/// Queues what a change tells the caller and the owner (and a booking's reminder).
pub async fn appointment_changed(
    db: &PgPool,
    appointment: &AppointmentRow,
    change: Change,
    audience: Audience,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    queue(db, &mut tx, appointment, change, audience, Utc::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// [`appointment_changed`] inside `tx`, for a caller that changes the diary in the same
/// transaction: the messages exist exactly when the change does.
///
/// - The caller's text about the change (booked, moved, cancelled) when `audience.caller`,
///   the appointment has a phone, and the business's `sms_confirmations` is on.
/// - The reminder, `reminder_hours` before the start: queued on a booking or move (replacing
///   the pending one: one per appointment) unless that time has already come, and removed
///   on a cancellation. It belongs to the appointment rather than to one change, so who is
///   told of the change does not matter; `reminder_hours` 0 turns it off.
/// - The owner's email, and text when the business has a `notification_phone`, when
///   `audience.owner`.
///
/// Whether the number has opted out of texts is checked when each text is sent.
pub async fn queue(
    db: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    appointment: &AppointmentRow,
    change: Change,
    audience: Audience,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(business) = customers::find(&mut **tx, appointment.customer_id).await? else { return Ok(()) };
    let settings = business.booking.as_ref().and_then(|booking| booking.parse()).unwrap_or_default();
    let id = appointment.id;
    let notice =
        Notice { appointment_id: id, change, sequence: appointment.sequence, starts_at: appointment.starts_at };
    let key = |whom: &str| format!("appointment-{id}-{whom}-{}-{}", change.as_str(), appointment.sequence);

    let has_phone = appointment.caller_phone.is_some();
    if audience.caller && has_phone && settings.sms_confirmations {
        super::enqueue(db, tx, TextCaller(notice), key("text-caller")).await?;
    }

    let reminder_key = format!("appointment-{id}-reminder");
    let reminder_at = appointment.starts_at - chrono::Duration::hours(i64::from(settings.reminder_hours));
    match change {
        Change::Booked | Change::Moved if has_phone && settings.reminder_hours > 0 && reminder_at > now => {
            let reminder =
                RemindCaller { appointment_id: id, sequence: appointment.sequence, starts_at: appointment.starts_at };
            super::enqueue_at(db, tx, reminder, reminder_key, reminder_at).await?;
        }
        // Booked inside the window, moved into it, cancelled: no reminder (one queued for
        // an earlier time would find the start changed and send nothing, but it need not wait).
        _ => super::dequeue(db, tx, &reminder_key).await?,
    }

    if audience.owner {
        super::enqueue(db, tx, EmailOwner(notice), key("email-owner")).await?;
        if business.notification_phone.is_some() {
            super::enqueue(db, tx, TextOwner(notice), key("text-owner")).await?;
        }
    }
    // The business's own calendar shows every change, whoever is told of it.
    super::calendar::queue(db, tx, business.id, id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            appointment_id: 9,
            customer_id: 3,
            service: "Haircut".into(),
            starts_at: "2026-12-08T20:00:00Z".parse().unwrap(),
            caller_name: "Jo <Jo> & Co".into(),
            caller_phone: Some("+14155550199".into()),
            notes: Some("<b>fringe</b>".into()),
            status: AppointmentStatus::Booked,
            source: AppointmentSource::Call,
            business_name: "Bella Hair".into(),
            timezone: "America/New_York".into(),
            business_email: "owner@bella.test".into(),
            deskringer_number: Some("+14155550100".into()),
            notification_email: None,
            notification_phone: None,
        }
    }

    fn notice(change: Change) -> Notice {
        Notice { appointment_id: 9, change, sequence: 0, starts_at: "2026-12-08T20:00:00Z".parse().unwrap() }
    }

    #[test]
    fn the_callers_texts_say_business_service_and_local_time() {
        let s = subject();
        let at = s.starts_at;
        let caller_text = |kind, at| caller_text(&s.business_name, &s.service, kind, at, s.zone());
        assert_eq!(
            caller_text(NoticeKind::Booked, at),
            "Bella Hair: your Haircut is booked for Tuesday 8 December at 3:00 pm. Reply C to cancel."
        );
        assert_eq!(
            caller_text(NoticeKind::Moved, at + chrono::Duration::days(1)),
            "Bella Hair: your Haircut has moved to Wednesday 9 December at 3:00 pm. Reply C to cancel."
        );
        assert_eq!(
            caller_text(NoticeKind::Cancelled, at),
            "Bella Hair: your Haircut on Tuesday 8 December at 3:00 pm is cancelled."
        );
        assert_eq!(
            caller_text(NoticeKind::Reminder, at),
            "Bella Hair: a reminder of your Haircut on Tuesday 8 December at 3:00 pm. Reply C to cancel."
        );
    }

    #[test]
    fn the_owners_email_escapes_what_callers_and_owners_typed() {
        let mut config = Config::for_tests();
        config.portal_url = Some("https://portal.deskringer.test".into());
        let email = owner_email(&subject(), &notice(Change::Booked), "owner@bella.test", &config);
        assert_eq!(email.subject, "New booking: Haircut on Tuesday 8 December at 3:00 pm - Jo <Jo> & Co");
        assert!(email.html.contains("Jo &lt;Jo&gt; &amp; Co (+14155550199)"), "{}", email.html);
        assert!(email.html.contains("&lt;b&gt;fringe&lt;/b&gt;"));
        assert!(!email.html.contains("<b>fringe"));
        assert!(email.text.contains("Booked through: the receptionist, during a call"));
        assert!(email.text.contains("https://portal.deskringer.test"));
        let moved = owner_email(&subject(), &notice(Change::Moved), "owner@bella.test", &config);
        assert!(moved.subject.starts_with("Booking moved: "));
        assert!(moved.text.contains("Now: Tuesday 8 December at 3:00 pm"));
    }

    #[test]
    fn the_owners_text_is_short() {
        assert_eq!(
            owner_text(&subject(), &notice(Change::Cancelled)),
            "DeskRinger: booking cancelled - Haircut on Tuesday 8 December at 3:00 pm for Jo <Jo> & Co (+14155550199)."
        );
        let mut long = subject();
        long.caller_name = "x".repeat(500);
        assert!(owner_text(&long, &notice(Change::Booked)).chars().count() <= 320);
    }
}
