//! A business's DeskRinger number: bought, attached, audited, rewired and released at
//! Twilio by the server itself, so nobody pastes webhook URLs into Twilio's console.
//!
//! Used by the admin routes, the portal's onboarding and the jobs; it knows the database and
//! the Twilio client, nothing of HTTP.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::clients::twilio::numbers::{IncomingNumber, NumberSearch, Wiring};
use crate::clients::twilio::{Twilio, TwilioError};
use crate::config::Config;
use crate::db::customers::{self, Customer, NUMBER_UNIQUE_CONSTRAINT};

/// Path of the voice webhook a number must call.
pub const VOICE_PATH: &str = "/api/webhooks/twilio/voice";
/// Path of the status webhook a number must report to.
pub const STATUS_PATH: &str = "/api/webhooks/twilio/status";
/// Path of the webhook a number's incoming texts must reach (replies to appointment texts).
pub const SMS_PATH: &str = "/api/webhooks/twilio/sms";
/// Longest label Twilio keeps for a number.
const FRIENDLY_NAME_LEN: usize = 64;
/// Longer than any purchase request can run (three tries of at most 15 s, and the pauses):
/// a purchase record older than this belongs to a request that is gone.
const PURCHASE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);
/// Numbers bought for one business per [`PURCHASE_WINDOW`]: onboarding takes one, a wrong
/// area code one more; beyond that a mistake (or a loop of buy and release) costs money.
pub const PURCHASES_PER_WINDOW: usize = 3;
/// The window [`PURCHASES_PER_WINDOW`] counts over.
pub const PURCHASE_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Why a number could not be bought, attached or released.
#[derive(Debug, thiserror::Error)]
pub enum NumberError {
    /// No such business.
    #[error("customer not found")]
    NoSuchBusiness,
    /// The business already has a number.
    #[error("this business already has the number {0}; release it first")]
    AlreadyHasNumber(String),
    /// The business is not in service (why, in words): it gets no number.
    #[error(
        "this business is not in service ({0}); numbers are bought and attached only for a business \
         on a trial or a subscription"
    )]
    NotInService(&'static str),
    /// The business has had [`PURCHASES_PER_WINDOW`] numbers bought within
    /// [`PURCHASE_WINDOW`]; the next purchase is possible at `until`.
    #[error(
        "{PURCHASES_PER_WINDOW} numbers were bought for this business in the last 24 hours, the most \
         allowed; the next purchase is possible after {}",
        until.format("%Y-%m-%d %H:%M UTC")
    )]
    PurchaseLimit { until: DateTime<Utc> },
    /// Another request is buying a number for the business right now.
    #[error("a number is being bought for this business right now; try again in a minute")]
    PurchaseInProgress,
    /// Twilio has no number matching the search.
    #[error("{0}")]
    NoMatch(String),
    /// The number to attach is not on the Twilio account.
    #[error("{0} is not a number on DeskRinger's Twilio account")]
    NotOnAccount(String),
    /// Another business already answers on the number.
    #[error("{0} already belongs to another business")]
    Taken(String),
    /// The business has no number to release.
    #[error("this business has no DeskRinger number")]
    NoNumber,
    /// Twilio refused or could not be reached.
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl NumberError {
    /// What went wrong, for logs: never a phone number (the messages shown to admins name
    /// them; logs must not).
    pub fn for_log(&self) -> String {
        match self {
            NumberError::AlreadyHasNumber(_) => "the business already has a number".into(),
            NumberError::NoMatch(_) => "no number matches the search".into(),
            NumberError::NotOnAccount(_) => "the number is not on the Twilio account".into(),
            NumberError::Taken(_) => "the number belongs to another business".into(),
            NumberError::Twilio(error) => error.for_log(),
            other => other.to_string(),
        }
    }
}

/// The numbers desk: the database, the Twilio client and where numbers must point.
#[derive(Debug, Clone, Copy)]
pub struct Numbers<'a> {
    db: &'a PgPool,
    twilio: &'a Twilio,
    api_base_url: &'a str,
    past_due_grace: chrono::Duration,
}

