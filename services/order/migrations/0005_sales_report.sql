-- The back office's sales report reads the orders placed since a day in the past, with their status, currency
-- and total: this index reaches exactly those, without the rest of the table.
-- Built while the migration holds the table, so new orders wait until it is built. A shop with a large orders
-- table can build it beforehand with CREATE INDEX CONCURRENTLY under this name; this migration then finds it.
CREATE INDEX IF NOT EXISTS orders_by_placement ON order_service.orders (created_at) INCLUDE (status, currency_code, total);
