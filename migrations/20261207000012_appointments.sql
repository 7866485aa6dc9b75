-- Appointments (issue 18): the receptionist books, moves and cancels appointments, and the
-- database itself makes double booking impossible.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- `book`: the receptionist books into the diary below.
ALTER TABLE customers DROP CONSTRAINT customers_appointment_handling_check;
ALTER TABLE customers ADD CONSTRAINT customers_appointment_handling_check CHECK (appointment_handling IN
    ('collect_details', 'callback', 'transfer', 'booking_link', 'call_back_later', 'book'));

-- The booking rules (services, slot step, notice, horizon, capacity, buffer, texts), as the
-- API shows them; NULL until the business sets them (the defaults apply).
ALTER TABLE customers
    ADD COLUMN booking JSON CONSTRAINT customers_booking_is_object
        CHECK (booking IS NULL OR json_typeof(booking) = 'object'),
    -- The secret in the private calendar feed's URL; rotating it retires the old URL.
    ADD COLUMN calendar_feed_token TEXT CONSTRAINT customers_calendar_feed_token_key UNIQUE;

-- One appointment. `place` is which of the business's `capacity` places (chairs, staff) it
-- holds; `blocks_until` is its end plus the business's buffer when it was booked. Two booked
-- appointments of a business on one place cannot overlap (with their buffers): the
-- exclusion constraint holds across transactions and server instances, so two callers, the
-- owner and an admin taking the last place at once cannot all succeed.
CREATE TABLE appointments (
    id            BIGSERIAL   PRIMARY KEY,
    customer_id   BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    call_id       BIGINT      REFERENCES calls (id) ON DELETE SET NULL,
    service       TEXT        NOT NULL,
    minutes       INTEGER     NOT NULL,
    starts_at     TIMESTAMPTZ NOT NULL,
    ends_at       TIMESTAMPTZ NOT NULL,
    blocks_until  TIMESTAMPTZ NOT NULL,
    place         SMALLINT    NOT NULL,
    caller_name   TEXT        NOT NULL,
    caller_phone  TEXT,
    notes         TEXT,
    status        TEXT        NOT NULL DEFAULT 'booked',
    source        TEXT        NOT NULL,
    -- Raised on every move, for the calendar feed's SEQUENCE.
    sequence      INTEGER     NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at  TIMESTAMPTZ,
    CONSTRAINT appointments_minutes_check CHECK (minutes BETWEEN 1 AND 480),
    CONSTRAINT appointments_times_check CHECK (ends_at > starts_at AND blocks_until >= ends_at),
    CONSTRAINT appointments_place_check CHECK (place BETWEEN 1 AND 50),
    CONSTRAINT appointments_status_check CHECK (status IN ('booked', 'cancelled')),
    CONSTRAINT appointments_source_check CHECK (source IN ('call', 'sms', 'portal', 'admin')),
    CONSTRAINT appointments_cancelled_check CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist
        (customer_id WITH =, place WITH =, tstzrange(starts_at, blocks_until) WITH &&)
        WHERE (status = 'booked')
);

-- The diary of a business by time (availability, the portal's lists, the feed), and a
-- caller's own appointments (find, move, cancel by phone; `C` by text).
CREATE INDEX appointments_customer_starts_idx ON appointments (customer_id, starts_at);
CREATE INDEX appointments_caller_idx ON appointments (customer_id, caller_phone, starts_at)
    WHERE status = 'booked';
CREATE INDEX appointments_call_idx ON appointments (call_id) WHERE call_id IS NOT NULL;

-- Time the business is closed beyond its weekly hours (holidays, days away).
CREATE TABLE time_off (
    id          BIGSERIAL   PRIMARY KEY,
    customer_id BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    note        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT time_off_times_check CHECK (ends_at > starts_at)
);
CREATE INDEX time_off_customer_idx ON time_off (customer_id, ends_at);

-- The times the receptionist offered during a call (`check_availability`), by the short id
-- the model books with ("S1"); kept across the call's turns. The model can only book what it
-- was offered, and a slot booked twice in one call returns the first booking.
CREATE TABLE call_slots (
    call_id        BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    slot_id        TEXT        NOT NULL,
    service        TEXT        NOT NULL,
    starts_at      TIMESTAMPTZ NOT NULL,
    appointment_id BIGINT      REFERENCES appointments (id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, slot_id),
    CONSTRAINT call_slots_offer_key UNIQUE (call_id, service, starts_at)
);

-- What a call did to the diary (booked, moved, cancelled), for the call's detail and summary.
CREATE TABLE call_appointments (
    id             BIGSERIAL   PRIMARY KEY,
    call_id        BIGINT      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    appointment_id BIGINT      NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    action         TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT call_appointments_action_check CHECK (action IN ('booked', 'moved', 'cancelled'))
);
CREATE INDEX call_appointments_call_idx ON call_appointments (call_id);
