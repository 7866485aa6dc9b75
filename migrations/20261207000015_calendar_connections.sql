-- Connected calendars (issue 19): one Google Calendar or Cal.com account per business.
-- Secrets are sealed by the server (AES-256-GCM under CALENDAR_TOKEN_KEY, see src/secrets.rs)
-- before they are stored: `secret` is key id || nonce || ciphertext || tag. Access tokens are
-- short-lived and are never stored: each use asks Google for one with the refresh token.
CREATE TABLE calendar_connections (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('google', 'calcom')),
    status TEXT NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'needs_reconnect', 'error')),
    -- Google: the refresh token; Cal.com: the API key. Sealed, never plaintext.
    secret BYTEA NOT NULL,
    -- Where the receptionist writes bookings (Google).
    write_calendar_id TEXT,
    -- The calendars whose busy times block bookings (Google).
    busy_calendar_ids JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(busy_calendar_ids) = 'array'),
    -- The Cal.com event types offered to callers.
    calcom_event_types JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(calcom_event_types) = 'array'),
    last_error TEXT,
    last_error_at TIMESTAMPTZ,
    reconnect_emailed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The nonces of OAuth `state` values already used: a callback replayed is refused. A state
-- expires 10 minutes after it is made, so rows older than that can be deleted.
CREATE TABLE oauth_states (
    nonce TEXT PRIMARY KEY,
    used_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_used_at ON oauth_states (used_at);
