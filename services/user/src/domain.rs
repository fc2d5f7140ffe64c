//! Account values that can only hold valid data. Each is parsed once, at the API edge, and trusted after.

use std::fmt;

use uuid::Uuid;

use crate::error::Error;

/// An account id (UUID v7, so ids sort by creation time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub Uuid);

impl UserId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses the textual form a client sends.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        Uuid::try_parse(raw).map(Self).map_err(|_| Error::InvalidArgument("id must be a UUID".into()))
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An email address as the user typed it (trimmed), with the lower-cased form used for uniqueness.
///
/// The rules are the practical ones for addresses that receive mail on the internet: one `@`, a local part of
/// 1..=64 printable characters without spaces, a domain of dot-separated labels (letters, digits, hyphens;
/// internationalised labels allowed) with at least one dot, 254 characters in all.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    /// Longest address SMTP can carry (RFC 5321 path limit less the angle brackets).
    pub const MAX_CHARS: usize = 254;

    /// Trims and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidArgument("email must be a valid address like name@example.com".into());
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.chars().count() > Self::MAX_CHARS {
            return Err(invalid());
        }
        let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.chars().count() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        Ok(Self { display: trimmed.to_owned(), normalized: trimmed.to_lowercase() })
    }

    /// The address as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded address that uniqueness is checked on.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

// Addresses are personal data: keep them out of debug output and so out of logs.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A password that meets the policy: 8 to 128 characters, counted as Unicode scalar values (so "パスワード"
/// counts 5, not 15), any characters allowed. Never printed.
pub struct Password(String);

impl Password {
    /// Fewest characters accepted (NIST SP 800-63B minimum).
    pub const MIN_CHARS: usize = 8;
    /// Most characters accepted; bounds the hashing work one request can cause.
    pub const MAX_CHARS: usize = 128;

    /// Checks the policy without ever failing on length: a 10 MB input is simply too long.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        // Count at most MAX_CHARS + 1 characters, so a huge input costs no more than a long one.
        let chars = raw.chars().take(Self::MAX_CHARS + 1).count();
        if chars < Self::MIN_CHARS {
            return Err(Error::InvalidArgument(format!("password must be at least {} characters", Self::MIN_CHARS)));
        }
        if chars > Self::MAX_CHARS {
            return Err(Error::InvalidArgument(format!("password must be at most {} characters", Self::MAX_CHARS)));
        }
        // Any printable character and space is allowed (NIST SP 800-63B); a control character is never typed,
        // and a newline or NUL would be read differently by another component.
        if raw.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("password must not contain control characters".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A display name: trimmed, 1..=100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 100;

    /// Trims and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().take(Self::MAX_CHARS + 1).count();
        if chars == 0 || chars > Self::MAX_CHARS || trimmed.chars().any(|c| c.is_control() || is_invisible_format(c)) {
            return Err(Error::InvalidArgument(format!(
                "name must be 1 to {} characters without control or invisible formatting characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Invisible formatting characters that change how a name is shown without showing themselves: zero-width
/// characters, direction marks and overrides (a name written with U+202E reads backwards), the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_compared_case_insensitively() {
        let a = Email::parse("  Alice@Example.COM ").unwrap();
        let b = Email::parse("alice@example.com").unwrap();
        assert_eq!(a.as_str(), "Alice@Example.COM");
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn ordinary_and_international_addresses_are_accepted() {
        for ok in
            ["a@example.com", "first.last+tag@sub.example.co.jp", "user@xn--bcher-kva.example", "ユーザー@例え.jp"]
        {
            assert!(Email::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_total = format!("a@{}.com", "b".repeat(260));
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "a@",
            "a@localhost",
            "a@@example.com",
            "a b@example.com",
            "a@exa mple.com",
            "a@-example.com",
            "a@example..com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a@exam\nple.com",
            "a\u{0}b@example.com",
            "<a@example.com>",
            long_local.as_str(),
            long_total.as_str(),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        // 8 characters, 24 bytes.
        assert!(Password::parse("パスワードです。").is_ok());
        // 7 characters, 21 bytes: too short although more than 8 bytes.
        assert!(Password::parse("パスワードです").is_err());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"é".repeat(129)).is_err());
    }

    #[test]
    fn control_characters_are_refused_in_passwords_and_names_and_so_are_direction_overrides_in_names() {
        for password in ["correct\nhorse", "correct\0horse", "correct\u{7f}horse", "correct\u{85}horse"] {
            assert!(matches!(Password::parse(password), Err(Error::InvalidArgument(_))), "{password:?}");
        }
        assert!(Password::parse("correct horse battery é 🐴").is_ok(), "spaces and any printable character");
        for name in ["Ada\u{1b}[31m", "Ada\u{202e}ecalevoL", "Ada\u{200b}", "\u{2066}Ada"] {
            assert!(matches!(DisplayName::parse(name), Err(Error::InvalidArgument(_))), "{name:?}");
        }
        assert!(DisplayName::parse("Ada Lovelace-Byron 🙂").is_ok());
    }

    #[test]
    fn huge_passwords_are_refused_without_error_or_panic() {
        let huge = "x".repeat(10_000_000);
        assert!(matches!(Password::parse(&huge), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let p = Password::parse("correct horse").unwrap();
        let e = Email::parse("secret@example.com").unwrap();
        assert!(!format!("{p:?}{e:?}").contains("correct"));
        assert!(!format!("{p:?}{e:?}").contains("secret"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
        assert!(DisplayName::parse("bell\u{7}").is_err());
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(UserId::parse("not-a-uuid").is_err());
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
    }
}
