-- Who placed each order, as their access token named them at checkout: the back office lists orders by name
-- and email, and finds them by the start of the email. Orders placed before this migration have neither.
ALTER TABLE order_service.orders
    ADD COLUMN customer_email text NOT NULL DEFAULT '' CHECK (char_length(customer_email) <= 254),
    ADD COLUMN customer_name  text NOT NULL DEFAULT '' CHECK (char_length(customer_name) <= 100);

-- The email filter: a prefix of the lower-cased address, newest first (the list's keyset order).
CREATE INDEX orders_by_customer_email ON order_service.orders (lower(customer_email) text_pattern_ops, id DESC);