/// A number on the Twilio account as the audit sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditedNumber {
    /// E.164.
    pub phone_number: String,
    /// Twilio's `PN...`.
    pub sid: String,
    /// The business answering on it, if any.
    pub customer_id: Option<i64>,
    /// That business's name.
    pub business_name: Option<String>,
    /// Its voice URL is this server's voice webhook.
    pub voice_url_ok: bool,
    /// Its voice method is POST.
    pub voice_method_ok: bool,
    /// Its status callback is this server's status webhook, by POST.
    pub status_callback_ok: bool,
    /// Its SMS URL is this server's SMS webhook, by POST.
    pub sms_url_ok: bool,
    /// All four are right.
    pub wired: bool,
    /// What is wrong, in words (empty when wired).
    pub problems: Vec<String>,
}

/// A business whose `deskringer_number` is not on the Twilio account: its calls go nowhere.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingNumber {
    pub customer_id: i64,
    pub business_name: String,
    pub deskringer_number: String,
}

/// Every number on the account and every business number missing from it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Audit {
    /// Where numbers must point.
    pub expected_voice_url: String,
    /// Where numbers must report.
    pub expected_status_callback: String,
    /// Where numbers must send the texts they receive.
    pub expected_sms_url: String,
    pub numbers: Vec<AuditedNumber>,
    pub missing: Vec<MissingNumber>,
}

/// A number the sync rewired (or failed to).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncedNumber {
    pub phone_number: String,
    pub customer_id: i64,
    /// What was wrong before the sync.
    pub fixed: Vec<String>,
}

/// A number the sync could not rewire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncFailure {
    pub phone_number: String,
    pub customer_id: i64,
    /// Twilio's reason.
    pub error: String,
}

/// What the sync changed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    pub rewired: Vec<SyncedNumber>,
    pub failed: Vec<SyncFailure>,
    /// Numbers of businesses already wired right.
    pub unchanged: usize,
}

struct Assigned {
    id: i64,
    business_name: String,
    deskringer_number: String,
}

impl<'a> Numbers<'a> {
    /// The desk over `db` and `twilio`, wiring numbers to the configured `API_BASE_URL`.
    pub fn new(db: &'a PgPool, twilio: &'a Twilio, config: &'a Config) -> Self {
        Self { db, twilio, api_base_url: &config.api_base_url, past_due_grace: config.stripe.past_due_grace }
    }

    /// Where every DeskRinger number must point.
    pub fn wiring(&self) -> Wiring {
        Wiring {
            voice_url: format!("{}{VOICE_PATH}", self.api_base_url),
            status_callback: format!("{}{STATUS_PATH}", self.api_base_url),
            sms_url: format!("{}{SMS_PATH}", self.api_base_url),
        }
    }

