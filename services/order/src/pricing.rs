//! What a cart costs, priced from the catalog now: each line's unit price and total, the subtotal, the
//! shipping fee by the shop's rules ([`crate::shipping`]) and the total. The same prices make the cart a shopper
//! sees ([`PricedCart`]) and the order CreateOrder places ([`Pricing::order`]): names, codes and unit prices are
//! read from the catalog at that moment and never taken from a client.
//!
//! Totals are integer minor units. A cart shown saturates rather than fail (a line that cannot be bought
//! counts nothing); an order refuses a total that does not fit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    cart::{self, Cart},
    error::Error,
    orders::{self, NewOrder},
    product_client::{ProductClient, SkuInfo},
    shipping::ShippingRules,
};

/// A cart line priced from the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub line: cart::Line,
    /// The SKU as the catalog has it now, if it is on sale in the line's currency: `None` when the line
    /// cannot be bought as it is.
    pub sku: Option<SkuInfo>,
    /// 0 when the line cannot be bought.
    pub unit_price: i64,
    pub line_total: i64,
    /// The units that could be bought, no more than the line asks for: enough to tell whether and how far it
    /// is short, without showing the shopper the SKU's whole stock (the public reads stock levels only).
    pub available: i64,
}

/// A cart priced from the catalog: what GetCart shows, and, with its shipping fee, the total CreateOrder will
/// charge if nothing changes (what a client confirms with it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedCart {
    pub lines: Vec<PricedLine>,
    /// The cart's currency ("" for an empty cart).
    pub currency_code: String,
    /// Of the lines that can be bought.
    pub subtotal: i64,
    /// `None` for an empty cart, or one in a currency the shop has no shipping rate for.
    pub shipping_fee: Option<i64>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl PricedCart {
    /// The subtotal and the shipping fee, when there is a fee.
    pub fn total(&self) -> Option<i64> {
        self.shipping_fee.map(|fee| self.subtotal.saturating_add(fee))
    }
}

/// `cart` priced with `skus` (the catalog's SKUs on sale among its lines) and the shop's `shipping` rules.
pub fn price_cart(cart: &Cart, skus: &HashMap<Uuid, SkuInfo>, shipping: &ShippingRules) -> PricedCart {
    let currency_code = cart.lines.first().map(|line| line.currency_code.clone()).unwrap_or_default();
    let mut subtotal: i64 = 0;
    let lines: Vec<PricedLine> = cart
        .lines
        .iter()
        .map(|line| {
            let sku = skus.get(&line.sku_id).filter(|sku| sku.currency_code == line.currency_code);
            let unit_price = sku.map_or(0, |sku| sku.unit_price);
            let line_total = unit_price.saturating_mul(line.quantity);
            if sku.is_some() {
                subtotal = subtotal.saturating_add(line_total);
            }
            PricedLine {
                line: line.clone(),
                sku: sku.cloned(),
                unit_price,
                line_total,
                available: sku.map_or(0, |sku| sku.available.min(line.quantity)),
            }
        })
        .collect();
    let shipping_fee = if lines.is_empty() { None } else { shipping.fee(&currency_code, subtotal).ok() };
    PricedCart { lines, currency_code, subtotal, shipping_fee, updated_at: cart.updated_at }
}

/// Prices carts and orders from the catalog (the product service) now, with the shop's shipping rules.
#[derive(Clone)]
pub struct Pricing {
    product: ProductClient,
    shipping: ShippingRules,
}

impl Pricing {
    pub fn new(product: ProductClient, shipping: ShippingRules) -> Self {
        Self { product, shipping }
    }

