-- Numbers and onboarding (issue 12): the server buys, wires and releases Twilio numbers, and
-- a business can ring itself to hear its receptionist.

-- Twilio's SID of the business's number (`PN...`), set when the server bought or attached
-- it; and when the owner was warned that the number of a cancelled business will be released.
ALTER TABLE customers
    ADD COLUMN twilio_number_sid TEXT,
    ADD COLUMN number_release_warned_at TIMESTAMPTZ;

-- A number changed without its SID (an admin typing another number) forgets the old SID, so
-- a stale SID can never release the wrong number; a new number starts with no warning sent.
CREATE FUNCTION customers_forget_old_number() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.twilio_number_sid IS NOT DISTINCT FROM OLD.twilio_number_sid THEN
        NEW.twilio_number_sid := NULL;
    END IF;
    NEW.number_release_warned_at := NULL;
    RETURN NEW;
END;
$$;

CREATE TRIGGER customers_forget_old_number
    BEFORE UPDATE OF deskringer_number ON customers
    FOR EACH ROW
    WHEN (OLD.deskringer_number IS DISTINCT FROM NEW.deskringer_number)
    EXECUTE FUNCTION customers_forget_old_number();

-- A purchase: written before Twilio is asked to buy `phone_number`, removed once the number
-- is stored (or Twilio is known not to have sold it). One per business at a time. While the
-- request that wrote it still runs, another is refused; once it ended without knowing the
-- outcome (`ended_at`, or a crash: `started_at` long past), a retry asks Twilio whether the
-- number was bought (listing the account) instead of buying another.
CREATE TABLE number_purchases (
    customer_id  BIGINT      PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    phone_number TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at     TIMESTAMPTZ
);

-- Test calls an owner asked for from the portal (also the rate limit's record).
CREATE TABLE test_calls (
    id              BIGSERIAL   PRIMARY KEY,
    customer_id     BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    to_number       TEXT        NOT NULL,
    from_number     TEXT        NOT NULL,
    twilio_call_sid TEXT        UNIQUE,
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX test_calls_customer_id_requested_at_idx ON test_calls (customer_id, requested_at);

-- A test call is a real conversation (its lines are kept) that counts in no figure: no list,
-- statistic, export or notification shows it.
ALTER TABLE calls ADD COLUMN is_test BOOLEAN NOT NULL DEFAULT false;

-- The running totals (migration 5) skip test calls.
CREATE OR REPLACE FUNCTION calls_keep_totals() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.is_test THEN
        PERFORM add_call_to_totals(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.is_test THEN
        PERFORM add_call_to_totals(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

-- The statistics' covering indexes (migration 4) and the portal's list index (migration 3)
-- leave test calls out, so the statements that skip them still read the index alone.
DROP INDEX calls_stats_period_idx;
CREATE INDEX calls_stats_period_idx ON calls (created_at)
    INCLUDE (customer_id, status, duration_seconds, callback_requested, twilio_cost, openai_cost)
    WHERE NOT is_test;
DROP INDEX calls_stats_customer_period_idx;
CREATE INDEX calls_stats_customer_period_idx ON calls (customer_id, created_at)
    INCLUDE (status, duration_seconds, callback_requested, twilio_cost, openai_cost)
    WHERE NOT is_test;
DROP INDEX calls_portal_idx;
CREATE INDEX calls_portal_idx ON calls (customer_id, handled, created_at DESC, id DESC) WHERE NOT archived AND NOT is_test;
