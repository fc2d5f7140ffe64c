-- Accounts. Emails are unique case-insensitively among live accounts only, so an address can register again
-- after its account was deleted (soft delete keeps the row for order history and audits).
CREATE TABLE user_service.users (
    id               uuid PRIMARY KEY,
    email            text        NOT NULL,
    email_normalized text        NOT NULL,
    password_hash    text        NOT NULL,
    name             text,
    roles            text[]      NOT NULL DEFAULT ARRAY['customer'],
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['customer', 'admin'] AND 'customer' = ANY (roles)),
    CONSTRAINT users_email_normalized CHECK (email_normalized = lower(email_normalized))
);

CREATE UNIQUE INDEX users_live_email_key ON user_service.users (email_normalized) WHERE deleted_at IS NULL;
