-- Password resets asked for: the SHA-256 of the token the link carries (never the token), good for one use
-- before expires_at. Asking again ends the earlier ones.
CREATE TABLE user_service.password_resets (
    id         uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES user_service.users (id),
    token_hash bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_by_user ON user_service.password_resets (user_id) WHERE used_at IS NULL;