    /// Buys a number matching `search` for business `customer_id`, wired to this server.
    ///
    /// Only for a business in service, and at most [`PURCHASES_PER_WINDOW`] per
    /// [`PURCHASE_WINDOW`] (counted in `numbers_bought`, so across instances); both are
    /// checked before Twilio is asked anything.
    ///
    /// Never buys twice: the chosen number is recorded before Twilio is asked. While that
    /// request runs, another is refused (409); once it has ended without knowing whether the
    /// purchase happened (a lost answer, a crash), a retry first asks Twilio whether that
    /// number is on the account, and takes it if so.
    pub async fn buy(&self, customer_id: i64, search: &NumberSearch) -> Result<Customer, NumberError> {
        let customer = self.business_in_service(customer_id).await?;
        if let Some(number) = customer.deskringer_number {
            return Err(NumberError::AlreadyHasNumber(number));
        }
        let pending = sqlx::query!(
            r#"SELECT phone_number, (ended_at IS NOT NULL OR started_at < now() - make_interval(secs => $2))
                      AS "settled!"
               FROM number_purchases WHERE customer_id = $1"#,
            customer_id,
            PURCHASE_DEADLINE.as_secs_f64()
        )
        .fetch_optional(self.db)
        .await?;
        if let Some(pending) = pending {
            if !pending.settled {
                return Err(NumberError::PurchaseInProgress);
            }
            // Taking a number an earlier request bought is not a new purchase: no limit.
            if let Some(bought) = self.twilio.account_numbers(Some(&pending.phone_number)).await?.into_iter().next() {
                tracing::info!(customer.id = customer_id, "an earlier purchase went through; taking that number");
                return self.adopt(&customer, &bought, true).await;
            }
            self.forget_purchase(customer_id, &pending.phone_number).await?;
        }
        check_purchase_limit(self.db, customer_id).await?;

        let offers = self.twilio.available_numbers(search).await?;
        let Some(offer) = offers.into_iter().next() else {
            return Err(NumberError::NoMatch(no_match_message(search)));
        };
        // The limit again, with the business's row locked until the claim is stored: a
        // purchase finishing meanwhile (its record written under the same lock) is counted.
        let mut tx = self.db.begin().await?;
        sqlx::query!("SELECT id FROM customers WHERE id = $1 FOR UPDATE", customer_id).fetch_one(&mut *tx).await?;
        check_purchase_limit(&mut *tx, customer_id).await?;
        let claimed = sqlx::query!(
            "INSERT INTO number_purchases (customer_id, phone_number) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            customer_id,
            offer.phone_number
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        if !claimed {
            return Err(NumberError::PurchaseInProgress);
        }
        match self.twilio.buy_number(&offer.phone_number, &self.wiring(), &friendly_name(&customer)).await {
            Ok(bought) => {
                tracing::info!(customer.id = customer_id, number.sid = %bought.sid, "number bought");
                self.assign(customer_id, &bought, true).await
            }
            Err(error) => {
                // A timeout, or a 5xx followed by a retry told "not available", may hide a
                // purchase that happened: look before giving up.
                match self.twilio.account_numbers(Some(&offer.phone_number)).await {
                    Ok(found) => match found.into_iter().next() {
                        Some(bought) => return self.adopt(&customer, &bought, true).await,
                        None => self.forget_purchase(customer_id, &offer.phone_number).await?,
                    },
                    // Cannot tell: the record stays, marked as ended, and the next attempt
                    // looks again.
                    Err(lookup) => {
                        tracing::warn!(error = lookup.for_log(), "cannot tell whether the purchase happened");
                        sqlx::query!(
                            "UPDATE number_purchases SET ended_at = now() WHERE customer_id = $1 AND phone_number = $2",
                            customer_id,
                            offer.phone_number
                        )
                        .execute(self.db)
                        .await?;
                    }
                }
                Err(error.into())
            }
        }
    }

    /// Gives business `customer_id` a number already on the account, rewired to this server.
    /// Only for a business in service.
    pub async fn attach(&self, customer_id: i64, phone_number: &str) -> Result<Customer, NumberError> {
        let customer = self.business_in_service(customer_id).await?;
        if let Some(current) = customer.deskringer_number.as_ref().filter(|current| *current != phone_number) {
            return Err(NumberError::AlreadyHasNumber(current.clone()));
        }
        let owner = sqlx::query_scalar!(
            "SELECT id FROM customers WHERE deskringer_number = $1 AND id <> $2",
            phone_number,
            customer_id
        )
        .fetch_optional(self.db)
        .await?;
        if owner.is_some() {
            return Err(NumberError::Taken(phone_number.to_owned()));
        }
        let Some(found) = self.twilio.account_numbers(Some(phone_number)).await?.into_iter().next() else {
            return Err(NumberError::NotOnAccount(phone_number.to_owned()));
        };
        self.adopt(&customer, &found, false).await
    }

    /// Releases business `customer_id`'s number at Twilio and clears it; returns the number.
    /// A number no longer on the account is only cleared.
    pub async fn release(&self, customer_id: i64) -> Result<String, NumberError> {
        let row = sqlx::query!("SELECT deskringer_number, twilio_number_sid FROM customers WHERE id = $1", customer_id)
            .fetch_optional(self.db)
            .await?
            .ok_or(NumberError::NoSuchBusiness)?;
        let Some(number) = row.deskringer_number else { return Err(NumberError::NoNumber) };
        let sid = match row.twilio_number_sid {
            Some(sid) => Some(sid),
            None => self.twilio.account_numbers(Some(&number)).await?.into_iter().next().map(|found| found.sid),
        };
        if let Some(sid) = &sid {
            self.twilio.release_number(sid).await?;
        }
        // Only if the number is still the same (an admin may have changed it meanwhile);
        // the migration-9 trigger clears the SID and the warning with it.
        sqlx::query!(
            "UPDATE customers SET deskringer_number = NULL, updated_at = now() WHERE id = $1 AND deskringer_number = $2",
            customer_id,
            number
        )
        .execute(self.db)
        .await?;
        tracing::info!(customer.id = customer_id, released_at_twilio = sid.is_some(), "number released");
        Ok(number)
    }

    /// Every number on the account, whether it is wired to this server, and business
    /// numbers the account does not have.
    pub async fn audit(&self) -> Result<Audit, NumberError> {
        let on_account = self.twilio.account_numbers(None).await?;
        let assigned = sqlx::query_as!(
            Assigned,
            r#"SELECT id, business_name, deskringer_number AS "deskringer_number!" FROM customers
               WHERE deskringer_number IS NOT NULL ORDER BY id"#
        )
        .fetch_all(self.db)
        .await?;
        let wiring = self.wiring();
        // By number, so an account with thousands of numbers is matched in one pass each way.
        let by_number: HashMap<&str, &Assigned> =
            assigned.iter().map(|business| (business.deskringer_number.as_str(), business)).collect();
        let numbers = on_account
            .iter()
            .map(|number| audit_number(number, by_number.get(number.phone_number.as_str()).copied(), &wiring))
            .collect();
        let on_account: HashSet<&str> = on_account.iter().map(|number| number.phone_number.as_str()).collect();
        let missing = assigned
            .iter()
            .filter(|business| !on_account.contains(business.deskringer_number.as_str()))
            .map(|business| MissingNumber {
                customer_id: business.id,
                business_name: business.business_name.clone(),
                deskringer_number: business.deskringer_number.clone(),
            })
            .collect();
        Ok(Audit {
            expected_voice_url: wiring.voice_url,
            expected_status_callback: wiring.status_callback,
            expected_sms_url: wiring.sms_url,
            numbers,
            missing,
        })
    }

    /// Rewires every number that belongs to a business and is not wired to this server, and
    /// records Twilio's SID where it was not known.
    pub async fn sync(&self) -> Result<SyncReport, NumberError> {
        let audit = self.audit().await?;
        // Twilio's SIDs of the businesses' numbers, in one statement (only changed rows are written).
        let (numbers, sids): (Vec<String>, Vec<String>) = audit
            .numbers
            .iter()
            .filter(|number| number.customer_id.is_some())
            .map(|number| (number.phone_number.clone(), number.sid.clone()))
            .unzip();
        sqlx::query!(
            "UPDATE customers c SET twilio_number_sid = v.sid \
             FROM unnest($1::text[], $2::text[]) AS v(phone_number, sid) \
             WHERE c.deskringer_number = v.phone_number AND c.twilio_number_sid IS DISTINCT FROM v.sid",
            &numbers,
            &sids
        )
        .execute(self.db)
        .await?;
        let mut report = SyncReport { rewired: Vec::new(), failed: Vec::new(), unchanged: 0 };
        for number in audit.numbers {
            let (Some(customer_id), Some(business_name)) = (number.customer_id, &number.business_name) else {
                continue;
            };
            if number.wired {
                report.unchanged += 1;
                continue;
            }
            let label = label(customer_id, business_name);
            match self.twilio.wire_number(&number.sid, &self.wiring(), &label).await {
                Ok(_) => {
                    tracing::info!(customer.id = customer_id, problems = ?number.problems, "number rewired");
                    report.rewired.push(SyncedNumber {
                        phone_number: number.phone_number,
                        customer_id,
                        fixed: number.problems,
                    });
                }
                Err(error) => report.failed.push(SyncFailure {
                    phone_number: number.phone_number,
                    customer_id,
                    error: error.to_string(),
                }),
            }
        }
        Ok(report)
    }

    /// Audits the account and logs a warning per number not wired to this server and per
    /// business number missing from the account (run at start-up in production).
    pub async fn log_audit(&self) {
        let audit = match self.audit().await {
            Ok(audit) => audit,
            Err(error) => {
                tracing::warn!(error = error.for_log(), "cannot audit the Twilio numbers");
                return;
            }
        };
        for number in audit.numbers.iter().filter(|number| !number.wired) {
            tracing::warn!(
                number.sid = %number.sid,
                customer.id = number.customer_id,
                problems = %number.problems.join("; "),
                "a Twilio number is not wired to this server (POST /api/admin/phone-numbers/sync rewires business numbers)"
            );
        }
        for missing in &audit.missing {
            tracing::warn!(
                customer.id = missing.customer_id,
                "a business's number is not on the Twilio account: its calls never reach DeskRinger"
            );
        }
        let wired = audit.numbers.iter().filter(|number| number.wired).count();
        tracing::info!(numbers = audit.numbers.len(), wired, missing = audit.missing.len(), "Twilio numbers audited");
    }

    /// The business, if it is in service (a business whose calls are not answered has no
    /// use for a number, and one bought for it is paid for until released).
    async fn business_in_service(&self, customer_id: i64) -> Result<Customer, NumberError> {
        let customer = customers::find(self.db, customer_id).await?.ok_or(NumberError::NoSuchBusiness)?;
        match customer.out_of_service_reason(Utc::now(), self.past_due_grace) {
            Some(reason) => Err(NumberError::NotInService(reason)),
            None => Ok(customer),
        }
    }

    /// Wires `number` (already on the account) to this server when it is not, then assigns
    /// it; `purchased` when it was bought for the business (counted against the limit).
    async fn adopt(
        &self,
        customer: &Customer,
        number: &IncomingNumber,
        purchased: bool,
    ) -> Result<Customer, NumberError> {
        let wired = if is_wired(number, &self.wiring()) {
            number.clone()
        } else {
            self.twilio.wire_number(&number.sid, &self.wiring(), &friendly_name(customer)).await?
        };
        self.assign(customer.id, &wired, purchased).await
    }

    /// Stores `number` as the business's, and ends its purchase record; a `purchased` number
    /// is recorded in `numbers_bought` whether or not it could be stored (it was paid for).
    async fn assign(
        &self,
        customer_id: i64,
        number: &IncomingNumber,
        purchased: bool,
    ) -> Result<Customer, NumberError> {
        let mut tx = self.db.begin().await?;
        if purchased {
            sqlx::query!(
                "INSERT INTO numbers_bought (customer_id, phone_number) VALUES ($1, $2)",
                customer_id,
                number.phone_number
            )
            .execute(&mut *tx)
            .await?;
        }
        let stored = sqlx::query!(
            "UPDATE customers SET deskringer_number = $2, twilio_number_sid = $3, updated_at = now() \
             WHERE id = $1 AND (deskringer_number IS NULL OR deskringer_number = $2)",
            customer_id,
            number.phone_number,
            number.sid
        )
        .execute(&mut *tx)
        .await;
        let stored = match stored {
            Err(sqlx::Error::Database(db))
                if db.is_unique_violation() && db.constraint() == Some(NUMBER_UNIQUE_CONSTRAINT) =>
            {
                return Err(NumberError::Taken(number.phone_number.clone()));
            }
            other => other?.rows_affected() == 1,
        };
        sqlx::query!("DELETE FROM number_purchases WHERE customer_id = $1", customer_id).execute(&mut *tx).await?;
        let customer = customers::find(&mut *tx, customer_id).await?.ok_or(NumberError::NoSuchBusiness)?;
        tx.commit().await?;
        if !stored {
            // An admin gave the business another number meanwhile; the bought one shows as
            // unassigned in the audit.
            return Err(NumberError::AlreadyHasNumber(customer.deskringer_number.unwrap_or_default()));
        }
        Ok(customer)
    }

    async fn forget_purchase(&self, customer_id: i64, phone_number: &str) -> Result<(), NumberError> {
        sqlx::query!(
            "DELETE FROM number_purchases WHERE customer_id = $1 AND phone_number = $2",
            customer_id,
            phone_number
        )
        .execute(self.db)
        .await?;
        Ok(())
    }
}

/// Refuses a purchase when [`PURCHASES_PER_WINDOW`] numbers were bought for the business
/// within [`PURCHASE_WINDOW`], saying when the oldest of them leaves the window.
async fn check_purchase_limit(db: impl sqlx::PgExecutor<'_>, customer_id: i64) -> Result<(), NumberError> {
    let recent: Vec<DateTime<Utc>> = sqlx::query_scalar!(
        "SELECT bought_at FROM numbers_bought \
         WHERE customer_id = $1 AND bought_at > now() - make_interval(secs => $2) ORDER BY bought_at DESC",
        customer_id,
        PURCHASE_WINDOW.num_seconds() as f64
    )
    .fetch_all(db)
    .await?;
    if recent.len() < PURCHASES_PER_WINDOW {
        return Ok(());
    }
    Err(NumberError::PurchaseLimit { until: recent[PURCHASES_PER_WINDOW - 1] + PURCHASE_WINDOW })
}

/// The label a business's number carries in Twilio's console.
fn friendly_name(customer: &Customer) -> String {
    label(customer.id, &customer.business_name)
}

fn label(customer_id: i64, business_name: &str) -> String {
    let suffix = format!(" (#{customer_id})");
    let name: String = business_name.chars().take(FRIENDLY_NAME_LEN - suffix.chars().count() - 12).collect();
    format!("DeskRinger: {name}{suffix}")
}

fn no_match_message(search: &NumberSearch) -> String {
    let mut wanted = vec![format!("no {} numbers are available", search.country)];
    if let Some(area_code) = &search.area_code {
        wanted.push(format!("in area code {area_code}"));
    }
    if let Some(contains) = &search.contains {
        wanted.push(format!("containing {contains}"));
    }
    format!("{}; try another search", wanted.join(" "))
}

fn is_wired(number: &IncomingNumber, wiring: &Wiring) -> bool {
    problems(number, wiring).is_empty()
}

/// What is wrong with `number`'s wiring, in words.
fn problems(number: &IncomingNumber, wiring: &Wiring) -> Vec<String> {
    let shown = |value: &Option<String>| value.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| "nothing".into());
    let mut problems = Vec::new();
    if number.voice_url.as_deref() != Some(wiring.voice_url.as_str()) {
        problems.push(format!("voice URL is {}, not {}", shown(&number.voice_url), wiring.voice_url));
    }
    if !is_post(&number.voice_method) {
        problems.push(format!("voice method is {}, not POST", shown(&number.voice_method)));
    }
    if number.status_callback.as_deref() != Some(wiring.status_callback.as_str()) {
        problems.push(format!("status callback is {}, not {}", shown(&number.status_callback), wiring.status_callback));
    }
    if !is_post(&number.status_callback_method) {
        problems.push(format!("status callback method is {}, not POST", shown(&number.status_callback_method)));
    }
    if number.sms_url.as_deref() != Some(wiring.sms_url.as_str()) {
        problems.push(format!("SMS URL is {}, not {}", shown(&number.sms_url), wiring.sms_url));
    }
    if !is_post(&number.sms_method) {
        problems.push(format!("SMS method is {}, not POST", shown(&number.sms_method)));
    }
    problems
}

