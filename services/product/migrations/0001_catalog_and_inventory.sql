-- The product service's schema: the catalog (categories, products, SKUs, images), stock per SKU with every
-- movement of it, and the reservations the order saga makes. Invariants live here, not only in code.

CREATE TABLE product_service.categories (
    id         uuid        PRIMARY KEY,
    -- RESTRICT: a category with children cannot be deleted.
    parent_id  uuid        REFERENCES product_service.categories (id),
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    slug       text        NOT NULL CHECK (char_length(slug) <= 100 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_not_own_parent CHECK (parent_id <> id)
);
-- Slugs are unique among siblings; the roots are siblings of one another.
CREATE UNIQUE INDEX categories_sibling_slug ON product_service.categories (parent_id, slug) NULLS NOT DISTINCT;

CREATE TABLE product_service.products (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description   text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    -- A category is deleted only when no live product is in it; soft-deleted ones let go of it.
    category_id   uuid        REFERENCES product_service.categories (id) ON DELETE SET NULL,
    status        text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'hidden')),
    -- The lowest and highest live SKU price, and their currency (one per product), kept in the transaction
    -- that changes a SKU, so price filters use an index.
    min_price     bigint      CHECK (min_price >= 0),
    max_price     bigint,
    currency_code text        CHECK (currency_code ~ '^[A-Z]{3}$'),
    search        tsvector    GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
                  ) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CONSTRAINT products_price_range CHECK (
        (min_price IS NULL AND max_price IS NULL AND currency_code IS NULL)
        OR (min_price IS NOT NULL AND max_price >= min_price AND currency_code IS NOT NULL)
    )
);
-- Ids are UUID v7, so id order is creation order: listings page by (id) within a status, a category or a
-- price.
CREATE INDEX products_by_status ON product_service.products (status, id) WHERE deleted_at IS NULL;
CREATE INDEX products_by_category ON product_service.products (category_id, id) WHERE deleted_at IS NULL;
CREATE INDEX products_by_price ON product_service.products (min_price, id) WHERE deleted_at IS NULL;
CREATE INDEX products_search ON product_service.products USING gin (search) WHERE deleted_at IS NULL;

CREATE TABLE product_service.product_images (
    id         uuid        PRIMARY KEY,
    product_id uuid        NOT NULL REFERENCES product_service.products (id),
    url        text        NOT NULL CHECK (char_length(url) <= 2048 AND url LIKE 'https://%'),
    alt_text   text        NOT NULL DEFAULT '' CHECK (char_length(alt_text) <= 500),
    position   integer     NOT NULL CHECK (position >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, position)
);

CREATE TABLE product_service.skus (
    id            uuid        PRIMARY KEY,
    product_id    uuid        NOT NULL REFERENCES product_service.products (id),
    code          text        NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    price_amount  bigint      NOT NULL CHECK (price_amount >= 0),
    currency_code text        NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    attributes    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
-- A code names one live SKU in the whole catalog, whatever its case.
CREATE UNIQUE INDEX skus_live_code ON product_service.skus (upper(code)) WHERE deleted_at IS NULL;
CREATE INDEX skus_by_product ON product_service.skus (product_id) WHERE deleted_at IS NULL;

-- Stock of one SKU. available = quantity - reserved, never negative: the CHECK holds under any concurrency.
CREATE TABLE product_service.inventory (
    sku_id     uuid        PRIMARY KEY REFERENCES product_service.skus (id),
    quantity   bigint      NOT NULL,
    reserved   bigint      NOT NULL DEFAULT 0,
    version    bigint      NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inventory_stock CHECK (0 <= reserved AND reserved <= quantity)
);

CREATE TABLE product_service.reservations (
    id         uuid        PRIMARY KEY,
    status     text        NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'confirmed', 'released', 'expired')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- What the expiry worker scans.
CREATE INDEX reservations_pending_by_expiry ON product_service.reservations (expires_at) WHERE status = 'pending';

CREATE TABLE product_service.reservation_items (
    reservation_id uuid   NOT NULL REFERENCES product_service.reservations (id),
    sku_id         uuid   NOT NULL REFERENCES product_service.inventory (sku_id),
    quantity       bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, sku_id)
);
CREATE INDEX reservation_items_by_sku ON product_service.reservation_items (sku_id);

-- Every change of stock, by anyone, written in the transaction that makes it: quantity is the sum of
-- quantity_delta and reserved the sum of reserved_delta, for every SKU, always.
CREATE TABLE product_service.stock_movements (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku_id         uuid        NOT NULL REFERENCES product_service.inventory (sku_id),
    quantity_delta bigint      NOT NULL,
    reserved_delta bigint      NOT NULL,
    kind           text        NOT NULL
                               CHECK (kind IN ('initial', 'update', 'adjust', 'reserve', 'confirm', 'release', 'expire')),
    -- Who: an account id, or the service itself ("expiry", "internal").
    actor          text        NOT NULL,
    -- Why, as the admin wrote it (AdjustInventory).
    note           text        NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    reservation_id uuid        REFERENCES product_service.reservations (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stock_movements_not_empty CHECK (quantity_delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX stock_movements_by_sku ON product_service.stock_movements (sku_id, id);

-- Idempotency keys of the reservation RPCs, per caller and operation, committed in the transaction of the
-- change they record.
CREATE TABLE product_service.idempotency_keys (
    scope          text        NOT NULL,
    operation      text        NOT NULL CHECK (operation IN ('reserve', 'confirm', 'release')),
    key            text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 256),
    -- SHA-256 of the request, so the same key with another request is told apart.
    request_hash   bytea       NOT NULL,
    reservation_id uuid        NOT NULL REFERENCES product_service.reservations (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, operation, key)
);
CREATE INDEX idempotency_keys_by_age ON product_service.idempotency_keys (created_at);
