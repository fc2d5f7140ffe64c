//! Carts: one per account, a line per SKU, every query scoped by the caller's account id (no request can
//! name another cart); the limits a cart keeps, and the cart RPCs' work ([`Carts`]), which answers with the
//! cart priced from the catalog now ([`crate::pricing`]). The SQL is [`crate::db::carts`] and
//! [`crate::db::cart_items`].
//!
//! The cart's row carries a version that every change of the cart raises, under the row's lock (creating it
//! with the first line), so the limits (50 lines, 99 units a line, one currency) hold under concurrent changes
//! of one cart: two adds of a 50th line cannot both pass. An add, the change a shop sees most, is checked
//! against the cart as its caller read it and made in one statement if the version is still the one read;
//! otherwise, and for every other change, the row is locked first and the lines read again under the lock.
//!
//! A change commits without waiting for the disk (on the service's [`Unflushed`] pool). A cart is a shopper's
//! scratch pad: a database crash could lose its last fraction of a second of changes (never a change half
//! made, and never out of order), which is a disk flush a click cheaper. Orders are another matter: placing
//! one waits for the disk, and so makes every cart change before it durable too.

use chrono::{DateTime, Utc};
use ec_platform::db::Unflushed;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db,
    domain::{MAX_CART_LINES, MAX_LINE_QUANTITY},
    error::Error,
    pricing::{PricedCart, Pricing},
};

/// A line as stored: what and how many, not what it costs (that is read from the catalog when shown).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Line {
    pub sku_id: Uuid,
    pub quantity: i64,
    pub currency_code: String,
    pub added_at: DateTime<Utc>,
}

/// A cart as stored: its lines, oldest first, when it last changed and its version (both `None` for a cart
/// never used).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<Line>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: Option<i64>,
}

impl Cart {
    /// The SKUs in the cart.
    pub fn sku_ids(&self) -> Vec<Uuid> {
        self.lines.iter().map(|line| line.sku_id).collect()
    }
}

/// `user_id`'s cart, in one query.
pub async fn get(pool: &PgPool, user_id: Uuid) -> Result<Cart, Error> {
    db::carts::get(pool, user_id).await
}

/// Adds `quantity` units of `sku_id` (priced in `currency_code`) to `user_id`'s cart, merging with its line
/// if there is one; the cart as it is then. `read` is the cart as the caller read it: if no change came
/// between, the add is checked against it and made in one statement; otherwise under the cart's lock.
pub async fn add(
    unflushed: &Unflushed,
    user_id: Uuid,
    read: &Cart,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
) -> Result<Cart, Error> {
    check_add(&read.lines, sku_id, quantity, currency_code)?;
    let at_once =
        db::cart_items::add_at_version(unflushed.pool(), user_id, sku_id, quantity, currency_code, read.version)
            .await?;
    match at_once {
        Some(added) => Ok(with_line(read.lines.clone(), added.line, added.cart)),
        None => add_locked(unflushed, user_id, sku_id, quantity, currency_code).await,
    }
}

/// [`add`] when the cart changed after it was read: under the cart's lock, against its lines read again.
async fn add_locked(
    unflushed: &Unflushed,
    user_id: Uuid,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
) -> Result<Cart, Error> {
    let mut tx = unflushed.pool().begin().await?;
    let changed = db::carts::lock(&mut tx, user_id).await?;
    let lines = db::cart_items::of_cart(&mut tx, user_id).await?;
    check_add(&lines, sku_id, quantity, currency_code)?;
    let line = db::cart_items::add(&mut tx, user_id, sku_id, quantity, currency_code).await?;
    tx.commit().await?;
    Ok(with_line(lines, line, changed))
}

/// The cart of `lines` with `line` put in (or in place of the line of its SKU), as `changed` left it.
fn with_line(mut lines: Vec<Line>, line: Line, changed: db::carts::Changed) -> Cart {
    match lines.iter_mut().find(|old| old.sku_id == line.sku_id) {
        Some(old) => *old = line,
        None => {
            lines.push(line);
            // In the order `get` reads them in.
            lines.sort_by_key(|line| (line.added_at, line.sku_id));
        }
    }
    Cart { lines, updated_at: Some(changed.updated_at), version: Some(changed.version) }
}

