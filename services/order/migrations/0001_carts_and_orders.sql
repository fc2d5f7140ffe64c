-- The order service: carts, orders, the checkout saga's state and log, and checkout idempotency keys.
-- Invariants live here, not only in code.

-- One cart per account, created with its first line; a line per SKU.
CREATE TABLE order_service.carts (
    user_id    uuid        PRIMARY KEY,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_service.cart_items (
    user_id       uuid        NOT NULL REFERENCES order_service.carts (user_id) ON DELETE CASCADE,
    sku_id        uuid        NOT NULL,
    quantity      bigint      NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    -- The SKU's currency when the line was added: a cart holds one currency.
    currency_code text        NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sku_id)
);

CREATE TABLE order_service.orders (
    id               uuid        PRIMARY KEY,
    user_id          uuid        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'confirmed', 'failed', 'cancelled', 'shipped')),
    payment_status   text        NOT NULL DEFAULT 'pending'
                                 CHECK (payment_status IN ('pending', 'authorized', 'declined', 'voided', 'captured',
                                                           'refunded')),
    currency_code    text        NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    subtotal         bigint      NOT NULL CHECK (subtotal >= 0),
    shipping_fee     bigint      NOT NULL CHECK (shipping_fee >= 0),
    total            bigint      NOT NULL,
    shipping_address jsonb       NOT NULL CHECK (jsonb_typeof(shipping_address) = 'object'),
    -- The saga: the step to run next ('done' when there is none), what the steps so far left behind, and
    -- when to try again after a failure. A driver holds the order until lease_until, so the request that
    -- placed it and the recovery worker do not both run it.
    step             text        NOT NULL DEFAULT 'reserve'
                                 CHECK (step IN ('reserve', 'authorize', 'confirm', 'release', 'restock', 'void',
                                                 'done')),
    reservation_id   uuid,
    authorization_id text,
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    -- Why the order failed or was cancelled: a code, a colon, and words for people
    -- ("insufficient_stock: ...", "payment_declined: ...").
    failure_reason   text        NOT NULL DEFAULT '' CHECK (char_length(failure_reason) <= 1000),
    tracking_number  text        CHECK (char_length(tracking_number) BETWEEN 1 AND 100),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at     timestamptz,
    shipped_at       timestamptz,
    CONSTRAINT orders_total CHECK (total = subtotal + shipping_fee),
    -- A finished saga has left the order in a final state of its own kind, and a running one in pending (or
    -- cancelled, while a cancellation gives stock and money back).
    CONSTRAINT orders_step CHECK (
        (status = 'pending' AND step IN ('reserve', 'authorize', 'confirm', 'release', 'void'))
        OR (status IN ('confirmed', 'failed', 'shipped') AND step = 'done')
        OR (status = 'cancelled' AND step IN ('restock', 'void', 'done'))),
    CONSTRAINT orders_shipped CHECK ((status = 'shipped') = (tracking_number IS NOT NULL AND shipped_at IS NOT NULL))
);
-- A customer's orders, newest first (ids are UUID v7).
CREATE INDEX orders_by_user ON order_service.orders (user_id, id DESC);
-- The back office's status filter.
CREATE INDEX orders_by_status ON order_service.orders (status, id DESC);
-- What the recovery worker scans: sagas not finished.
CREATE INDEX orders_running ON order_service.orders (next_attempt_at) WHERE step <> 'done';

-- The lines, priced from the catalog when the order was placed.
CREATE TABLE order_service.order_items (
    order_id     uuid   NOT NULL REFERENCES order_service.orders (id),
    sku_id       uuid   NOT NULL,
    product_id   uuid   NOT NULL,
    product_name text   NOT NULL,
    sku_code     text   NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    unit_price   bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, sku_id)
);

-- The payment token, only while the saga may still need it to authorise; deleted when the saga ends.
CREATE TABLE order_service.payment_tokens (
    order_id uuid PRIMARY KEY REFERENCES order_service.orders (id),
    token    text NOT NULL CHECK (char_length(token) BETWEEN 1 AND 256)
);

-- CreateOrder's idempotency keys, per account, committed in the transaction that creates the order.
CREATE TABLE order_service.checkout_keys (
    user_id      uuid        NOT NULL,
    key          text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 128),
    -- SHA-256 of the request, so the same key with another request is told apart.
    request_hash bytea       NOT NULL,
    order_id     uuid        NOT NULL REFERENCES order_service.orders (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX checkout_keys_by_age ON order_service.checkout_keys (created_at);

-- The saga's log: every step's outcome, written in the transaction of the state change it caused.
CREATE TABLE order_service.order_events (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid        NOT NULL REFERENCES order_service.orders (id),
    step     text        NOT NULL,
    outcome  text        NOT NULL,
    detail   text        NOT NULL DEFAULT '',
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_by_order ON order_service.order_events (order_id, id);
