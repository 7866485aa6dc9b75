//! Keeping unwanted callers off the line: numbers the business blocked, numbers DeskRinger
//! blocked for every business (known robocallers), and, when the business asks for it,
//! callers whose caller ID failed SHAKEN/STIR verification. A refused call is rejected
//! unanswered (`<Reject reason="busy"/>`): no model is asked, no call row is written (so it
//! is neither billed nor listed), and the attempt is counted in `blocked_calls`. Texts from
//! a blocked number get no answer either (`sms`).

use sqlx::PgExecutor;

use crate::db::customers::Customer;

/// Why a call was refused, as `blocked_calls.reason` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Refusal {
    /// The business blocked the number.
    Blocked,
    /// The number is blocked for every business.
    BlockedEverywhere,
    /// The caller ID failed verification and the business rejects such calls.
    Unverified,
}

/// Whether Twilio's `StirVerstat` says the caller ID failed SHAKEN/STIR verification
/// (`TN-Validation-Failed-A`, `-B` or `-C`). Calls without the parameter (no SHAKEN/STIR
/// data, e.g. from abroad) never count as failed.
pub fn failed_verification(stir_verstat: Option<&str>) -> bool {
    stir_verstat.is_some_and(|verstat| verstat.trim().starts_with("TN-Validation-Failed"))
}

/// Why a call from `from` to `customer` is refused, if it is.
pub async fn refusal(
    db: impl PgExecutor<'_>,
    customer: &Customer,
    from: Option<&str>,
    stir_verstat: Option<&str>,
) -> sqlx::Result<Option<Refusal>> {
    if let Some(from) = from {
        // The business's own entry first: it is the more specific reason.
        let blocked = sqlx::query_scalar!(
            r#"SELECT customer_id IS NOT NULL AS "own!" FROM blocked_numbers
               WHERE number = $1 AND (customer_id = $2 OR customer_id IS NULL)
               ORDER BY customer_id NULLS LAST LIMIT 1"#,
            from,
            customer.id
        )
        .fetch_optional(db)
        .await?;
        match blocked {
            Some(true) => return Ok(Some(Refusal::Blocked)),
            Some(false) => return Ok(Some(Refusal::BlockedEverywhere)),
            None => {}
        }
    }
    if customer.reject_unverified_callers && failed_verification(stir_verstat) {
        return Ok(Some(Refusal::Unverified));
    }
    Ok(None)
}

/// Counts a refused call, once per `CallSid` (Twilio may retry the webhook).
pub async fn record(db: impl PgExecutor<'_>, call_sid: &str, customer_id: i64, refusal: Refusal) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO blocked_calls (twilio_call_sid, customer_id, reason) VALUES ($1, $2, $3) \
         ON CONFLICT (twilio_call_sid) DO NOTHING",
        call_sid,
        customer_id,
        refusal as Refusal
    )
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_verification_counts() {
        for failed in ["TN-Validation-Failed-A", "TN-Validation-Failed-B", "TN-Validation-Failed-C"] {
            assert!(failed_verification(Some(failed)), "{failed}");
        }
        for other in ["TN-Validation-Passed-A", "TN-Validation-Passed-C", "No-TN-Validation", ""] {
            assert!(!failed_verification(Some(other)), "{other}");
        }
        assert!(!failed_verification(None));
    }
}
