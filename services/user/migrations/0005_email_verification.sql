-- When the account's current address was shown to reach its holder (the link mailed to it was followed);
-- NULL until then, and again from the moment the address changes.
ALTER TABLE user_service.users ADD COLUMN email_verified_at timestamptz;

-- Verification links sent: the SHA-256 of the token the link carries (never the token), for the address it was
-- sent to, good for one use before expires_at. A newer link, or a change of address, ends the earlier ones.
CREATE TABLE user_service.email_verifications (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES user_service.users (id),
    email      text        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_verifications_by_user ON user_service.email_verifications (user_id) WHERE used_at IS NULL;
