-- The payment sandbox's ledger: what a payment provider in test mode would hold. Its own schema, as a real
-- provider's books are not the shop's.

CREATE TABLE payment_sandbox.authorizations (
    id              text        PRIMARY KEY,
    -- The order (or whatever the shop names) the money is for.
    reference       text        NOT NULL,
    amount          bigint      NOT NULL CHECK (amount >= 0),
    currency_code   text        NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    card_last4      text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('authorized', 'captured', 'voided', 'refunded')),
    captured_amount bigint      NOT NULL DEFAULT 0 CHECK (captured_amount BETWEEN 0 AND amount),
    refunded_amount bigint      NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND captured_amount),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX authorizations_by_reference ON payment_sandbox.authorizations (reference);

-- Every call by its idempotency key: a repeat gets the first outcome (declines included).
CREATE TABLE payment_sandbox.operations (
    operation        text        NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    key              text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 256),
    request_hash     bytea       NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('approved', 'declined')),
    authorization_id text        REFERENCES payment_sandbox.authorizations (id),
    decline_reason   text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation, key)
);

-- Attempts that failed transiently, per key: the "fails, then works" test card.
CREATE TABLE payment_sandbox.transient_failures (
    key      text    PRIMARY KEY,
    failures integer NOT NULL
);
