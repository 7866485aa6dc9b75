-- Texts about appointments (issue 18): the caller's confirmation, move, cancellation and
-- reminder texts and the owner's notices go through the job queue; the records below make
-- each go once, keep texts from numbers that opted out, and make a redelivered inbound
-- text change nothing.

-- What was sent about an appointment, once each: `kind` is the change told of (or the
-- reminder) and `sequence` the appointment's sequence when it changed, so a second move is
-- a new notice while a retried job finds its own record and sends nothing.
CREATE TABLE appointment_notices (
    appointment_id BIGINT      NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    recipient      TEXT        NOT NULL,
    channel        TEXT        NOT NULL,
    kind           TEXT        NOT NULL,
    sequence       INTEGER     NOT NULL,
    -- Twilio's message SID; NULL for an email, or a text only logged (Twilio not configured).
    provider_id    TEXT,
    sent_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT appointment_notices_pkey PRIMARY KEY (appointment_id, recipient, channel, kind, sequence),
    CONSTRAINT appointment_notices_recipient_check CHECK (recipient IN ('caller', 'owner')),
    CONSTRAINT appointment_notices_channel_check CHECK (channel IN ('sms', 'email')),
    CONSTRAINT appointment_notices_kind_check CHECK (kind IN ('booked', 'moved', 'cancelled', 'reminder'))
);

-- Numbers that texted a carrier opt-out word (STOP, ...) to a business's number: nothing
-- more is texted to them from that business until they text START (or UNSTOP, YES).
CREATE TABLE sms_opt_outs (
    customer_id BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    phone       TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT sms_opt_outs_pkey PRIMARY KEY (customer_id, phone)
);

-- Inbound texts already handled, by Twilio's MessageSid: a redelivery finds its row and
-- answers what the first delivery answered, without acting again.
CREATE TABLE inbound_texts (
    message_sid TEXT        PRIMARY KEY,
    customer_id BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- The TwiML message sent back; NULL when the answer was empty.
    reply       TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
