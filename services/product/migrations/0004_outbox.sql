-- The product service's outbox: its domain events (product.v1.ProductEvent), each written in the transaction of the
-- change it describes and deleted once the relay has handed it to the events bus, so the table holds only
-- the backlog (crates/platform/src/events/outbox.rs describes the columns; every service's outbox has them).
CREATE TABLE product_service.outbox (
    id              uuid        PRIMARY KEY,
    subject         text        NOT NULL CHECK (subject ~ '^[a-z0-9-]+(\.[a-z0-9_-]+)+$'),
    payload         text        NOT NULL,
    traceparent     text,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
