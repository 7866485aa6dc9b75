-- DeskRinger's first schema: staff (admins), subscribed businesses (customers), the calls
-- their numbers receive and the lines spoken in each call (call_logs).
--
-- Emails are stored lower-cased by the application and are unique case-insensitively
-- through an index on lower(email), so a mixed-case duplicate can never slip in.

CREATE TABLE admins (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT        NOT NULL,
    name          TEXT,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login    TIMESTAMPTZ
);
CREATE UNIQUE INDEX admins_email_key ON admins (lower(email));

CREATE TABLE customers (
    id                        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_name             TEXT        NOT NULL,
    contact_name              TEXT,
    email                     TEXT        NOT NULL,
    phone                     TEXT,
    business_type             TEXT,
    business_hours            JSONB,
    holiday_hours             JSONB,
    timezone                  TEXT        NOT NULL DEFAULT 'America/New_York',
    deskringer_number         TEXT,
    forward_to_number         TEXT,
    greeting_message          TEXT,
    services_offered          TEXT,
    faqs                      JSONB,
    appointment_handling      TEXT        NOT NULL DEFAULT 'collect_details',
    pricing_info              TEXT,
    special_instructions      TEXT,
    ai_instructions           TEXT,
    notification_email        TEXT,
    notification_phone        TEXT,
    notification_instructions TEXT,
    subscription_status       TEXT        NOT NULL DEFAULT 'trial',
    subscription_tier         TEXT        NOT NULL DEFAULT 'basic',
    stripe_customer_id        TEXT,
    stripe_subscription_id    TEXT,
    password_hash             TEXT,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    trial_ends_at             TIMESTAMPTZ,
    cancelled_at              TIMESTAMPTZ,
    last_login                TIMESTAMPTZ,

    CONSTRAINT customers_appointment_handling_check CHECK (appointment_handling IN
        ('collect_details', 'callback', 'transfer', 'booking_link', 'call_back_later')),
    -- DeskRinger's own statuses plus the subscription statuses Stripe reports.
    CONSTRAINT customers_subscription_status_check CHECK (subscription_status IN
        ('trial', 'trial_expired', 'active', 'past_due', 'cancelling', 'cancelled',
         'unpaid', 'incomplete', 'incomplete_expired', 'trialing', 'paused', 'canceled')),
    CONSTRAINT customers_subscription_tier_check CHECK (subscription_tier IN ('basic', 'premium')),
    CONSTRAINT customers_business_hours_is_object CHECK
        (business_hours IS NULL OR jsonb_typeof(business_hours) = 'object'),
    CONSTRAINT customers_holiday_hours_is_object CHECK
        (holiday_hours IS NULL OR jsonb_typeof(holiday_hours) = 'object'),
    CONSTRAINT customers_faqs_is_array CHECK (faqs IS NULL OR jsonb_typeof(faqs) = 'array')
);
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));
CREATE UNIQUE INDEX customers_deskringer_number_key ON customers (deskringer_number);
CREATE UNIQUE INDEX customers_stripe_customer_id_key ON customers (stripe_customer_id);
-- The customer list is newest first, optionally filtered by status.
CREATE INDEX customers_created_at_idx ON customers (created_at DESC, id DESC);
CREATE INDEX customers_status_created_at_idx ON customers (subscription_status, created_at DESC, id DESC);

CREATE TABLE calls (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- A business's calls are its records: deleting the business row removes them, but the
    -- API only ever soft-deletes (cancels) a business, so calls are kept.
    customer_id        BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    caller_phone       TEXT,
    caller_name        TEXT,
    twilio_call_sid    TEXT,
    duration_seconds   INTEGER,
    status             TEXT        NOT NULL DEFAULT 'in_progress',
    direction          TEXT        NOT NULL DEFAULT 'inbound',
    intent             TEXT,
    callback_requested BOOLEAN     NOT NULL DEFAULT false,
    handled            BOOLEAN     NOT NULL DEFAULT false,
    handled_at         TIMESTAMPTZ,
    archived           BOOLEAN     NOT NULL DEFAULT false,
    archived_at        TIMESTAMPTZ,
    -- Estimated costs in US dollars (fractions of a cent), shown on dashboards.
    twilio_cost        DOUBLE PRECISION NOT NULL DEFAULT 0,
    openai_cost        DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at           TIMESTAMPTZ,
    summary            TEXT,
    transcript         TEXT,

    CONSTRAINT calls_status_check CHECK (status IN
        ('queued', 'ringing', 'in_progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled')),
    CONSTRAINT calls_direction_check CHECK (direction IN ('inbound', 'outbound')),
    CONSTRAINT calls_intent_check CHECK
        (intent IS NULL OR intent IN ('appointment', 'question', 'message', 'complaint', 'other')),
    CONSTRAINT calls_duration_check CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
    CONSTRAINT calls_costs_check CHECK (twilio_cost >= 0 AND openai_cost >= 0)
);
CREATE UNIQUE INDEX calls_twilio_call_sid_key ON calls (twilio_call_sid);
-- Lists and stats: newest first overall, per customer, and per status.
CREATE INDEX calls_created_at_idx ON calls (created_at DESC, id DESC);
CREATE INDEX calls_customer_created_at_idx ON calls (customer_id, created_at DESC, id DESC);
CREATE INDEX calls_status_created_at_idx ON calls (status, created_at DESC, id DESC);

CREATE TABLE call_logs (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id   BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    speaker   TEXT        NOT NULL,
    message   TEXT        NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT call_logs_speaker_check CHECK (speaker IN ('caller', 'ai'))
);
CREATE INDEX call_logs_call_id_idx ON call_logs (call_id, timestamp, id);
