-- An account's address book: addresses its holder saved to ship to, checked as an order's shipping address is.
-- At most one per account is the default (the one checkout offers first). Deleting the account deletes them
-- in the same transaction (db::soft_delete_user): personal data with no use left.
CREATE TABLE user_service.addresses (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES user_service.users (id) ON DELETE CASCADE,
    recipient_name text        NOT NULL CHECK (char_length(recipient_name) BETWEEN 1 AND 200),
    line1          text        NOT NULL CHECK (char_length(line1) BETWEEN 1 AND 200),
    line2          text        NOT NULL DEFAULT '' CHECK (char_length(line2) <= 200),
    city           text        NOT NULL CHECK (char_length(city) BETWEEN 1 AND 100),
    region         text        NOT NULL DEFAULT '' CHECK (char_length(region) <= 100),
    postal_code    text        NOT NULL CHECK (char_length(postal_code) BETWEEN 1 AND 20),
    country_code   text        NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    phone          text        NOT NULL DEFAULT '' CHECK (char_length(phone) <= 32),
    is_default     boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX addresses_user ON user_service.addresses (user_id, created_at DESC);
CREATE UNIQUE INDEX addresses_one_default ON user_service.addresses (user_id) WHERE is_default;
