-- Webhook endpoints the shop's admins registered. The secret signs deliveries (HMAC-SHA256), so it is kept as
-- it is, not hashed; after a rotation the previous one signs too, until previous_secret_until.
CREATE TABLE user_service.webhook_endpoints (
    id                    uuid        PRIMARY KEY,
    url                   text        NOT NULL CHECK (char_length(url) <= 2000),
    description           text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    -- Empty: every event type.
    event_types           text[]      NOT NULL DEFAULT '{}',
    secret                text        NOT NULL,
    previous_secret       text,
    previous_secret_until timestamptz,
    enabled               boolean     NOT NULL DEFAULT true,
    -- Why the platform disabled it; empty when it did not.
    disabled_reason       text        NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One event sent to one endpoint: the body exactly as signed, and the outcome of the latest attempt.
CREATE TABLE user_service.webhook_deliveries (
    id              uuid        PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES user_service.webhook_endpoints (id) ON DELETE CASCADE,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    payload         text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts in the current round (a redelivery starts a new one).
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A deliverer holds the delivery until then; another may take it after.
    locked_until    timestamptz,
    last_attempt_at timestamptz,
    response_status integer,
    error           text,
    latency_ms      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON user_service.webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON user_service.webhook_deliveries (endpoint_id, id DESC);