/// Whether `quantity` units of `sku_id`, priced in `currency_code`, may be added to a cart of `lines`.
fn check_add(lines: &[Line], sku_id: Uuid, quantity: i64, currency_code: &str) -> Result<(), Error> {
    if let Some(other) = lines.iter().find(|line| line.currency_code != currency_code) {
        return Err(Error::FailedPrecondition(format!(
            "the cart is in {} and this SKU is priced in {currency_code}; a cart holds one currency",
            other.currency_code
        )));
    }
    match lines.iter().find(|line| line.sku_id == sku_id) {
        None if lines.len() as i64 >= MAX_CART_LINES => {
            return Err(Error::FailedPrecondition(format!("a cart holds at most {MAX_CART_LINES} different SKUs")));
        }
        Some(line) if line.quantity + quantity > MAX_LINE_QUANTITY => {
            return Err(Error::InvalidArgument(format!(
                "a line holds at most {MAX_LINE_QUANTITY} units; this one has {}",
                line.quantity
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Sets the quantity of `sku_id`'s line; 0 removes it. `not_found` if the cart has no such line.
pub async fn set_quantity(unflushed: &Unflushed, user_id: Uuid, sku_id: Uuid, quantity: i64) -> Result<(), Error> {
    let mut tx = unflushed.pool().begin().await?;
    db::carts::lock(&mut tx, user_id).await?;
    let found = if quantity == 0 {
        db::cart_items::delete(&mut tx, user_id, sku_id).await?
    } else {
        db::cart_items::set_quantity(&mut tx, user_id, sku_id, quantity).await?
    };
    if !found {
        return Err(Error::NotFound("cart line"));
    }
    tx.commit().await?;
    Ok(())
}

/// Empties the cart.
pub async fn clear(unflushed: &Unflushed, user_id: Uuid) -> Result<(), Error> {
    let mut tx = unflushed.pool().begin().await?;
    db::carts::lock(&mut tx, user_id).await?;
    db::cart_items::delete_all(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The cart RPCs' work: a caller's cart, changed, and answered priced from the catalog now.
#[derive(Clone)]
pub struct Carts {
    pool: PgPool,
    /// For cart changes (see the module docs).
    unflushed: Unflushed,
    pricing: Pricing,
}

impl Carts {
    pub fn new(pool: PgPool, unflushed: Unflushed, pricing: Pricing) -> Self {
        Self { pool, unflushed, pricing }
    }

    /// `user_id`'s cart, priced: every line from the catalog now (one call), flagged when it cannot be bought
    /// as it is.
    pub async fn priced(&self, user_id: Uuid) -> Result<PricedCart, Error> {
        self.pricing.cart(&get(&self.pool, user_id).await?).await
    }

    /// Adds `quantity` units of `sku_id`, which must be on sale (`not_found` otherwise), to `user_id`'s cart;
    /// the cart then, priced.
    pub async fn add_item(&self, user_id: Uuid, sku_id: Uuid, quantity: i64) -> Result<PricedCart, Error> {
        // One catalog call prices the new SKU and every line already there, for the answer too.
        let read = get(&self.pool, user_id).await?;
        let mut ids = read.sku_ids();
        if !ids.contains(&sku_id) {
            ids.push(sku_id);
        }
        let skus = self.pricing.skus(&ids).await?;
        let sku = skus.get(&sku_id).ok_or(Error::NotFound("SKU (or it is not on sale)"))?;
        let cart = add(&self.unflushed, user_id, &read, sku_id, quantity, &sku.currency_code).await?;
        // Lines a concurrent change added meanwhile are priced too.
        self.pricing.cart_with(&cart, &ids, skus).await
    }

    /// Sets the quantity of `sku_id`'s line in `user_id`'s cart (0 removes it); the cart then, priced.
    pub async fn set_item_quantity(&self, user_id: Uuid, sku_id: Uuid, quantity: i64) -> Result<PricedCart, Error> {
        set_quantity(&self.unflushed, user_id, sku_id, quantity).await?;
        self.priced(user_id).await
    }

    /// Empties `user_id`'s cart; the cart then, priced.
    pub async fn empty(&self, user_id: Uuid) -> Result<PricedCart, Error> {
        clear(&self.unflushed, user_id).await?;
        self.priced(user_id).await
    }
}
