//! Writing the diary to the business's connected calendar: one job per appointment that
//! brings the calendar up to date. Google: its event is written when booked, moved with it,
//! deleted when it is cancelled. Cal.com: bookings and moves are made there by the diary while
//! the caller waits (Cal.com may refuse the time), so only the cancellation comes through here.
//! The appointment row is the lock and the truth; the calendar follows it through the durable
//! queue with retries, so a slow calendar never holds a caller, and a write that keeps failing
//! stays visible (`calendar_synced_sequence` lags, and the connection's `last_error` says why).

use graphile_worker::{TaskHandler, WorkerContext};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};

use super::{JobContext, context, run_logged};
use crate::clients::calcom::CalComError;
use crate::clients::google_calendar::{CalendarError, NewEvent};
use crate::clients::google_oauth::GoogleError;
use crate::db::appointments::AppointmentStatus;
use crate::db::calendar_connections::{mark_needs_reconnect, record_error};

/// Google refused a business's stored grant: the connection needs reconnecting, and the
/// owner is emailed about it once (until it is connected again).
pub async fn needs_reconnect(db: &PgPool, customer_id: i64) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    mark_needs_reconnect(&mut *tx, customer_id).await?;
    let key = format!("calendar-reconnect-{customer_id}");
    super::enqueue(db, &mut tx, EmailReconnect { customer_id }, key).await?;
    tx.commit().await?;
    Ok(())
}

/// Email the owner that their calendar needs connecting again (once per lapse).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailReconnect {
    /// The business.
    pub customer_id: i64,
}

impl TaskHandler for EmailReconnect {
    const IDENTIFIER: &'static str = "calendar_email_reconnect";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let span = tracing::info_span!("calendar_reconnect", customer.id = self.customer_id);
        run_logged::<Self>(&ctx, span, async { email_reconnect(context(&ctx)?, self.customer_id).await }).await
    }
}

/// Sends the owner the "connect your calendar again" email, unless it was sent for this
/// lapse already or the calendar is connected again.
pub async fn email_reconnect(job: &JobContext, customer_id: i64) -> anyhow::Result<()> {
    let row = sqlx::query!(
        "SELECT u.business_name, coalesce(u.notification_email, u.email) AS \"to!\"
         FROM calendar_connections c JOIN customers u ON u.id = c.customer_id
         WHERE c.customer_id = $1 AND c.status = 'needs_reconnect' AND c.reconnect_emailed_at IS NULL",
        customer_id
    )
    .fetch_optional(&job.db)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let portal = job.config.portal_url.clone().unwrap_or_else(|| "the DeskRinger portal".into());
    let business = crate::markup::escape(&row.business_name);
    let text = format!(
        "Google Calendar no longer accepts DeskRinger's access for {name} (it was revoked or has expired).\n\n\
         Until you connect it again, your receptionist cannot see your calendar, so it takes callers' details \
         instead of booking them.\n\nConnect it again in {portal}.",
        name = row.business_name
    );
    let html = format!(
        "<p>Google Calendar no longer accepts DeskRinger's access for <strong>{business}</strong> (it was revoked \
         or has expired).</p><p>Until you connect it again, your receptionist cannot see your calendar, so it takes \
         callers' details instead of booking them.</p><p>Connect it again in {}.</p>",
        crate::markup::escape(&portal)
    );
    let email = crate::clients::sendgrid::Email {
        to: row.to,
        subject: "Your calendar needs connecting again".into(),
        text,
        html,
    };
    job.clients.sendgrid.send(&email).await?;
    sqlx::query!("UPDATE calendar_connections SET reconnect_emailed_at = now() WHERE customer_id = $1", customer_id)
        .execute(&job.db)
        .await?;
    Ok(())
}

/// Bring appointment `appointment_id`'s event in the business's calendar up to date.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncCalendarEvent {
    /// The appointment.
    pub appointment_id: i64,
}

impl TaskHandler for SyncCalendarEvent {
    const IDENTIFIER: &'static str = "calendar_sync_event";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let span = tracing::info_span!("calendar_sync", appointment.id = self.appointment_id);
        run_logged::<Self>(&ctx, span, async { sync_event(context(&ctx)?, self.appointment_id).await }).await
    }
}

