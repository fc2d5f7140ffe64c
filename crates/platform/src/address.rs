//! A postal delivery address, checked the same way wherever one enters: an order's shipping address (the order
//! service) and an address saved in the account's address book (the user service). Both carry it as
//! `order.v1.Address` on the wire.

use ec_proto::order::v1 as wire;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;

/// A complete address: a recipient, a first line, a city, a postal code and an ISO 3166-1 alpha-2 country; a
/// second line, a region and a phone number if given. Every field is trimmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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
    /// Checks `wire`, whose fields errors name under `field` (`shipping_address`, `address`).
    pub fn parse<E>(wire: &wire::Address, field: &str) -> Result<Self, ServiceError<E>> {
        let part = |raw: &str, name: &str, max: usize, required: bool| {
            bounded_text(raw, &format!("{field}.{name}"), max, required)
        };
        let country_code = wire.country_code.trim().to_owned();
        if country_code.len() != 2 || !country_code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ServiceError::InvalidArgument(format!(
                "{field}.country_code is required: an ISO 3166-1 alpha-2 code such as JP"
            )));
        }
        let phone = part(&wire.phone, "phone", 32, false)?;
        if !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            return Err(ServiceError::InvalidArgument(format!(
                "{field}.phone may hold digits, spaces and + - ( ) . only"
            )));
        }
        Ok(Self {
            recipient_name: part(&wire.recipient_name, "recipient_name", 200, true)?,
            line1: part(&wire.line1, "line1", 200, true)?,
            line2: part(&wire.line2, "line2", 200, false)?,
            city: part(&wire.city, "city", 100, true)?,
            region: part(&wire.region, "region", 100, false)?,
            postal_code: part(&wire.postal_code, "postal_code", 20, true)?,
            country_code,
            phone,
        })
    }

    /// The address on the wire.
    pub fn to_wire(&self) -> wire::Address {
        wire::Address {
            recipient_name: self.recipient_name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country_code: self.country_code.clone(),
            phone: self.phone.clone(),
            ..Default::default()
        }
    }
}

/// Text of at most `max` characters without control characters, trimmed (`what` names the field in the
/// error); `required` refuses a blank one.
pub fn bounded_text<E>(raw: &str, what: &str, max: usize, required: bool) -> Result<String, ServiceError<E>> {
    let chars = raw.chars().take(max + 1).count();
    if (required && raw.trim().is_empty()) || chars > max || raw.chars().any(char::is_control) {
        let required = if required { "is required: " } else { "must be " };
        return Err(ServiceError::InvalidArgument(format!(
            "{what} {required}at most {max} characters, without control characters"
        )));
    }
    Ok(raw.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn address() -> wire::Address {
        wire::Address {
            recipient_name: " Hanako Yamada ".into(),
            line1: "1-2-3 Shibuya".into(),
            city: "Tokyo".into(),
            postal_code: "150-0002".into(),
            country_code: "JP".into(),
            ..Default::default()
        }
    }

    fn parse(wire: &wire::Address) -> Result<Address, ServiceError<Infallible>> {
        Address::parse(wire, "address")
    }

    #[test]
    fn an_address_needs_a_recipient_a_street_a_city_a_postal_code_and_a_country() {
        let parsed = parse(&address()).unwrap();
        assert_eq!(parsed.recipient_name, "Hanako Yamada");
        assert_eq!(parsed.to_wire().recipient_name, "Hanako Yamada");
        let broken: [fn(&mut wire::Address); 9] = [
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
            assert!(
                matches!(parse(&wire), Err(ServiceError::InvalidArgument(m)) if m.starts_with("address.")),
                "{wire:?}"
            );
        }
    }
}