/// Twilio spells methods in capitals; accept any case.
fn is_post(method: &Option<String>) -> bool {
    method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("POST"))
}

fn audit_number(number: &IncomingNumber, business: Option<&Assigned>, wiring: &Wiring) -> AuditedNumber {
    let problems = problems(number, wiring);
    AuditedNumber {
        phone_number: number.phone_number.clone(),
        sid: number.sid.clone(),
        customer_id: business.map(|b| b.id),
        business_name: business.map(|b| b.business_name.clone()),
        voice_url_ok: number.voice_url.as_deref() == Some(wiring.voice_url.as_str()),
        voice_method_ok: is_post(&number.voice_method),
        status_callback_ok: number.status_callback.as_deref() == Some(wiring.status_callback.as_str())
            && is_post(&number.status_callback_method),
        sms_url_ok: number.sms_url.as_deref() == Some(wiring.sms_url.as_str()) && is_post(&number.sms_method),
        wired: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> Wiring {
        Wiring {
            voice_url: "https://api.test/api/webhooks/twilio/voice".into(),
            status_callback: "https://api.test/api/webhooks/twilio/status".into(),
            sms_url: "https://api.test/api/webhooks/twilio/sms".into(),
        }
    }

    fn number(voice_url: &str, voice_method: &str, status_callback: Option<&str>) -> IncomingNumber {
        IncomingNumber {
            sid: "PN1".into(),
            phone_number: "+14155550100".into(),
            friendly_name: None,
            voice_url: Some(voice_url.into()),
            voice_method: Some(voice_method.into()),
            status_callback: status_callback.map(str::to_owned),
            status_callback_method: Some("POST".into()),
            sms_url: Some(wiring().sms_url),
            sms_method: Some("POST".into()),
        }
    }

    #[test]
    fn each_kind_of_miswiring_is_named() {
        let right = number(&wiring().voice_url, "POST", Some(&wiring().status_callback));
        assert!(problems(&right, &wiring()).is_empty());
        let elsewhere = number("https://demo.twilio.com/welcome/voice/", "POST", Some(&wiring().status_callback));
        assert_eq!(
            problems(&elsewhere, &wiring()),
            ["voice URL is https://demo.twilio.com/welcome/voice/, not https://api.test/api/webhooks/twilio/voice"]
        );
        let by_get = number(&wiring().voice_url, "GET", None);
        assert_eq!(
            problems(&by_get, &wiring()),
            [
                "voice method is GET, not POST",
                "status callback is nothing, not https://api.test/api/webhooks/twilio/status"
            ]
        );
        let no_texts = IncomingNumber { sms_url: Some(String::new()), sms_method: None, ..right.clone() };
        assert_eq!(
            problems(&no_texts, &wiring()),
            ["SMS URL is nothing, not https://api.test/api/webhooks/twilio/sms", "SMS method is nothing, not POST"]
        );
        let texts_elsewhere =
            IncomingNumber { sms_url: Some("https://demo.twilio.com/welcome/sms/reply".into()), ..right };
        assert_eq!(
            problems(&texts_elsewhere, &wiring()),
            ["SMS URL is https://demo.twilio.com/welcome/sms/reply, not https://api.test/api/webhooks/twilio/sms"]
        );
    }

    #[test]
    fn labels_fit_twilio_and_say_whose_number_it_is() {
        assert_eq!(label(7, "Bella Hair"), "DeskRinger: Bella Hair (#7)");
        assert!(label(123_456, &"x".repeat(200)).chars().count() <= FRIENDLY_NAME_LEN);
    }

    #[test]
    fn a_fruitless_search_says_what_was_looked_for() {
        let search = NumberSearch { country: "US".into(), area_code: Some("212".into()), contains: Some("555".into()) };
        assert_eq!(
            no_match_message(&search),
            "no US numbers are available in area code 212 containing 555; try another search"
        );
    }
}
