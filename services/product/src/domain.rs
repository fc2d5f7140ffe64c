//! The product service's values, which can only hold valid data: parsed at the edge from wire messages (and
//! catalog files), so everything behind the edge takes them as given.
//!
//! Catalog values ([`ProductName`], [`Description`], [`Price`], [`SkuCode`], [`Attributes`], [`ImageUrl`],
//! [`CategoryName`], [`Slug`]), reservation requests ([`IdempotencyKey`], [`ReservationItems`]), and the states
//! and parties the catalog and the stock know: [`ProductStatus`] and who may see it ([`Reader`]),
//! [`ReservationStatus`] and what each move between them does to stock, and who moved stock ([`Actor`]).

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::error::Error;

/// Parses the id in field `field`; anything but a UUID is `invalid_argument`, never a lookup.
pub fn parse_id(raw: &str, field: &str) -> Result<Uuid, Error> {
    if raw.len() > 36 {
        return Err(Error::InvalidArgument(format!("{field} must be a UUID")));
    }
    Uuid::parse_str(raw).map_err(|_| Error::InvalidArgument(format!("{field} must be a UUID")))
}

/// A product's name: 1 to 200 characters, trimmed, no control characters.
#[derive(Clone, Debug)]
pub struct ProductName(String);

impl ProductName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().take(201).count();
        if chars == 0 || chars > 200 || trimmed.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("name must be 1 to 200 characters without control characters".into()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product's description: at most 10,000 characters (line breaks allowed).
#[derive(Clone, Debug)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let text = raw.trim();
        if text.chars().take(10_001).count() > 10_000 {
            return Err(Error::InvalidArgument("description must be at most 10000 characters".into()));
        }
        if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
            return Err(Error::InvalidArgument("description must not contain control characters".into()));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A price: a non-negative amount in the minor unit of an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub amount: i64,
    pub currency_code: String,
}

impl Price {
    pub fn parse(amount: i64, currency_code: &str) -> Result<Self, Error> {
        if amount < 0 {
            return Err(Error::InvalidArgument("price.amount must not be negative".into()));
        }
        // Only currencies with a minor unit: not precious metals, funds or "no currency" (XAU, XXX...).
        let known = iso_currency::Currency::from_code(currency_code).and_then(|c| c.exponent()).is_some();
        if !known {
            return Err(Error::InvalidArgument(
                "price.currency_code must be an ISO 4217 currency code such as JPY or USD".into(),
            ));
        }
        Ok(Self { amount, currency_code: currency_code.to_owned() })
    }
}

/// A merchant's SKU code: a letter or digit, then letters, digits, `.`, `_` or `-`, 100 characters at most.
#[derive(Clone, Debug)]
pub struct SkuCode(String);

impl SkuCode {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let code = raw.trim();
        let valid = (1..=100).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_alphanumeric())
            && code.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid {
            return Err(Error::InvalidArgument(
                "code must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit".into(),
            ));
        }
        Ok(Self(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SKU's attributes: at most 20, names of 1 to 64 characters, values of at most 256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    pub const MAX: usize = 20;

    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Error> {
        let mut attributes = BTreeMap::new();
        for (name, value) in pairs.into_iter().take(Self::MAX + 1) {
            let name_ok = (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control);
            let value_ok = value.chars().count() <= 256 && !value.chars().any(char::is_control);
            if !name_ok || !value_ok {
                return Err(Error::InvalidArgument(
                    "attribute names must be 1 to 64 characters and values at most 256, without control characters"
                        .into(),
                ));
            }
            attributes.insert(name.to_owned(), value.to_owned());
        }
        if attributes.len() > Self::MAX {
            return Err(Error::InvalidArgument(format!("a SKU has at most {} attributes", Self::MAX)));
        }
        Ok(Self(attributes))
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    /// The attributes as the JSON object they are stored as.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings serialises")
    }
}

/// Images a product may have.
pub const MAX_IMAGES: i64 = 20;

/// An image link: an absolute https URL of at most 2048 characters.
#[derive(Clone, Debug)]
pub struct ImageUrl(String);

impl ImageUrl {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidArgument("url must be an absolute https URL".into());
        if raw.len() > 2048 {
            return Err(invalid());
        }
        let url = url::Url::parse(raw).map_err(|_| invalid())?;
        let bad = url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) || !url.username().is_empty();
        // Checked again once normalised: percent-encoding and punycode make a URL longer.
        if bad || url.as_str().len() > 2048 {
            return Err(invalid());
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category's name: 1 to 100 characters, trimmed, no control characters.
#[derive(Clone, Debug)]
pub struct CategoryName(String);

impl CategoryName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let name = raw.trim();
        let chars = name.chars().take(101).count();
        if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("name must be 1 to 100 characters without control characters".into()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug derived from the name: ASCII letters and digits in lower case, everything else a dash.
    pub fn slug(&self) -> Result<Slug, Error> {
        let mut slug = String::new();
        for c in self.0.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let slug: String = slug.chars().take(100).collect();
        Slug::parse(slug.trim_end_matches('-')).map_err(|_| {
            Error::InvalidArgument(
                "no slug can be made from this name; give one (lower-case letters, digits, dashes)".into(),
            )
        })
    }
}

/// A URL slug: lower-case ASCII letters and digits in dash-separated words, 100 characters at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let valid = (1..=100).contains(&raw.len())
            && raw
                .split('-')
                .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !valid {
            return Err(Error::InvalidArgument(
                "slug must be lower-case letters and digits in words joined by single dashes, at most 100".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who can see a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductStatus {
    Draft,
    Published,
    Hidden,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Hidden => "hidden",
        }
    }

    /// The status named `name` (`draft`, `published` or `hidden`), as stored and as catalog files name it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            "hidden" => Some(Self::Hidden),
            _ => None,
        }
    }
}

/// A status as stored; the column's CHECK constraint allows nothing else.
impl TryFrom<String> for ProductStatus {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        Self::from_name(&stored).ok_or_else(|| format!("product status {stored:?} is not allowed by the schema"))
    }
}

