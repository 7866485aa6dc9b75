//! Call figures for the dashboards and list totals, read from the running totals that a
//! trigger keeps on `calls` (migration 5) instead of aggregating every call per request.
//! Figures for one business read that business's calls directly: the covering index
//! `calls_stats_customer_period_idx` makes that cheap, and a business has few calls.

use sqlx::{FromRow, PgExecutor};

/// Every figure of `GET /api/calls/stats` over one period.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct PeriodFigures {
    pub total_calls: i64,
    pub completed_calls: i64,
    pub failed_calls: i64,
    /// `None` when no call of the period has a duration.
    pub avg_duration_seconds: Option<f64>,
    pub callback_requests: i64,
    pub twilio_cost: f64,
    pub openai_cost: f64,
}

/// Figures of the calls created in the last `days` days (to the second), of one business
/// or of all.
pub async fn period_figures(
    db: impl PgExecutor<'_>,
    days: i32,
    customer_id: Option<i64>,
) -> sqlx::Result<PeriodFigures> {
    match customer_id {
        Some(customer_id) => {
            sqlx::query_as!(
                PeriodFigures,
                "SELECT count(*) AS \"total_calls!\", \
                    count(*) FILTER (WHERE status = 'completed') AS \"completed_calls!\", \
                    count(*) FILTER (WHERE status = 'failed') AS \"failed_calls!\", \
                    avg(duration_seconds)::float8 AS \"avg_duration_seconds?\", \
                    count(*) FILTER (WHERE callback_requested) AS \"callback_requests!\", \
                    coalesce(sum(twilio_cost), 0)::float8 AS \"twilio_cost!\", \
                    coalesce(sum(openai_cost), 0)::float8 AS \"openai_cost!\" \
             FROM calls WHERE customer_id = $2 AND NOT is_test AND created_at >= now() - make_interval(days => $1)",
                days,
                customer_id
            )
            .fetch_one(db)
            .await
        }
        // The whole days after the period's first day come from the daily totals; the part
        // of that first day inside the period comes from the calls themselves.
        None => {
            sqlx::query_as!(
                PeriodFigures,
                "WITH start AS (SELECT now() - make_interval(days => $1) AS since), \
             period AS ( \
                 SELECT since, (since AT TIME ZONE 'UTC')::date + 1 AS next_day, \
                        ((since AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC' AS next_midnight \
                 FROM start), \
             parts AS ( \
                 SELECT t.calls, t.completed, t.failed, t.callbacks, t.duration_sum, t.duration_count, \
                        t.twilio_cost, t.openai_cost \
                 FROM call_daily_totals t, period WHERE t.day >= period.next_day \
                 UNION ALL \
                 SELECT count(*), count(*) FILTER (WHERE c.status = 'completed'), \
                        count(*) FILTER (WHERE c.status = 'failed'), count(*) FILTER (WHERE c.callback_requested), \
                        coalesce(sum(c.duration_seconds), 0), count(c.duration_seconds), \
                        coalesce(sum(c.twilio_cost::numeric), 0), coalesce(sum(c.openai_cost::numeric), 0) \
                 FROM calls c, period WHERE c.created_at >= period.since AND c.created_at < period.next_midnight \
                       AND NOT c.is_test) \
             SELECT coalesce(sum(calls), 0)::int8 AS \"total_calls!\", \
                    coalesce(sum(completed), 0)::int8 AS \"completed_calls!\", \
                    coalesce(sum(failed), 0)::int8 AS \"failed_calls!\", \
                    (sum(duration_sum) / nullif(sum(duration_count), 0))::float8 AS \"avg_duration_seconds?\", \
                    coalesce(sum(callbacks), 0)::int8 AS \"callback_requests!\", \
                    coalesce(sum(twilio_cost), 0)::float8 AS \"twilio_cost!\", \
                    coalesce(sum(openai_cost), 0)::float8 AS \"openai_cost!\" \
             FROM parts",
                days
            )
            .fetch_one(db)
            .await
        }
    }
}
