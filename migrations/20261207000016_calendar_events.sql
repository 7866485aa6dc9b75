-- Connected calendars (issue 19): each appointment's event in the business's Google
-- Calendar, and which version of the appointment (its `sequence`) the calendar shows. An
-- appointment whose synced sequence lags is a write still pending (retried by its job).
ALTER TABLE appointments
    ADD COLUMN google_event_id TEXT,
    ADD COLUMN calendar_synced_sequence INTEGER;
