//! Numbers in the background: buying one for a business that just subscribed
//! (`AUTO_PROVISION_NUMBERS`), releasing the numbers of businesses that stayed cancelled for
//! `RELEASE_NUMBER_AFTER_DAYS` (the owner warned by email a few days before), and the
//! emails about both.

use chrono::{DateTime, Utc};
use graphile_worker::{TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};

use super::{JobContext, context, enqueue};
use crate::clients::sendgrid::Email;
use crate::clients::twilio::numbers::NumberSearch;
use crate::config::Config;
use crate::markup::escape;
use crate::numbers::{NumberError, Numbers};

/// How long before its release the owner is warned (less when the release comes sooner).
pub const WARNING_LEAD: chrono::Duration = chrono::Duration::days(5);

/// The statuses of a business whose subscription is over (its calls are not answered).
const LAPSED: &[&str] = &["cancelled", "canceled", "trial_expired", "incomplete_expired"];

/// Warns, then releases, the numbers of lapsed businesses; scheduled daily by
/// [`super::worker`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReleaseLapsedNumbers {}

impl TaskHandler for ReleaseLapsedNumbers {
    const IDENTIFIER: &'static str = "release_lapsed_numbers";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let report = release_lapsed_numbers(context(&ctx)?).await?;
        tracing::info!(warned = report.warned, released = report.released, "lapsed numbers handled");
        anyhow::Ok(())
    }
}

/// Buys a number for a business that subscribed without one, then emails the owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvisionNumber {
    /// The business.
    pub customer_id: i64,
}

impl TaskHandler for ProvisionNumber {
    const IDENTIFIER: &'static str = "provision_number";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let result = provision_number(context(&ctx)?, self.customer_id).await;
        if let Err(error) = &result {
            tracing::warn!(
                customer.id = self.customer_id,
                error = format!("{error:#}"),
                "provision_number failed; will retry"
            );
        }
        result
    }
}

/// An email to a business's owner about its number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NumberNotice {
    /// The business.
    pub customer_id: i64,
    /// The number it is about.
    pub phone_number: String,
    /// What to say.
    pub kind: NoticeKind,
}

/// What a [`NumberNotice`] says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The number is live: how to start taking calls on it.
    Ready,
    /// The number will be released on this date unless the business subscribes again.
    WillBeReleased { release_on: DateTime<Utc> },
}

impl TaskHandler for NumberNotice {
    const IDENTIFIER: &'static str = "number_notice";

    async fn run(self, ctx: WorkerContext) -> impl graphile_worker::IntoTaskHandlerResult {
        let job = context(&ctx)?;
        let row = sqlx::query!("SELECT email, business_name FROM customers WHERE id = $1", self.customer_id)
            .fetch_optional(&job.db)
            .await?;
        let Some(row) = row else { return anyhow::Ok(()) };
        let email = notice_email(&row.email, &row.business_name, &self.phone_number, &self.kind, &job.config);
        job.clients.sendgrid.send(&email).await?;
        tracing::info!(customer.id = self.customer_id, kind = ?self.kind, "number notice sent");
        anyhow::Ok(())
    }
}

/// What one run of [`release_lapsed_numbers`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LapsedReport {
    /// Owners warned this run.
    pub warned: usize,
    /// Numbers released this run.
    pub released: usize,
}