/// Queues the calendar's update inside `tx` when the business writes to a Google Calendar,
/// or when a Cal.com booking's appointment has been cancelled. One job per appointment (its
/// key): a later change replaces a pending one, and the job writes whatever the appointment
/// is when it runs.
pub async fn queue(
    db: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    customer_id: i64,
    appointment_id: i64,
) -> anyhow::Result<()> {
    let writes = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM calendar_connections k JOIN appointments a ON a.customer_id = k.customer_id
                          WHERE k.customer_id = $1 AND a.id = $2
                                AND ((k.provider = 'google' AND k.write_calendar_id IS NOT NULL)
                                     OR (k.provider = 'calcom' AND a.status = 'cancelled' AND a.calcom_uid IS NOT NULL)))
           AS "writes!""#,
        customer_id,
        appointment_id
    )
    .fetch_one(&mut **tx)
    .await?;
    if writes {
        let key = format!("calendar-sync-{appointment_id}");
        super::enqueue(db, tx, SyncCalendarEvent { appointment_id }, key).await?;
    }
    Ok(())
}

/// Queues a write for every appointment the business's calendar does not show yet: those
/// booked before the calendar was connected, and those whose writes stopped while the
/// connection needed reconnecting. Called when a Google Calendar is (re)connected; only
/// appointments not yet over matter to the owner.
pub async fn queue_unwritten(db: &PgPool, customer_id: i64) -> anyhow::Result<usize> {
    let mut tx = db.begin().await?;
    let ids = sqlx::query_scalar!(
        "SELECT id FROM appointments
         WHERE customer_id = $1 AND ends_at > now()
               AND calendar_synced_sequence IS DISTINCT FROM sequence
               AND (status = 'booked' OR google_event_id IS NOT NULL)
         ORDER BY starts_at",
        customer_id
    )
    .fetch_all(&mut *tx)
    .await?;
    for &id in &ids {
        queue(db, &mut tx, customer_id, id).await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// Brings the business's connected calendar up to date with the appointment.
pub async fn sync_event(job: &JobContext, appointment_id: i64) -> anyhow::Result<()> {
    let provider = sqlx::query_scalar!(
        "SELECT k.provider FROM appointments a JOIN calendar_connections k ON k.customer_id = a.customer_id
         WHERE a.id = $1",
        appointment_id
    )
    .fetch_optional(&job.db)
    .await?;
    match provider.as_deref() {
        Some("google") => sync_google_event(job, appointment_id).await,
        Some("calcom") => cancel_calcom_booking(job, appointment_id).await,
        // Disconnected meanwhile, or the appointment is gone: nothing to write.
        _ => Ok(()),
    }
}

/// Why Cal.com is told of a cancellation (its own emails may show it).
const CALCOM_CANCELLATION_REASON: &str = "Cancelled through DeskRinger";

/// Cancels a cancelled appointment's Cal.com booking. A booking Cal.com no longer has, or has
/// cancelled already (by hand, say), counts as done; any other failure is retried.
async fn cancel_calcom_booking(job: &JobContext, appointment_id: i64) -> anyhow::Result<()> {
    let row = sqlx::query!(
        r#"SELECT a.customer_id, a.status AS "status: AppointmentStatus", a.sequence, a.calcom_uid,
                  a.calendar_synced_sequence, k.status AS connection_status, k.secret
           FROM appointments a
           JOIN calendar_connections k ON k.customer_id = a.customer_id AND k.provider = 'calcom'
           WHERE a.id = $1"#,
        appointment_id
    )
    .fetch_optional(&job.db)
    .await?;
    let Some(row) = row else { return Ok(()) };
    // A booked appointment was booked (and moved) at Cal.com by the diary itself.
    let (AppointmentStatus::Cancelled, Some(uid)) = (row.status, row.calcom_uid.as_deref()) else { return Ok(()) };
    if row.calendar_synced_sequence == Some(row.sequence) || row.connection_status != "connected" {
        return Ok(());
    }
    let Some(key) = job.config.calendar.token_key.as_ref() else {
        anyhow::bail!("this server is not configured for Cal.com (no CALENDAR_TOKEN_KEY)");
    };
    let api_key = SecretString::from(
        key.open_string(&row.secret).map_err(|_| anyhow::anyhow!("the stored Cal.com key cannot be opened"))?,
    );
    match job.clients.calcom.cancel(api_key.expose_secret(), uid, CALCOM_CANCELLATION_REASON).await {
        Ok(()) => {}
        Err(error) if error.is_already_cancelled() => {
            tracing::info!(appointment.id = appointment_id, "the Cal.com booking was cancelled already");
        }
        Err(error) => {
            let words = match &error {
                CalComError::BadKey => "Cal.com refused the API key when cancelling a booking",
                error if error.is_transport() => "Cal.com did not answer a cancellation",
                _ => "Cal.com refused a cancellation",
            };
            record_error(&job.db, row.customer_id, words).await?;
            anyhow::bail!("{words}: {error}");
        }
    }
    sqlx::query!(
        "UPDATE appointments SET calendar_synced_sequence = $2 WHERE id = $1 AND sequence = $2",
        appointment_id,
        row.sequence
    )
    .execute(&job.db)
    .await?;
    tracing::info!(appointment.id = appointment_id, "Cal.com booking cancelled");
    Ok(())
}

/// Writes, moves or deletes the appointment's event so that the calendar shows it as it is.
async fn sync_google_event(job: &JobContext, appointment_id: i64) -> anyhow::Result<()> {
    let row = sqlx::query!(
        r#"SELECT a.customer_id, a.service, a.caller_name, a.caller_phone, a.notes, a.starts_at, a.ends_at,
                  a.status AS "status: AppointmentStatus", a.sequence, a.google_event_id, a.calendar_synced_sequence,
                  c.timezone, k.status AS connection_status, k.secret, k.write_calendar_id
           FROM appointments a JOIN customers c ON c.id = a.customer_id
           JOIN calendar_connections k ON k.customer_id = a.customer_id AND k.provider = 'google'
           WHERE a.id = $1"#,
        appointment_id
    )
    .fetch_optional(&job.db)
    .await?;
    // Disconnected meanwhile, or the appointment is gone: nothing to write.
    let Some(row) = row else { return Ok(()) };
    if row.calendar_synced_sequence == Some(row.sequence) {
        return Ok(());
    }
    if row.connection_status != "connected" {
        // It waits for the owner to reconnect; the admin sees it pending.
        return Ok(());
    }
    let (Some(key), Some(google)) = (job.config.calendar.token_key.as_ref(), job.clients.google.as_ref()) else {
        anyhow::bail!("this server is not configured for Google Calendar");
    };
    let calendar_id = row.write_calendar_id.clone().unwrap_or_else(|| "primary".into());
    let refresh_token =
        key.open_string(&row.secret).map_err(|_| anyhow::anyhow!("the stored Google token cannot be opened"))?;
    let access = match google.refresh(&refresh_token).await {
        Ok(access) => access,
        Err(GoogleError::InvalidGrant) => {
            needs_reconnect(&job.db, row.customer_id).await?;
            return Ok(());
        }
        Err(error) => anyhow::bail!("Google did not give access: {error}"),
    };
    let token = access.access_token.expose_secret();
    let calendar = &job.clients.google_calendar;
    let written = match (row.status, row.google_event_id.as_deref()) {
        (AppointmentStatus::Booked, None) => {
            let mut description = row.caller_phone.clone().unwrap_or_default();
            if let Some(notes) = row.notes.as_deref().filter(|n| !n.trim().is_empty()) {
                description = format!("{description}\n{notes}").trim().to_owned();
            }
            let event = NewEvent {
                summary: format!("{} - {}", row.service, row.caller_name),
                description,
                start: row.starts_at,
                end: row.ends_at,
                time_zone: row.timezone.clone(),
                appointment_id,
            };
            calendar.insert_event(token, &calendar_id, &event).await.map(Some)
        }
        (AppointmentStatus::Booked, Some(event_id)) => calendar
            .patch_event(token, &calendar_id, event_id, row.starts_at, row.ends_at, &row.timezone)
            .await
            .map(|()| Some(event_id.to_owned())),
        (AppointmentStatus::Cancelled, Some(event_id)) => {
            calendar.delete_event(token, &calendar_id, event_id).await.map(|()| None)
        }
        (AppointmentStatus::Cancelled, None) => Ok(None),
    };
    let event_id = match written {
        Ok(event_id) => event_id,
        Err(error) => {
            let words = match &error {
                CalendarError::Unauthorized => "Google refused the calendar write (access)".to_owned(),
                error if error.is_transport() => "Google Calendar did not answer a write".to_owned(),
                _ => "Google Calendar refused a write".to_owned(),
            };
            record_error(&job.db, row.customer_id, &words).await?;
            anyhow::bail!("{words}: {error}");
        }
    };
    // Only the version written counts as synced: a change made meanwhile queued its own run.
    sqlx::query!(
        "UPDATE appointments SET google_event_id = $2, calendar_synced_sequence = $3
         WHERE id = $1 AND sequence = $3",
        appointment_id,
        event_id,
        row.sequence
    )
    .execute(&job.db)
    .await?;
    tracing::info!(appointment.id = appointment_id, "calendar event up to date");
    Ok(())
}
