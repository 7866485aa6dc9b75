-- Languages a business serves, and keeping unwanted callers off the line (issue 21).

-- BCP-47 codes, the first the main one (the API checks each against the supported table).
-- Whether calls whose caller ID failed SHAKEN/STIR verification are rejected.
ALTER TABLE customers
    ADD COLUMN languages                 TEXT[]  NOT NULL DEFAULT '{en-US}',
    ADD COLUMN reject_unverified_callers BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT customers_languages_check CHECK (cardinality(languages) BETWEEN 1 AND 5);

-- The language a call was held in: the main one, or the one the caller chose (standard
-- mode). NULL when not known (realtime calls, where the model follows the caller).
ALTER TABLE calls ADD COLUMN language TEXT;

-- Numbers whose calls are rejected: one business's list (customer_id set) or, with no
-- customer, every business's (known robocallers, kept by the admins).
CREATE TABLE blocked_numbers (
    id          BIGSERIAL   PRIMARY KEY,
    customer_id BIGINT      REFERENCES customers (id) ON DELETE CASCADE,
    number      TEXT        NOT NULL,
    note        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX blocked_numbers_business_key ON blocked_numbers (customer_id, number) WHERE customer_id IS NOT NULL;
CREATE UNIQUE INDEX blocked_numbers_everywhere_key ON blocked_numbers (number) WHERE customer_id IS NULL;

-- Calls rejected before the receptionist answered: not calls of the business (no row in
-- `calls`, nothing billed), only counted. Once per CallSid: Twilio may retry the webhook.
CREATE TABLE blocked_calls (
    twilio_call_sid TEXT        PRIMARY KEY,
    customer_id     BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    reason          TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT blocked_calls_reason_check CHECK (reason IN ('blocked', 'blocked_everywhere', 'unverified'))
);
CREATE INDEX blocked_calls_customer_created ON blocked_calls (customer_id, created_at);
