-- The language an account is written to in (the storefront's: English or Japanese).
ALTER TABLE user_service.users ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ja'));

-- E-mail to send, and sent: one row per message, rendered when it is queued (so every attempt sends the same
-- message), at most one per event and kind (so an event handed over twice queues one message). The sender
-- takes due rows with FOR UPDATE SKIP LOCKED, so replicas share the work.
CREATE TABLE user_service.mails (
    id              uuid        PRIMARY KEY,
    -- What caused it: the event (order.v1.confirmed, ...) or the change (a sign-up, a reset asked for).
    event_id        uuid        NOT NULL,
    kind            text        NOT NULL CHECK (kind ~ '^[a-z_]+$'),
    user_id         uuid,
    to_address      text        NOT NULL CHECK (char_length(to_address) BETWEEN 3 AND 320),
    subject         text        NOT NULL,
    text_body       text        NOT NULL,
    html_body       text        NOT NULL,
    -- pending: to send (again at next_attempt_at); sent; failed: refused by the server for good, or given up.
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CONSTRAINT mails_once UNIQUE (event_id, kind),
    CONSTRAINT mails_due CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX mails_due_idx ON user_service.mails (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
