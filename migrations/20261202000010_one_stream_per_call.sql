-- One media stream per call (issue 17): the first `start` for a call claims the call by
-- setting this, in one UPDATE that matches only while it is NULL, so a second `start` with
-- the same token, on this instance or any other, finds it set and is refused. Never
-- cleared: after a fallback the call goes on in the standard (Gather) flow, with no stream.
-- Nullable without a default: adding it rewrites nothing.
ALTER TABLE calls ADD COLUMN stream_started_at TIMESTAMPTZ;