/// Warns the owners of businesses lapsed for `RELEASE_NUMBER_AFTER_DAYS` less
/// [`WARNING_LEAD`], and releases the numbers of those lapsed for the whole period whose
/// owner was warned at least the lead before. A business that subscribed again is no longer
/// lapsed, so it is neither warned nor released; a later lapse warns again.
pub async fn release_lapsed_numbers(job: &JobContext) -> anyhow::Result<LapsedReport> {
    let release_after = job.config.twilio.release_number_after;
    let lead = WARNING_LEAD.min(release_after);
    let seconds = |d: chrono::Duration| d.num_seconds() as f64;
    let statuses: Vec<String> = LAPSED.iter().map(|s| s.to_string()).collect();
    let mut report = LapsedReport::default();

    let mut tx = job.db.begin().await?;
    let warned = sqlx::query!(
        r#"UPDATE customers SET number_release_warned_at = now()
           WHERE subscription_status = ANY($1) AND deskringer_number IS NOT NULL
             AND coalesce(subscription_status_at, cancelled_at, updated_at) <= now() - make_interval(secs => $2)
             AND (number_release_warned_at IS NULL
                  OR number_release_warned_at < coalesce(subscription_status_at, cancelled_at, updated_at))
           RETURNING id, deskringer_number AS "deskringer_number!",
                     greatest(coalesce(subscription_status_at, cancelled_at, updated_at) + make_interval(secs => $3),
                              now() + make_interval(secs => $4)) AS "release_on!""#,
        &statuses,
        seconds(release_after - lead),
        seconds(release_after),
        seconds(lead)
    )
    .fetch_all(&mut *tx)
    .await?;
    for row in &warned {
        let notice = NumberNotice {
            customer_id: row.id,
            phone_number: row.deskringer_number.clone(),
            kind: NoticeKind::WillBeReleased { release_on: row.release_on },
        };
        enqueue(&job.db, &mut tx, notice, format!("number-release-warning-{}", row.id)).await?;
    }
    tx.commit().await?;
    report.warned = warned.len();

    let due = sqlx::query_scalar!(
        r#"SELECT id FROM customers
           WHERE subscription_status = ANY($1) AND deskringer_number IS NOT NULL
             AND coalesce(subscription_status_at, cancelled_at, updated_at) <= now() - make_interval(secs => $2)
             AND number_release_warned_at >= coalesce(subscription_status_at, cancelled_at, updated_at)
             AND number_release_warned_at <= now() - make_interval(secs => $3)
           ORDER BY id"#,
        &statuses,
        seconds(release_after),
        seconds(lead)
    )
    .fetch_all(&job.db)
    .await?;
    let numbers = Numbers::new(&job.db, &job.clients.twilio, &job.config);
    let mut failures = 0;
    for customer_id in due {
        match numbers.release(customer_id).await {
            Ok(_) => {
                tracing::info!(customer.id = customer_id, "number of a lapsed business released");
                report.released += 1;
            }
            Err(NumberError::NoNumber) => {}
            Err(error) => {
                tracing::warn!(
                    customer.id = customer_id,
                    error = error.for_log(),
                    "cannot release a lapsed business's number"
                );
                failures += 1;
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} lapsed numbers could not be released; the job will retry");
    }
    Ok(report)
}

/// Buys a number for business `customer_id` if it still has none (in the area code of its
/// own phone when Twilio has one there, else anywhere in the US), then tells the owner.
pub async fn provision_number(job: &JobContext, customer_id: i64) -> anyhow::Result<()> {
    let numbers = Numbers::new(&job.db, &job.clients.twilio, &job.config);
    let Some(customer) = crate::db::customers::find(&job.db, customer_id).await? else { return Ok(()) };
    if customer.deskringer_number.is_none() && !customer.is_in_service(Utc::now(), job.config.stripe.past_due_grace) {
        tracing::info!(customer.id = customer_id, "no longer in service; no number bought");
        return Ok(());
    }
    let number = match customer.deskringer_number {
        Some(number) => number,
        None => {
            let area_code = customer.phone.as_deref().and_then(us_area_code);
            let nearby = NumberSearch { country: "US".into(), area_code: area_code.clone(), contains: None };
            let bought = match numbers.buy(customer_id, &nearby).await {
                Err(NumberError::NoMatch(_)) if area_code.is_some() => {
                    let anywhere = NumberSearch { area_code: None, ..nearby };
                    numbers.buy(customer_id, &anywhere).await
                }
                other => other,
            };
            match bought {
                Ok(customer) => customer.deskringer_number.unwrap_or_default(),
                Err(NumberError::AlreadyHasNumber(number)) => number,
                // Logged by the worker: in words that quote no phone number.
                Err(error) => anyhow::bail!("cannot buy a number: {}", error.for_log()),
            }
        }
    };
    let mut tx = job.db.begin().await?;
    let notice = NumberNotice { customer_id, phone_number: number, kind: NoticeKind::Ready };
    enqueue(&job.db, &mut tx, notice, format!("number-ready-{customer_id}")).await?;
    tx.commit().await?;
    Ok(())
}

/// The area code of a North American number (`+1` and ten digits).
fn us_area_code(phone: &str) -> Option<String> {
    let digits = phone.strip_prefix("+1")?;
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits[..3].to_owned())
}

/// The owner's email about its number.
pub fn notice_email(to: &str, business_name: &str, number: &str, kind: &NoticeKind, config: &Config) -> Email {
    let portal = config.portal_url.clone().unwrap_or_else(|| "your DeskRinger portal".into());
    let (subject, paragraphs) = match kind {
        NoticeKind::Ready => (
            format!("Your DeskRinger number is ready: {number}"),
            vec![
                format!("Your AI receptionist for {business_name} now answers calls to {number}."),
                "To go live, forward your business line to this number (or publish it as your contact number). \
                 Before you do, hear it yourself: use \"Test call\" in your portal, or ring the number."
                    .to_owned(),
                format!("Hours, greeting, services and where calls are transferred are set in your portal: {portal}"),
            ],
        ),
        NoticeKind::WillBeReleased { release_on } => {
            let date = release_on.format("%-d %B %Y");
            (
                format!("Your DeskRinger number {number} will be released on {date}"),
                vec![
                    format!(
                        "The DeskRinger subscription of {business_name} has ended, so calls to {number} are no longer answered."
                    ),
                    format!(
                        "On {date} the number will be released: after that it cannot be recovered and may be given to someone else."
                    ),
                    format!(
                        "To keep it, subscribe again before then: after a free trial, from your portal ({portal}); \
                         after a cancellation, ask DeskRinger for a payment link."
                    ),
                ],
            )
        }
    };
    Email {
        to: to.to_owned(),
        subject,
        text: paragraphs.join("\n\n") + "\n",
        html: paragraphs.iter().map(|p| format!("<p>{}</p>", escape(p))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_code_comes_from_a_north_american_phone_only() {
        assert_eq!(us_area_code("+14155550123").as_deref(), Some("415"));
        assert_eq!(us_area_code("+442079460000"), None);
        assert_eq!(us_area_code("+1415555"), None);
    }

    #[test]
    fn the_warning_names_the_number_and_the_date_and_escapes_the_name() {
        let kind = NoticeKind::WillBeReleased { release_on: "2027-01-05T04:00:00Z".parse().unwrap() };
        let email = notice_email("o@b.test", "Bob & Sons", "+14155550100", &kind, &Config::for_tests());
        assert_eq!(email.subject, "Your DeskRinger number +14155550100 will be released on 5 January 2027");
        assert!(email.html.contains("Bob &amp; Sons"));
        assert!(email.text.contains("subscribe again before then"));
    }
}
