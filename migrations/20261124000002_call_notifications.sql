-- Notifications sent about a call: one email and one SMS at most, so a retried job can
-- see that its message already went out.
CREATE TABLE call_notifications (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    channel     TEXT        NOT NULL,
    recipient   TEXT        NOT NULL,
    provider_id TEXT,
    sent_at     TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT call_notifications_channel_check CHECK (channel IN ('email', 'sms')),
    CONSTRAINT call_notifications_call_channel_key UNIQUE (call_id, channel)
);

