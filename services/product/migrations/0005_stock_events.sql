-- Stock events: product.v1.stock_low and product.v1.sold_out, written to the outbox by the transaction whose
-- change to a SKU's stock crosses the line, whichever statement made it (a reservation, a manual adjustment,
-- a restock...): a trigger, so no path that moves stock can forget them.

-- The shop's LOW_STOCK_THRESHOLD, written by each product service process at start.
CREATE TABLE product_service.stock_settings (
    one                 boolean PRIMARY KEY DEFAULT true CHECK (one),
    low_stock_threshold bigint  NOT NULL CHECK (low_stock_threshold >= 0)
);
INSERT INTO product_service.stock_settings (low_stock_threshold) VALUES (5);

-- A UUID v7 (time-ordered, like the ids the services make), for events written by the database.
CREATE FUNCTION product_service.uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
            PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
            FROM 1 FOR 6), 52, 1), 53, 1),
        'hex')::uuid
$$;

-- Writes the event a fall of a SKU's stock for sale (quantity - reserved) calls for: sold_out when it reaches
-- zero, stock_low when it crosses the threshold (to at or below it, above zero); nothing otherwise. The payload
-- is product.v1.ProductEvent in proto3 JSON (int64 as strings), as the services write theirs.
CREATE FUNCTION product_service.announce_stock() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before    bigint := OLD.quantity - OLD.reserved;
    available bigint := NEW.quantity - NEW.reserved;
    threshold bigint;
    sku       record;
    id        uuid;
    subject   text;
    event     jsonb;
BEGIN
    SELECT low_stock_threshold INTO threshold FROM product_service.stock_settings;
    threshold := coalesce(threshold, 5);
    IF available <= 0 AND before > 0 THEN
        subject := 'product.v1.sold_out';
    ELSIF available > 0 AND available <= threshold AND before > threshold THEN
        subject := 'product.v1.stock_low';
    ELSE
        RETURN NULL;
    END IF;
    SELECT s.code, s.product_id INTO sku FROM product_service.skus s WHERE s.id = NEW.sku_id;
    id := product_service.uuid_v7();
    IF subject = 'product.v1.sold_out' THEN
        event := jsonb_build_object('soldOut',
            jsonb_build_object('skuId', NEW.sku_id, 'productId', sku.product_id, 'skuCode', sku.code));
    ELSE
        event := jsonb_build_object('stockLow',
            jsonb_build_object('skuId', NEW.sku_id, 'productId', sku.product_id, 'skuCode', sku.code,
                               'available', available::text, 'threshold', threshold::text));
    END IF;
    INSERT INTO product_service.outbox (id, subject, payload, occurred_at)
    VALUES (id, subject,
            (jsonb_build_object('eventId', id,
                                'occurredAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
             || event)::text,
            now());
    RETURN NULL;
END
$$;

CREATE TRIGGER inventory_stock_events
    AFTER UPDATE OF quantity, reserved ON product_service.inventory
    FOR EACH ROW
    WHEN (NEW.quantity - NEW.reserved < OLD.quantity - OLD.reserved AND NEW.deleted_at IS NULL)
    EXECUTE FUNCTION product_service.announce_stock();
