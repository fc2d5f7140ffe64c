//! What shipping costs: a flat fee per currency, waived from a subtotal on (`SHIPPING_RULES`, e.g.
//! `JPY:500:5000,USD:500:5000`: ¥500, free from ¥5,000; $5.00, free from $50.00). Amounts are in the
//! currency's minor units, so one number cannot mean ¥500 and $500 at once. A currency without a rule has no
//! rate: its orders are refused with a clear error rather than shipped at another currency's fee.

use std::{collections::HashMap, fmt, str::FromStr};

use crate::error::Error;

/// The fee of one currency: flat, waived from a subtotal on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShippingRule {
    pub flat_fee: i64,
    /// Subtotals of at least this ship free; `None`: never.
    pub free_from: Option<i64>,
}

impl ShippingRule {
    pub fn fee(&self, subtotal: i64) -> i64 {
        match self.free_from {
            Some(threshold) if subtotal >= threshold => 0,
            _ => self.flat_fee,
        }
    }
}

/// The rule of each currency the shop ships orders in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShippingRules(HashMap<String, ShippingRule>);

impl ShippingRules {
    /// The shipping fee of an order of `subtotal` in `currency`; `failed_precondition` for a currency the shop
    /// has no rate for.
    pub fn fee(&self, currency: &str, subtotal: i64) -> Result<i64, Error> {
        match self.0.get(currency) {
            Some(rule) => Ok(rule.fee(subtotal)),
            None => Err(Error::FailedPrecondition(format!(
                "this shop has no shipping rate for orders in {currency}, so it cannot take them"
            ))),
        }
    }

    /// The rules as set, one currency's rule replaced or added (tests).
    pub fn with(mut self, currency: &str, rule: ShippingRule) -> Self {
        self.0.insert(currency.to_owned(), rule);
        self
    }
}

impl FromStr for ShippingRules {
    type Err = String;

    /// `CUR:FEE[:FREE_FROM]`, comma-separated; an empty string is no rule at all.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut rules = HashMap::new();
        for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let parts: Vec<&str> = entry.split(':').collect();
            let amount = |text: &str| {
                text.parse::<i64>()
                    .ok()
                    .filter(|n| (0..=1_000_000_000).contains(n))
                    .ok_or_else(|| format!("{entry:?}: {text:?} is not an amount in minor units (0 to 10^9)"))
            };
            let (currency, fee, free_from) = match parts[..] {
                [currency, fee] => (currency, amount(fee)?, None),
                [currency, fee, free_from] => (currency, amount(fee)?, Some(amount(free_from)?)),
                _ => return Err(format!("{entry:?} is not CURRENCY:FEE or CURRENCY:FEE:FREE_FROM")),
            };
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!("{entry:?}: {currency:?} is not an ISO 4217 code such as JPY"));
            }
            if rules.insert(currency.to_owned(), ShippingRule { flat_fee: fee, free_from }).is_some() {
                return Err(format!("{currency} has two rules"));
            }
        }
        Ok(Self(rules))
    }
}

impl fmt::Display for ShippingRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut currencies: Vec<&String> = self.0.keys().collect();
        currencies.sort();
        let rules: Vec<String> = currencies
            .into_iter()
            .map(|currency| {
                let rule = self.0[currency];
                match rule.free_from {
                    Some(free_from) => format!("{currency}:{}:{free_from}", rule.flat_fee),
                    None => format!("{currency}:{}", rule.flat_fee),
                }
            })
            .collect();
        f.write_str(&rules.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_currency_has_its_own_fee_and_threshold_and_others_have_none() {
        let rules: ShippingRules = "JPY:500:5000, USD:700".parse().unwrap();
        assert_eq!(rules.fee("JPY", 4999).unwrap(), 500);
        assert_eq!(rules.fee("JPY", 5000).unwrap(), 0);
        assert_eq!(rules.fee("USD", 1_000_000).unwrap(), 700, "never free without a threshold");
        let refused = rules.fee("EUR", 100).unwrap_err();
        assert!(refused.to_string().contains("no shipping rate for orders in EUR"), "{refused}");
        assert_eq!(rules.to_string(), "JPY:500:5000,USD:700");
        assert_eq!("".parse::<ShippingRules>().unwrap(), ShippingRules::default());
    }

    #[test]
    fn malformed_rules_are_refused_at_start_up_with_what_is_wrong() {
        for (bad, says) in [
            ("JPY", "not CURRENCY:FEE"),
            ("JPY:500:5000:1", "not CURRENCY:FEE"),
            ("jpy:500", "ISO 4217"),
            ("JPY:-1", "not an amount"),
            ("JPY:five", "not an amount"),
            ("JPY:500,JPY:600", "two rules"),
        ] {
            let error = bad.parse::<ShippingRules>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
