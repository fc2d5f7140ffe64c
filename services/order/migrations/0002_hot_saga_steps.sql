-- A saga's forward steps update the order row three times within a few milliseconds. PostgreSQL can do that
-- in place (a HOT update: no new index entries) when no indexed column changes and the row's page has room.
-- The old recovery index was partial on `step <> 'done'`, so every step changed an indexed column; now the
-- recovery worker finds unfinished sagas by `next_attempt_at`, which is NULL exactly when the saga is done
-- and stays as it is from step to step.
ALTER TABLE order_service.orders ALTER COLUMN next_attempt_at DROP NOT NULL;
UPDATE order_service.orders SET next_attempt_at = NULL WHERE step = 'done';
ALTER TABLE order_service.orders
    ADD CONSTRAINT orders_due CHECK ((step = 'done') = (next_attempt_at IS NULL));
DROP INDEX order_service.orders_running;
CREATE INDEX orders_due ON order_service.orders (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
-- Room on each page for the updated versions of the rows placed on it.
ALTER TABLE order_service.orders SET (fillfactor = 70);
