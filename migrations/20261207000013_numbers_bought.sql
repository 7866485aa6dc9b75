-- Every number bought at Twilio (issue 17): purchases are limited per business over the last
-- 24 hours, counted here so the limit holds across instances. `number_purchases` holds a
-- purchase only while it runs, so it cannot count them.
CREATE TABLE numbers_bought (
    id           BIGSERIAL   PRIMARY KEY,
    customer_id  BIGINT      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    phone_number TEXT        NOT NULL,
    bought_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX numbers_bought_customer_id_bought_at_idx ON numbers_bought (customer_id, bought_at);
