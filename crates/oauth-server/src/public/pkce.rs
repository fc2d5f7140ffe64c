//! PKCE (RFC 7636, S256 only): the authorization endpoint checks the shape of a `code_challenge`, the token
//! endpoint checks the `code_verifier` against it. One place, so the two cannot disagree on what is valid.

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

pub(super) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    valid_pkce_string(verifier)
        && URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes())) == challenge
}

/// RFC 7636: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(super) fn valid_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!valid_pkce_string("too-short"));
        assert!(!valid_pkce_string(&"a".repeat(129)));
        assert!(!valid_pkce_string(&format!("{}!", "a".repeat(50))));
    }
}
