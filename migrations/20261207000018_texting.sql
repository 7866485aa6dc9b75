-- Texting (issue 21): text conversations beside calls, texts sent during a call, and the
-- missed-call text-back.

-- A row of `calls` is a phone call (`voice`) or a text conversation (`sms`): a thread keeps
-- its messages as `call_logs` lines, and its costs and list entry as a call's.
ALTER TABLE calls
    ADD COLUMN channel TEXT NOT NULL DEFAULT 'voice'
        CONSTRAINT calls_channel_check CHECK (channel IN ('voice', 'sms'));
-- The lists filtered by channel, newest first.
CREATE INDEX calls_channel_created_at_idx ON calls (channel, created_at DESC, id DESC);

-- The text conversations' own state. One open thread per business and sender: a text finds
-- it (or, when it has been idle for a day, closes it and starts another).
CREATE TABLE sms_threads (
    call_id         BIGINT      PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
    customer_id     BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    sender          TEXT        NOT NULL,
    open            BOOLEAN     NOT NULL DEFAULT true,
    last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The owner hears of a thread when it starts, and then at most once an hour.
    owner_notified_at TIMESTAMPTZ,
    owner_notices   INTEGER     NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX sms_threads_open_key ON sms_threads (customer_id, sender) WHERE open;

-- Which thread an inbound text joined and what became of it, for the hourly limit on
-- answers: `keyword` (issue 18's replies), `answered` (the model's), `limited` (the one line
-- saying someone will reply), `silenced` (over the limit: nothing), `unanswered` (the
-- model is not asked: the business is out of service or OpenAI is off).
ALTER TABLE inbound_texts
    ADD COLUMN sender  TEXT,
    ADD COLUMN call_id BIGINT REFERENCES calls (id) ON DELETE SET NULL,
    ADD COLUMN outcome TEXT NOT NULL DEFAULT 'keyword'
        CONSTRAINT inbound_texts_outcome_check
            CHECK (outcome IN ('keyword', 'answered', 'limited', 'silenced', 'unanswered'));
CREATE INDEX inbound_texts_sender_idx ON inbound_texts (customer_id, sender, received_at)
    WHERE outcome IN ('answered', 'limited');

-- The owner's notices of a thread, once each (`notice` counts them per thread), so a
-- retried job sends nothing twice.
CREATE TABLE sms_thread_notices (
    call_id     BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    notice      INTEGER     NOT NULL,
    channel     TEXT        NOT NULL,
    provider_id TEXT,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT sms_thread_notices_pkey PRIMARY KEY (call_id, notice, channel),
    CONSTRAINT sms_thread_notices_channel_check CHECK (channel IN ('email', 'sms'))
);

-- Texts the receptionist sent the caller during a call (`send_text`): at most two a call.
CREATE TABLE call_texts (
    call_id     BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    n           SMALLINT    NOT NULL,
    body        TEXT        NOT NULL,
    provider_id TEXT,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT call_texts_pkey PRIMARY KEY (call_id, n),
    CONSTRAINT call_texts_n_check CHECK (n BETWEEN 1 AND 2)
);

-- The business's text to a caller whose call ended before they said anything; "" is off.
ALTER TABLE customers
    ADD COLUMN missed_call_text TEXT NOT NULL DEFAULT ''
        CONSTRAINT customers_missed_call_text_check CHECK (char_length(missed_call_text) <= 320);

-- Missed-call texts sent (or being sent), at most one a day per business and number.
CREATE TABLE missed_call_texts (
    call_id     BIGINT      PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
    customer_id BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    phone       TEXT        NOT NULL,
    provider_id TEXT,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX missed_call_texts_phone_idx ON missed_call_texts (customer_id, phone, sent_at);
