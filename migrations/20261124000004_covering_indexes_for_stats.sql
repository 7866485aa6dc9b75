-- The call statistics aggregate every call of a period (optionally of one business). These
-- indexes carry every column the aggregates read, so PostgreSQL answers from the index
-- alone instead of visiting each row.
CREATE INDEX calls_stats_period_idx ON calls (created_at)
    INCLUDE (customer_id, status, duration_seconds, callback_requested, twilio_cost, openai_cost);
CREATE INDEX calls_stats_customer_period_idx ON calls (customer_id, created_at)
    INCLUDE (status, duration_seconds, callback_requested, twilio_cost, openai_cost);
