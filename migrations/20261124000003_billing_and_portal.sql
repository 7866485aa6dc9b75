-- Billing: which Stripe event last set a business's status (so an older event delivered
-- late never overwrites a newer status), since when a payment is overdue, and every
-- Stripe event processed (so a redelivery changes nothing).
ALTER TABLE customers
    ADD COLUMN subscription_status_at TIMESTAMPTZ,
    ADD COLUMN past_due_since         TIMESTAMPTZ;

CREATE UNIQUE INDEX customers_stripe_subscription_id_key ON customers (stripe_subscription_id);
-- The trial-expiry job looks for trials that have ended.
CREATE INDEX customers_trial_ends_at_idx ON customers (trial_ends_at) WHERE subscription_status = 'trial';

CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT        NOT NULL,
    created     TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The portal lists a business's calls that are not archived, newest first, by handled state.
CREATE INDEX calls_portal_idx ON calls (customer_id, handled, created_at DESC, id DESC) WHERE NOT archived;
