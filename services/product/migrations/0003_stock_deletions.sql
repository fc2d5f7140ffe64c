-- A SKU's deletion, copied onto its stock row by the transaction that deletes it, which holds that row's lock
-- (inventory::lock_for_delete). A reservation made in one statement reads whether its SKUs are for sale in the
-- statement's snapshot, taken before it waits for the stock's locks; the locked row itself is read as it is
-- now, so this column tells the reservation of a delete that committed while it waited.
ALTER TABLE product_service.inventory ADD COLUMN deleted_at timestamptz;
UPDATE product_service.inventory i SET deleted_at = s.deleted_at
FROM product_service.skus s WHERE s.id = i.sku_id AND s.deleted_at IS NOT NULL;
