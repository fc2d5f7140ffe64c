-- Who placed each order, as their access token named them at checkout: the back office lists orders by name
-- and email, and finds them by the start of the email. Orders placed before this migration have neither.
-- The email's key is what the filter compares: the email lower-cased character by character, by the service
-- (`domain::email_key`), so it is the same whatever the database's locale. The lengths are the service's to
-- bound (`identity::Contact`): no CHECK here, which would read every row under the table's lock.
ALTER TABLE order_service.orders
    ADD COLUMN customer_email     text NOT NULL DEFAULT '',
    ADD COLUMN customer_name      text NOT NULL DEFAULT '',
    ADD COLUMN customer_email_key text NOT NULL DEFAULT '';

-- The email filter: a range of keys in byte order (text_pattern_ops), newest first (the list's keyset order).
-- Built while the migration holds the table: orders placed meanwhile wait until it is built (every existing
-- order's key is empty, so it is quick to build even on a large table).
CREATE INDEX orders_by_customer_email ON order_service.orders (customer_email_key text_pattern_ops, id DESC);
