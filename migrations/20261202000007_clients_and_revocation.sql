-- 1. Holiday hours are free text, as the business typed it in the portal ("Closed on
--    Christmas Day"), and are pasted into the receptionist's instructions as written. Dates
--    stored in the earlier structured form become one readable line each.
ALTER TABLE customers DROP CONSTRAINT customers_holiday_hours_is_object;

ALTER TABLE customers ADD COLUMN holiday_hours_text TEXT;
UPDATE customers SET holiday_hours_text = (
    SELECT string_agg(
        day.key || ': ' ||
        CASE WHEN coalesce((day.value ->> 'closed')::boolean, false)
             THEN 'closed'
             ELSE coalesce(day.value ->> 'open', '?') || '-' || coalesce(day.value ->> 'close', '?') END ||
        CASE WHEN nullif(day.value ->> 'note', '') IS NULL THEN '' ELSE ' (' || (day.value ->> 'note') || ')' END,
        E'\n' ORDER BY day.key)
    FROM json_each(holiday_hours) AS day
)
WHERE holiday_hours IS NOT NULL AND json_typeof(holiday_hours) = 'object';
ALTER TABLE customers DROP COLUMN holiday_hours;
ALTER TABLE customers RENAME COLUMN holiday_hours_text TO holiday_hours;

-- 2. Access tokens carry the generation of their account; a password change, or a business
--    being cancelled, starts a new generation, so every token issued before it is refused.
--    Kept by triggers so that no code path that changes a password or cancels can forget it.
ALTER TABLE admins ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION next_token_generation_on_password_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.password_hash IS NOT NULL AND NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        NEW.token_generation := OLD.token_generation + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER admins_token_generation BEFORE UPDATE OF password_hash ON admins
    FOR EACH ROW EXECUTE FUNCTION next_token_generation_on_password_change();

CREATE FUNCTION next_customer_token_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A first password (portal access given) is no change: no token can predate it.
    IF (OLD.password_hash IS NOT NULL AND NEW.password_hash IS DISTINCT FROM OLD.password_hash)
       OR (NEW.subscription_status IN ('cancelled', 'canceled')
           AND OLD.subscription_status NOT IN ('cancelled', 'canceled')) THEN
        NEW.token_generation := OLD.token_generation + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER customers_token_generation BEFORE UPDATE OF password_hash, subscription_status ON customers
    FOR EACH ROW EXECUTE FUNCTION next_customer_token_generation();

-- 3. The welcome email goes through the job queue; this records that it was sent, so a
--    retried job never sends it twice.
ALTER TABLE customers ADD COLUMN welcome_email_sent_at TIMESTAMPTZ;

-- 4. Twilio retries a `gather` request with the same `I-Twilio-Idempotency-Token`: the first
--    request claims the token, and its TwiML answer is kept so a retry gets the same answer
--    without a second model call or a second stored line. Rows go with their call.
CREATE TABLE gather_replies (
    idempotency_token TEXT PRIMARY KEY,
    call_id           BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    twiml             TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX gather_replies_call_id ON gather_replies (call_id);
