-- Realtime voice (issue 11): which conversation a business's callers get, and how a call's
-- media stream ended, so `stream-ended` (which any instance may receive) knows what to do.

ALTER TABLE customers
    ADD COLUMN voice_mode TEXT NOT NULL DEFAULT 'standard'
        CONSTRAINT customers_voice_mode_check CHECK (voice_mode IN ('standard', 'realtime'));

-- Set by the instance bridging the call before it closes the stream:
--   transfer: ring the forward number; hangup: end the call; fallback: continue in the
--   standard (Gather) flow. NULL when the stream ended without a decision (the instance
--   died, the socket dropped): treated as fallback, so the caller is never dropped.
ALTER TABLE calls
    ADD COLUMN stream_outcome TEXT
        CONSTRAINT calls_stream_outcome_check CHECK (stream_outcome IN ('transfer', 'hangup', 'fallback'));
