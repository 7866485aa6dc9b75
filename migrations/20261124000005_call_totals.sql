-- Running totals of calls, so the dashboards' figures and the calls list's `total` read a
-- few hundred small rows instead of aggregating every call on every request.
--
-- A trigger keeps them exact: every insert, update and delete on `calls` adds its change
-- in the same transaction, whatever code (or person) writes the row. (Creating the trigger
-- locks `calls` against writes until this migration commits, so the totals filled in at
-- the end miss no call.) Each call counts in
-- one of 16 shards (by id), so concurrent calls update different rows instead of queueing
-- on one. Costs are NUMERIC so adding and taking away the same amount leaves no residue.

-- Figures per UTC day (the statistics over a period).
CREATE TABLE call_daily_totals (
    day            DATE     NOT NULL,
    shard          SMALLINT NOT NULL,
    calls          BIGINT   NOT NULL,
    completed      BIGINT   NOT NULL,
    failed         BIGINT   NOT NULL,
    callbacks      BIGINT   NOT NULL,
    duration_sum   BIGINT   NOT NULL,
    duration_count BIGINT   NOT NULL,
    twilio_cost    NUMERIC  NOT NULL,
    openai_cost    NUMERIC  NOT NULL,
    PRIMARY KEY (day, shard)
);

-- Figures per status over all time (list totals, all-time dashboard figures).
CREATE TABLE call_status_totals (
    status         TEXT     NOT NULL,
    shard          SMALLINT NOT NULL,
    calls          BIGINT   NOT NULL,
    duration_sum   BIGINT   NOT NULL,
    duration_count BIGINT   NOT NULL,
    PRIMARY KEY (status, shard)
);

-- Adds one call's figures to the totals, times `sign` (1 to add, -1 to take away).
-- PL/pgSQL rather than SQL: it keeps its statements' plans for the session, where an SQL
-- function called from a trigger would plan them again on every call.
CREATE FUNCTION add_call_to_totals(c calls, sign INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_daily_totals AS t
        (day, shard, calls, completed, failed, callbacks, duration_sum, duration_count, twilio_cost, openai_cost)
    VALUES (
        (c.created_at AT TIME ZONE 'UTC')::date, c.id % 16, sign,
        sign * (c.status = 'completed')::int, sign * (c.status = 'failed')::int, sign * c.callback_requested::int,
        sign * coalesce(c.duration_seconds, 0), sign * (c.duration_seconds IS NOT NULL)::int,
        sign * c.twilio_cost::numeric, sign * c.openai_cost::numeric)
    ON CONFLICT (day, shard) DO UPDATE SET
        calls = t.calls + EXCLUDED.calls,
        completed = t.completed + EXCLUDED.completed,
        failed = t.failed + EXCLUDED.failed,
        callbacks = t.callbacks + EXCLUDED.callbacks,
        duration_sum = t.duration_sum + EXCLUDED.duration_sum,
        duration_count = t.duration_count + EXCLUDED.duration_count,
        twilio_cost = t.twilio_cost + EXCLUDED.twilio_cost,
        openai_cost = t.openai_cost + EXCLUDED.openai_cost;
    INSERT INTO call_status_totals AS t (status, shard, calls, duration_sum, duration_count)
    VALUES (c.status, c.id % 16, sign, sign * coalesce(c.duration_seconds, 0),
            sign * (c.duration_seconds IS NOT NULL)::int)
    ON CONFLICT (status, shard) DO UPDATE SET
        calls = t.calls + EXCLUDED.calls,
        duration_sum = t.duration_sum + EXCLUDED.duration_sum,
        duration_count = t.duration_count + EXCLUDED.duration_count;
END;
$$;

CREATE FUNCTION calls_keep_totals() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM add_call_to_totals(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM add_call_to_totals(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER calls_keep_totals_on_insert_or_delete
    AFTER INSERT OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_keep_totals();

-- Only changes to a counted column touch the totals (not handled, archived, summary...).
CREATE TRIGGER calls_keep_totals_on_update
    AFTER UPDATE ON calls
    FOR EACH ROW
    WHEN ((OLD.id, OLD.created_at, OLD.status, OLD.callback_requested, OLD.duration_seconds, OLD.twilio_cost,
           OLD.openai_cost)
          IS DISTINCT FROM
          (NEW.id, NEW.created_at, NEW.status, NEW.callback_requested, NEW.duration_seconds, NEW.twilio_cost,
           NEW.openai_cost))
    EXECUTE FUNCTION calls_keep_totals();

CREATE FUNCTION calls_clear_totals() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE call_daily_totals, call_status_totals;
    RETURN NULL;
END;
$$;

-- Emptying `calls` at once (an operator's TRUNCATE) empties the totals with it.
CREATE TRIGGER calls_clear_totals_on_truncate
    AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION calls_clear_totals();

-- The calls already there.
INSERT INTO call_daily_totals
    (day, shard, calls, completed, failed, callbacks, duration_sum, duration_count, twilio_cost, openai_cost)
SELECT (created_at AT TIME ZONE 'UTC')::date, id % 16, count(*),
       count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE callback_requested), coalesce(sum(duration_seconds), 0), count(duration_seconds),
       coalesce(sum(twilio_cost::numeric), 0), coalesce(sum(openai_cost::numeric), 0)
FROM calls GROUP BY 1, 2;

INSERT INTO call_status_totals (status, shard, calls, duration_sum, duration_count)
SELECT status, id % 16, count(*), coalesce(sum(duration_seconds), 0), count(duration_seconds)
FROM calls GROUP BY 1, 2;
