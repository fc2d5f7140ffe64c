//! Values parsed at the edge from wire messages, which can only hold valid data.

use aws_lc_rs::digest;
pub use ec_platform::address::Address;
use ec_platform::address::bounded_text;
use uuid::Uuid;

use crate::error::Error;

/// Parses the id in field `field`; anything but a UUID is `invalid_argument`, never a lookup.
pub fn parse_id(raw: &str, field: &str) -> Result<Uuid, Error> {
    if raw.len() > 36 {
        return Err(Error::InvalidArgument(format!("{field} must be a UUID")));
    }
    Uuid::parse_str(raw).map_err(|_| Error::InvalidArgument(format!("{field} must be a UUID")))
}

/// Most units one cart line (and so one order line) may have.
pub const MAX_LINE_QUANTITY: i64 = 99;
/// Most distinct lines one cart may have.
pub const MAX_CART_LINES: i64 = 50;

/// Units of a SKU to add to a cart: 1 to [`MAX_LINE_QUANTITY`].
pub fn units_to_add(quantity: i64) -> Result<i64, Error> {
    if !(1..=MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(Error::InvalidArgument(format!("quantity must be between 1 and {MAX_LINE_QUANTITY}")));
    }
    Ok(quantity)
}

/// A cart line's new quantity: 0 (remove the line) to [`MAX_LINE_QUANTITY`].
pub fn line_quantity(quantity: i64) -> Result<i64, Error> {
    if !(0..=MAX_LINE_QUANTITY).contains(&quantity) {
        return Err(Error::InvalidArgument(format!("quantity must be between 0 and {MAX_LINE_QUANTITY}")));
    }
    Ok(quantity)
}

fn text(raw: &str, what: &str, max: usize, required: bool) -> Result<String, Error> {
    bounded_text(raw, what, max, required)
}

/// CreateOrder's idempotency key: 1 to 128 characters, scoped to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutKey(String);

impl CheckoutKey {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Error> {
        let chars = raw.chars().take(Self::MAX_CHARS + 1).count();
        if chars == 0 || chars > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(Error::InvalidArgument(format!(
                "idempotency_key is required: 1 to {} characters, without control characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The payment provider's opaque token for the customer's card: 1 to 256 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let chars = raw.chars().take(257).count();
        if raw.trim().is_empty() || chars > 256 || raw.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("payment_token is required: at most 256 characters".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed: a token may be all a thief needs.
impl std::fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentToken(..)")
    }
}

/// A checkout as the customer asked for it: what an idempotency key is bound to.
#[derive(Clone, Debug)]
pub struct Checkout {
    pub key: CheckoutKey,
    pub address: Address,
    pub payment_token: PaymentToken,
}

impl Checkout {
    /// SHA-256 over the request's fields, each length-prefixed, so the same key with another request is told
    /// apart.
    pub fn digest(&self) -> Vec<u8> {
        let mut context = digest::Context::new(&digest::SHA256);
        let a = &self.address;
        for field in [
            self.key.as_str(),
            &a.recipient_name,
            &a.line1,
            &a.line2,
            &a.city,
            &a.region,
            &a.postal_code,
            &a.country_code,
            &a.phone,
            self.payment_token.as_str(),
        ] {
            context.update(&(field.len() as u64).to_be_bytes());
            context.update(field.as_bytes());
        }
        context.finish().as_ref().to_vec()
    }
}

/// A reason for an order's cancellation: at most 500 characters.
pub fn cancel_reason(raw: &str) -> Result<String, Error> {
    text(raw, "reason", 500, false)
}

/// An email as the order list's filter compares it: lower-cased character by character, without context (so a
/// prefix's key is a prefix of the whole address's key), the same for an order's email and for a filter.
pub fn email_key(email: &str) -> String {
    email.chars().flat_map(char::to_lowercase).collect()
}

/// AdminListOrders' email filter: the key ([`email_key`]) of the start of a customer's email; `None` when blank
/// (no filter).
pub fn email_prefix(raw: &str) -> Result<Option<String>, Error> {
    let prefix = text(raw, "customer_email", ec_platform::identity::Contact::MAX_EMAIL_CHARS, false)?;
    Ok(Some(email_key(&prefix)).filter(|prefix| !prefix.is_empty()))
}

/// A carrier's tracking number: 1 to 100 characters.
pub fn tracking_number(raw: &str) -> Result<String, Error> {
    text(raw, "tracking_number", 100, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OrderError;

    fn address() -> ec_proto::order::v1::Address {
        ec_proto::order::v1::Address {
            recipient_name: "Hanako Yamada".into(),
            line1: "1-2-3 Shibuya".into(),
            city: "Tokyo".into(),
            postal_code: "150-0002".into(),
            country_code: "JP".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_shipping_address_is_checked_under_its_field_name() {
        let wire = ec_proto::order::v1::Address { city: String::new(), ..address() };
        assert!(
            matches!(Address::parse::<OrderError>(&wire, "shipping_address"), Err(Error::InvalidArgument(m)) if m.starts_with("shipping_address.city"))
        );
    }

    #[test]
    fn an_email_filter_is_lower_cased_and_bounded() {
        assert_eq!(email_prefix(" Hanako@Example ").unwrap().as_deref(), Some("hanako@example"));
        // Any script, and a prefix's key is the start of the whole address's (no final-sigma rule).
        assert_eq!(email_prefix("ÉLODIE@").unwrap().as_deref(), Some("élodie@"));
        assert!(email_key("ΟΔΟΣΑ@example.gr").starts_with(&email_key("ΟΔΟΣ")));
        assert_eq!(email_prefix("  ").unwrap(), None);
        assert!(email_prefix(&"a".repeat(255)).is_err());
        assert!(email_prefix("a\nb").is_err());
    }

    #[test]
    fn keys_and_tokens_have_bounds() {
        assert!(CheckoutKey::parse("").is_err());
        assert!(CheckoutKey::parse(&"k".repeat(128)).is_ok());
        assert!(CheckoutKey::parse(&"k".repeat(129)).is_err());
        assert!(PaymentToken::parse(" ").is_err());
        assert!(PaymentToken::parse(&"4".repeat(257)).is_err());
        assert_eq!(format!("{:?}", PaymentToken::parse("4242424242424242").unwrap()), "PaymentToken(..)");
    }

    #[test]
    fn the_same_key_with_another_address_or_card_is_another_request() {
        let checkout = |line1: &str, token: &str| Checkout {
            key: CheckoutKey::parse("k").unwrap(),
            address: Address {
                line1: line1.into(),
                ..Address::parse::<OrderError>(&address(), "shipping_address").unwrap()
            },
            payment_token: PaymentToken::parse(token).unwrap(),
        };
        let first = checkout("a", "4242424242424242").digest();
        assert_eq!(first, checkout("a", "4242424242424242").digest());
        assert_ne!(first, checkout("b", "4242424242424242").digest());
        assert_ne!(first, checkout("a", "4000000000000002").digest());
    }
}
