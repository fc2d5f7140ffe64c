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
    /// Why an address mixing look-alike scripts is refused (the pages say it in their own words).
    pub const MIXED_SCRIPTS: &str = "email must not mix look-alike scripts (such as Latin and Cyrillic) in one part";

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
        if !single_script(local) || !labels.iter().all(|label| single_script(label)) {
            return Err(Error::InvalidArgument(Self::MIXED_SCRIPTS.into()));
        }
        Ok(Self { display: trimmed.to_owned(), normalized: normalize_email(trimmed) })
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

/// The key an address is unique under and looked up by, so that an address cannot register beside another it
/// looks like: compatibility-normalised (NFKC: full-width and other compatibility forms become what they
/// stand for), lower case, and every non-ASCII character replaced by what it looks like (Unicode TS #39
/// confusables: Cyrillic "а" and "ӏ" are Latin "a" and "l"). ASCII itself is kept as it is: `modern` and
/// `modem`, or `bill` and `bi1l`, are different people's addresses.
pub fn normalize_email(address: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut key = String::with_capacity(address.len());
    for c in address.trim().nfkc().flat_map(char::to_lowercase) {
        if c.is_ascii() {
            key.push(c);
        } else {
            let mut buffer = [0u8; 4];
            let looks_like: String = unicode_security::skeleton(c.encode_utf8(&mut buffer)).collect();
            match ascii_looking_like(&looks_like) {
                Some(ascii) => key.push(ascii),
                None => key.extend(looks_like.chars().flat_map(char::to_lowercase)),
            }
        }
    }
    key
}

/// The lower-case ASCII character whose TS #39 skeleton is `skeleton` (preferring a character that is its own
/// skeleton: `l` over `1` and `I`), if any. Skeletons do not keep ASCII as it is (`m` is "rn"), so a
/// non-ASCII character is mapped back to the ASCII one it shares a skeleton with.
fn ascii_looking_like(skeleton: &str) -> Option<char> {
    static ASCII: std::sync::LazyLock<std::collections::HashMap<String, char>> = std::sync::LazyLock::new(|| {
        let mut by_skeleton = std::collections::HashMap::new();
        for c in (b'!'..=b'~').map(char::from).filter(|c| !c.is_ascii_uppercase()) {
            let skeleton: String = unicode_security::skeleton(c.encode_utf8(&mut [0u8; 4])).collect();
            let own = skeleton.len() == 1 && skeleton.starts_with(c);
            if own || !by_skeleton.contains_key(&skeleton) {
                by_skeleton.insert(skeleton, c);
            }
        }
        by_skeleton
    });
    ASCII.get(skeleton).copied()
}

/// Whether the letters and digits of one part of an address keep to one script, or to a combination people
/// write together (Unicode TS #39 "highly restrictive": Latin with Han and kana, with Han and Hangul...), so
/// Latin mixed with Cyrillic or Greek look-alikes is refused.
fn single_script(part: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
    let letters: String = part.nfkc().filter(|c| c.is_alphanumeric()).collect();
    letters.as_str().check_restriction_level(RestrictionLevel::HighlyRestrictive)
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
    fn look_alike_addresses_share_one_key_and_mixed_scripts_are_refused() {
        let key = |raw: &str| Email::parse(raw).unwrap().normalized().to_owned();
        // All-Cyrillic "аоа" and "ехе" look exactly like Latin "aoa" and "exe".
        assert_eq!(key("\u{430}\u{43e}\u{430}@example.com"), key("aoa@example.com"));
        assert_eq!(key("aoa@\u{435}\u{445}\u{435}.com"), key("aoa@exe.com"));
        assert_eq!(key("ＡＤＡ@example.com"), key("ada@example.com"), "full-width letters");
        assert_eq!(key("e\u{301}mile@example.fr"), key("\u{e9}mile@example.fr"), "composed or not");
        // ASCII stays as typed: these are different addresses.
        assert_ne!(key("modern@example.com"), key("modem@example.com"));
        assert_ne!(key("bill@example.com"), key("bi1l@example.com"));
        assert_ne!(key("ユーザー@例え.jp"), key("ユーザ@例え.jp"));
        assert_eq!(key("\u{4cf}\u{43e}\u{4cf}@example.com"), key("lol@example.com"), "palochka is l, not I");

        for mixed in ["p\u{430}ypal@example.com", "ada@\u{435}xample.com", "\u{3b1}lpha@example.com"] {
            assert!(matches!(Email::parse(mixed), Err(Error::InvalidArgument(_))), "{mixed}");
        }
        for ok in ["田中taro@example.jp", "иван.петров@пример.рф", "ada.lovelace+shop@example.com"]
        {
            assert!(Email::parse(ok).is_ok(), "{ok}");
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
