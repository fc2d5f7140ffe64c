-- A confirmed reservation can be put back on hand (an order cancelled before it shipped): RestockReservation.
ALTER TABLE product_service.reservations DROP CONSTRAINT reservations_status_check,
    ADD CONSTRAINT reservations_status_check
        CHECK (status IN ('pending', 'confirmed', 'released', 'expired', 'restocked'));
ALTER TABLE product_service.stock_movements DROP CONSTRAINT stock_movements_kind_check,
    ADD CONSTRAINT stock_movements_kind_check
        CHECK (kind IN ('initial', 'update', 'adjust', 'reserve', 'confirm', 'release', 'expire', 'restock'));
ALTER TABLE product_service.idempotency_keys DROP CONSTRAINT idempotency_keys_operation_check,
    ADD CONSTRAINT idempotency_keys_operation_check CHECK (operation IN ('reserve', 'confirm', 'release', 'restock'));