/// Who is reading the catalog, which decides what they may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Anyone: PUBLISHED products, and HIDDEN ones by id (for order history).
    Public,
    /// An admin: everything that is not deleted.
    Admin,
}

impl Reader {
    /// Whether this reader may see a product in `status` that they ask for by id.
    pub fn sees(self, status: ProductStatus) -> bool {
        self == Self::Admin || status != ProductStatus::Draft
    }

    /// The statuses this reader lists: the public PUBLISHED only; an admin what they ask for, or every status.
    pub fn lists(self, asked: Option<ProductStatus>) -> Vec<ProductStatus> {
        match (self, asked) {
            (Self::Public, _) => vec![ProductStatus::Published],
            (Self::Admin, Some(status)) => vec![status],
            (Self::Admin, None) => vec![ProductStatus::Draft, ProductStatus::Published, ProductStatus::Hidden],
        }
    }
}

/// Who changed stock, as written to the movements: an account id, or the service itself.
#[derive(Clone, Debug)]
pub struct Actor(pub String);

impl Actor {
    /// A signed-in account (an admin counting or adjusting stock).
    pub fn account(id: Uuid) -> Self {
        Self(id.to_string())
    }

    /// The expiry worker.
    pub fn expiry() -> Self {
        Self("expiry".into())
    }
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

/// Where a reservation is in Try-Confirm-Cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    Pending,
    Confirmed,
    Released,
    Expired,
    /// Confirmed, then put back on hand (a cancelled order).
    Restocked,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Restocked => "restocked",
        }
    }

    /// What moving a reservation from `self` to `to` does to its SKUs' stock, per unit of each item:
    /// (quantity delta, reserved delta), and the movement's kind.
    pub fn stock_change(self, to: Self) -> ((i64, i64), &'static str) {
        match (self, to) {
            (Self::Pending, Self::Confirmed) => ((-1, -1), "confirm"),
            (Self::Pending, Self::Released) => ((0, -1), "release"),
            (Self::Pending, Self::Expired) => ((0, -1), "expire"),
            (Self::Confirmed, Self::Restocked) => ((1, 0), "restock"),
            (from, to) => unreachable!("no transition from {from:?} to {to:?}"),
        }
    }
}

/// A status as stored; the column's CHECK constraint allows nothing else.
impl TryFrom<String> for ReservationStatus {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        Ok(match stored.as_str() {
            "pending" => Self::Pending,
            "confirmed" => Self::Confirmed,
            "released" => Self::Released,
            "expired" => Self::Expired,
            "restocked" => Self::Restocked,
            _ => return Err(format!("reservation status {stored:?} is not allowed by the schema")),
        })
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

    #[test]
    fn stored_statuses_read_back_as_they_were_written() {
        for status in [ProductStatus::Draft, ProductStatus::Published, ProductStatus::Hidden] {
            assert_eq!(ProductStatus::try_from(status.as_str().to_owned()), Ok(status));
        }
        use ReservationStatus::*;
        for status in [Pending, Confirmed, Released, Expired, Restocked] {
            assert_eq!(ReservationStatus::try_from(status.as_str().to_owned()), Ok(status));
        }
        assert!(ProductStatus::try_from("deleted".to_owned()).is_err());
        assert!(ReservationStatus::try_from("lost".to_owned()).is_err());
    }
}
