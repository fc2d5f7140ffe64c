//! Values parsed at the edge from wire messages, which can only hold valid data.

use uuid::Uuid;

use crate::error::Error;

/// Parses the id in field `field`; anything but a UUID is `invalid_argument`, never a lookup.
pub fn parse_id(raw: &str, field: &str) -> Result<Uuid, Error> {
    if raw.len() > 36 {
        return Err(Error::InvalidArgument(format!("{field} must be a UUID")));
    }
    Uuid::parse_str(raw).map_err(|_| Error::InvalidArgument(format!("{field} must be a UUID")))
}

/// An idempotency key: 1 to 256 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Error> {
        let chars = raw.chars().take(Self::MAX_CHARS + 1).count();
        if chars == 0 || chars > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(format!(
                "idempotency_key is required: at most {} characters, without control characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The items of one reservation: 1 to [`MAX_ITEMS`](Self::MAX_ITEMS) distinct SKUs, each with 1 to
/// [`MAX_QUANTITY`](Self::MAX_QUANTITY) units, kept sorted by SKU id (the order rows are locked in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationItems(Vec<(Uuid, i64)>);

impl ReservationItems {
    pub const MAX_ITEMS: usize = 50;
    /// Far above any real order line, and far below where sums of quantities could overflow.
    pub const MAX_QUANTITY: i64 = 1_000_000;

    /// Parses `(sku_id, quantity)` pairs as they come off the wire.
    pub fn parse<'a>(items: impl IntoIterator<Item = (&'a str, i64)>) -> Result<Self, Error> {
        let items: Vec<(&str, i64)> = items.into_iter().take(Self::MAX_ITEMS + 1).collect();
        if items.is_empty() || items.len() > Self::MAX_ITEMS {
            return Err(Error::InvalidArgument(format!("items must have 1 to {} entries", Self::MAX_ITEMS)));
        }
        let mut parsed = Vec::with_capacity(items.len());
        for (sku_id, quantity) in items {
            let sku_id = parse_id(sku_id, "items.sku_id")?;
            if !(1..=Self::MAX_QUANTITY).contains(&quantity) {
                return Err(Error::InvalidArgument(format!(
                    "items.quantity must be between 1 and {}",
                    Self::MAX_QUANTITY
                )));
            }
            parsed.push((sku_id, quantity));
        }
        parsed.sort_unstable();
        if parsed.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(Error::InvalidArgument("items must list each SKU once".into()));
        }
        Ok(Self(parsed))
    }

    /// The items, sorted by SKU id.
    pub fn as_slice(&self) -> &[(Uuid, i64)] {
        &self.0
    }

    /// A digest of the items, the same whatever order they were sent in: what an idempotency key is held to.
    pub fn digest(&self) -> Vec<u8> {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for (sku_id, quantity) in &self.0 {
            context.update(sku_id.as_bytes());
            context.update(&quantity.to_be_bytes());
        }
        context.finish().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[(&str, i64)]) -> Result<ReservationItems, Error> {
        ReservationItems::parse(items.iter().copied())
    }

    const A: &str = "0193a0c0-0000-7000-8000-000000000001";
    const B: &str = "0193a0c0-0000-7000-8000-000000000002";

    #[test]
    fn items_are_sorted_and_their_digest_ignores_the_order_they_came_in() {
        let one = parse(&[(B, 2), (A, 1)]).unwrap();
        let other = parse(&[(A, 1), (B, 2)]).unwrap();
        assert_eq!(one.as_slice()[0].0.to_string(), A);
        assert_eq!(one.digest(), other.digest());
        assert_ne!(one.digest(), parse(&[(A, 1), (B, 3)]).unwrap().digest());
    }

    #[test]
    fn bad_items_are_refused() {
        let too_many: Vec<String> = (0..51).map(|n| format!("0193a0c0-0000-7000-8000-{n:012}")).collect();
        let too_many: Vec<(&str, i64)> = too_many.iter().map(|id| (id.as_str(), 1)).collect();
        for bad in [
            vec![],
            too_many,
            vec![(A, 0)],
            vec![(A, -1)],
            vec![(A, ReservationItems::MAX_QUANTITY + 1)],
            vec![(A, 1), (A, 2)],
            vec![("not-a-uuid", 1)],
            vec![("", 1)],
        ] {
            assert!(matches!(parse(&bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn keys_are_one_to_256_characters() {
        assert!(IdempotencyKey::parse("order-1:reserve").is_ok());
        assert!(IdempotencyKey::parse(&"鍵".repeat(256)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(257)).is_err());
        assert!(IdempotencyKey::parse("order-1\0").is_err(), "PostgreSQL text cannot hold NUL");
        assert!(parse_id(&"f".repeat(10_000), "id").is_err());
    }
}