    /// The catalog's SKUs on sale among `ids`, with their prices and stock (one call).
    pub async fn skus(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, SkuInfo>, Error> {
        self.product.skus(ids).await
    }

    /// `cart` priced now (one call to the catalog).
    pub async fn cart(&self, cart: &Cart) -> Result<PricedCart, Error> {
        let skus = self.product.skus(&cart.sku_ids()).await?;
        Ok(price_cart(cart, &skus, &self.shipping))
    }

    /// `cart` priced with `skus`, what the catalog answered for `asked` (the SKUs of another version of the
    /// cart); lines of SKUs not asked for (added by a concurrent change meanwhile) are priced with one more
    /// call.
    pub async fn cart_with(
        &self,
        cart: &Cart,
        asked: &[Uuid],
        mut skus: HashMap<Uuid, SkuInfo>,
    ) -> Result<PricedCart, Error> {
        let unpriced: Vec<Uuid> = cart.sku_ids().into_iter().filter(|id| !asked.contains(id)).collect();
        if !unpriced.is_empty() {
            skus.extend(self.product.skus(&unpriced).await?);
        }
        Ok(price_cart(cart, &skus, &self.shipping))
    }

    /// The cart `lines` of `user_id`, priced now as a new order's lines: `failed_precondition` if there are
    /// none, a line cannot be bought, the shop has no shipping rate for the currency, or the total does not fit.
    pub async fn order(&self, user_id: Uuid, lines: &[cart::Line]) -> Result<NewOrder, Error> {
        if lines.is_empty() {
            return Err(Error::FailedPrecondition("the cart is empty".into()));
        }
        let ids: Vec<Uuid> = lines.iter().map(|line| line.sku_id).collect();
        let skus: HashMap<Uuid, SkuInfo> = self.product.skus(&ids).await?;
        let currency_code = lines[0].currency_code.clone();
        let unavailable: Vec<String> = lines
            .iter()
            .filter(|line| skus.get(&line.sku_id).is_none_or(|sku| sku.currency_code != currency_code))
            .map(|line| line.sku_id.to_string())
            .collect();
        if !unavailable.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "the cart has lines that cannot be bought now: {}; remove them and try again",
                unavailable.join(", ")
            )));
        }
        let mut subtotal: i64 = 0;
        let mut order_lines = Vec::with_capacity(lines.len());
        for line in lines {
            let sku = &skus[&line.sku_id];
            subtotal = sku
                .unit_price
                .checked_mul(line.quantity)
                .and_then(|total| subtotal.checked_add(total))
                .ok_or_else(|| Error::FailedPrecondition("the order total is too large".into()))?;
            order_lines.push(orders::Line {
                sku_id: line.sku_id,
                product_id: sku.product_id,
                product_name: sku.product_name.clone(),
                sku_code: sku.code.clone(),
                quantity: line.quantity,
                unit_price: sku.unit_price,
            });
        }
        Ok(NewOrder {
            id: Uuid::now_v7(),
            user_id,
            shipping_fee: self.shipping.fee(&currency_code, subtotal)?,
            currency_code,
            subtotal,
            lines: order_lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku_id: Uuid, quantity: i64, currency_code: &str) -> cart::Line {
        cart::Line { sku_id, quantity, currency_code: currency_code.into(), added_at: Utc::now() }
    }

    fn sku(sku_id: Uuid, unit_price: i64, currency_code: &str, available: i64) -> SkuInfo {
        SkuInfo {
            sku_id,
            product_id: Uuid::now_v7(),
            product_name: "Stoneware mug".into(),
            code: "MUG".into(),
            unit_price,
            currency_code: currency_code.into(),
            available,
        }
    }

    #[test]
    fn a_cart_counts_only_the_lines_that_can_be_bought_and_shows_no_more_stock_than_a_line_asks_for() {
        let (mug, gone, repriced) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let cart = Cart {
            lines: vec![line(mug, 2, "JPY"), line(gone, 1, "JPY"), line(repriced, 1, "JPY")],
            ..Cart::default()
        };
        // `gone` is no longer on sale; `repriced` is now priced in another currency.
        let skus = HashMap::from([(mug, sku(mug, 1500, "JPY", 10)), (repriced, sku(repriced, 700, "USD", 5))]);
        let rules: ShippingRules = "JPY:500:5000".parse().unwrap();

        let priced = price_cart(&cart, &skus, &rules);
        let by_line: Vec<_> =
            priced.lines.iter().map(|l| (l.sku.is_some(), l.unit_price, l.line_total, l.available)).collect();
        assert_eq!(by_line, [(true, 1500, 3000, 2), (false, 0, 0, 0), (false, 0, 0, 0)]);
        assert_eq!((priced.currency_code.as_str(), priced.subtotal), ("JPY", 3000));
        assert_eq!((priced.shipping_fee, priced.total()), (Some(500), Some(3500)));
    }

    #[test]
    fn an_empty_cart_or_one_without_a_shipping_rate_has_no_fee_and_no_total() {
        let rules: ShippingRules = "JPY:500".parse().unwrap();
        let empty = price_cart(&Cart::default(), &HashMap::new(), &rules);
        assert_eq!((empty.currency_code.as_str(), empty.shipping_fee, empty.total()), ("", None, None));

        let eur = Uuid::now_v7();
        let cart = Cart { lines: vec![line(eur, 1, "EUR")], ..Cart::default() };
        let priced = price_cart(&cart, &HashMap::from([(eur, sku(eur, 900, "EUR", 3))]), &rules);
        assert_eq!((priced.subtotal, priced.shipping_fee, priced.total()), (900, None, None));
    }
}
