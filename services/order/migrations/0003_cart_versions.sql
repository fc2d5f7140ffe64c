-- A cart's version, raised by every change of the cart under its row's lock: an add checks it is still the
-- version it read the cart at, and is then made in one statement instead of a locked transaction
-- (services/order/src/cart.rs).
ALTER TABLE order_service.carts ADD COLUMN version bigint NOT NULL DEFAULT 0;
