//! Values parsed at the edge from wire messages, which can only hold valid data.

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
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

/// Text of at most `max` characters without control characters (`what` names the field in the error).
fn text(raw: &str, what: &str, max: usize, required: bool) -> Result<String, Error> {
    let chars = raw.chars().take(max + 1).count();
    if (required && raw.trim().is_empty()) || chars > max || raw.chars().any(char::is_control) {
        let required = if required { "is required: " } else { "must be " };
        return Err(Error::InvalidArgument(format!(
            "{what} {required}at most {max} characters, without control characters"
        )));
    }
    Ok(raw.trim().to_owned())
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

/// A postal delivery address, complete: a recipient, a first line, a city, a postal code and an ISO 3166-1
/// alpha-2 country; a second line, a region and a phone number if given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub recipient_name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
}

impl Address {
    pub fn parse(wire: &ec_proto::order::v1::Address) -> Result<Self, Error> {
        let field = |raw: &str, name: &str, max: usize, required: bool| {
            text(raw, &format!("shipping_address.{name}"), max, required)
        };
        let country_code = wire.country_code.trim().to_owned();
        if country_code.len() != 2 || !country_code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::InvalidArgument(
                "shipping_address.country_code is required: an ISO 3166-1 alpha-2 code such as JP".into(),
            ));
        }
        let phone = field(&wire.phone, "phone", 32, false)?;
        if !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            return Err(Error::InvalidArgument(
                "shipping_address.phone may hold digits, spaces and + - ( ) . only".into(),
            ));
        }
        Ok(Self {
            recipient_name: field(&wire.recipient_name, "recipient_name", 200, true)?,
            line1: field(&wire.line1, "line1", 200, true)?,
            line2: field(&wire.line2, "line2", 200, false)?,
            city: field(&wire.city, "city", 100, true)?,
            region: field(&wire.region, "region", 100, false)?,
            postal_code: field(&wire.postal_code, "postal_code", 20, true)?,
            country_code,
            phone,
        })
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

/// A carrier's tracking number: 1 to 100 characters.
pub fn tracking_number(raw: &str) -> Result<String, Error> {
    text(raw, "tracking_number", 100, true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_address_needs_a_recipient_a_street_a_city_a_postal_code_and_a_country() {
        assert!(Address::parse(&address()).is_ok());
        let broken: [fn(&mut ec_proto::order::v1::Address); 9] = [
            |a| a.recipient_name = "  ".into(),
            |a| a.line1.clear(),
            |a| a.city.clear(),
            |a| a.postal_code.clear(),
            |a| a.country_code = "jp".into(),
            |a| a.country_code = "JPN".into(),
            |a| a.line2 = "x".repeat(201),
            |a| a.city = "Tokyo\u{0}".into(),
            |a| a.phone = "call me".into(),
        ];
        for broken in broken {
            let mut wire = address();
            broken(&mut wire);
            assert!(matches!(Address::parse(&wire), Err(Error::InvalidArgument(_))), "{wire:?}");
        }
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
            address: Address { line1: line1.into(), ..Address::parse(&address()).unwrap() },
            payment_token: PaymentToken::parse(token).unwrap(),
        };
        let first = checkout("a", "4242424242424242").digest();
        assert_eq!(first, checkout("a", "4242424242424242").digest());
        assert_ne!(first, checkout("b", "4242424242424242").digest());
        assert_ne!(first, checkout("a", "4000000000000002").digest());
    }
}
