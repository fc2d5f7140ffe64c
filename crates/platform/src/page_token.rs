//! Page tokens for keyset pagination: opaque, tamper-evident, bound to what they list, and short-lived.
//!
//! A token carries where the last page ended (a cursor of the service's choosing), a digest of what is
//! listed (the filters, the audience: a token of one customer's orders must not page another's), and when
//! it was issued, signed with HMAC-SHA-256 under a key derived from the platform's internal secret. So a
//! token cannot be made up or edited, one issued for other filters is refused, and one older than a day is
//! refused as stale. Each refusal ([`PageTokenError`]) says which of the three it is and to start again from
//! the first page, and a service answers it as `invalid_argument` (`ServiceError` converts it).
//!
//! Every list of the platform pages with it: the product listing (its cursor a rank and an id), orders and
//! accounts (their cursor an id: [`PageTokens::after_id`]). Each service signs under a key of its own purpose
//! ([`key`]), so a token one service issued is refused by another as not its own (`Forged`).

use aws_lc_rs::{digest, hmac};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// How long a page token is good for, in seconds.
pub const LIFETIME_SECS: i64 = 24 * 3600;
const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Longest token accepted before any decoding.
const MAX_TOKEN_LEN: usize = 256;

/// How many items a page holds when a request leaves `page_size` at 0.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// The most items a page holds.
pub const MAX_PAGE_SIZE: i64 = 100;

/// A `page_size` outside 0 ..= [`MAX_PAGE_SIZE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("page_size must be between 0 and {MAX_PAGE_SIZE}")]
pub struct PageSizeError;

/// How many items the page a request asks for holds: its `page_size`, or [`DEFAULT_PAGE_SIZE`] for 0; every
/// list of the platform pages by the same rule.
pub fn page_size(requested: i32) -> Result<i64, PageSizeError> {
    match i64::from(requested) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size @ 1..=MAX_PAGE_SIZE => Ok(size),
        _ => Err(PageSizeError),
    }
}

/// Why a page token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    #[error("page_token was not issued by this server; start again from the first page")]
    Forged,
    #[error("page_token was issued for other filters; start again from the first page")]
    OtherFilters,
    #[error("page_token has expired; start again from the first page")]
    Expired,
}

/// A digest of what a list is of (its filters and audience), to bind tokens to: each field is
/// length-prefixed, so no two lists of fields share a digest.
pub fn binding(fields: &[&[u8]]) -> [u8; 16] {
    let mut context = digest::Context::new(&digest::SHA256);
    for field in fields {
        context.update(&(field.len() as u64).to_be_bytes());
        context.update(field);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&context.finish().as_ref()[..16]);
    out
}

/// The key page tokens for `purpose` are signed with: derived from the internal secret, so every replica
/// signs alike; without a secret, a random key of this process (its tokens do not survive a restart).
pub fn key(identity: &crate::identity::IdentityVerifier, purpose: &[u8]) -> [u8; 32] {
    identity.derive_key(purpose).unwrap_or_else(|| {
        tracing::warn!("no INTERNAL_AUTH_TOKEN: page tokens are signed with a key of this process only");
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).expect("the operating system provides randomness");
        key
    })
}

/// Signs and checks page tokens under one key.
#[derive(Clone)]
pub struct PageTokens(hmac::Key);

impl PageTokens {
    pub fn new(key: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// A token for the page after `cursor` of the list `binding`, issued at `now` (Unix seconds).
    pub fn encode(&self, binding: &[u8; 16], cursor: &[u8], now: i64) -> String {
        let mut payload = Vec::with_capacity(1 + 8 + 16 + cursor.len() + TAG_LEN);
        payload.push(VERSION);
        payload.extend_from_slice(&now.to_be_bytes());
        payload.extend_from_slice(binding);
        payload.extend_from_slice(cursor);
        let tag = hmac::sign(&self.0, &payload);
        payload.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The cursor in `token`, if this server issued it for the list `binding` within the last day and its
    /// cursor is `cursor_len` bytes long.
    pub fn decode(
        &self,
        token: &str,
        binding: &[u8; 16],
        cursor_len: usize,
        now: i64,
    ) -> Result<Vec<u8>, PageTokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(PageTokenError::Forged);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| PageTokenError::Forged)?;
        if bytes.len() != 1 + 8 + 16 + cursor_len + TAG_LEN || bytes[0] != VERSION {
            return Err(PageTokenError::Forged);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let expected = hmac::sign(&self.0, payload);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..TAG_LEN], tag).is_err() {
            return Err(PageTokenError::Forged);
        }
        if payload[9..25] != binding[..] {
            return Err(PageTokenError::OtherFilters);
        }
        let issued = i64::from_be_bytes(payload[1..9].try_into().expect("8 bytes"));
        if now - issued > LIFETIME_SECS || issued > now + 300 {
            return Err(PageTokenError::Expired);
        }
        Ok(payload[25..].to_vec())
    }

    /// For lists paged by id: the id the page starts after, from `token` as [`PageTokens::decode`] checks it;
    /// `None` for the first page (an empty token).
    pub fn after_id(&self, token: &str, binding: &[u8; 16], now: i64) -> Result<Option<uuid::Uuid>, PageTokenError> {
        if token.is_empty() {
            return Ok(None);
        }
        let cursor = self.decode(token, binding, 16, now)?;
        uuid::Uuid::from_slice(&cursor).map(Some).map_err(|_| PageTokenError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_pages_only_the_list_it_was_issued_for_and_only_for_a_day() {
        let tokens = PageTokens::new(b"a key of the tests");
        let mine = binding(&[b"user", b"1"]);
        let token = tokens.encode(&mine, b"cursor", 1_000);
        assert_eq!(tokens.decode(&token, &mine, 6, 1_000).unwrap(), b"cursor");
        assert_eq!(tokens.decode(&token, &binding(&[b"user", b"2"]), 6, 1_000), Err(PageTokenError::OtherFilters));
        assert_eq!(tokens.decode(&token, &mine, 6, 1_000 + LIFETIME_SECS + 1), Err(PageTokenError::Expired));
        assert_eq!(tokens.decode(&token, &mine, 5, 1_000), Err(PageTokenError::Forged));
        let other_key = PageTokens::new(b"another key");
        assert_eq!(other_key.decode(&token, &mine, 6, 1_000), Err(PageTokenError::Forged));
        // Any byte changed, or garbage, is refused.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert!(tokens.decode(&URL_SAFE_NO_PAD.encode(&bytes), &mine, 6, 1_000).is_err(), "byte {i}");
            bytes[i] ^= 1;
        }
        for garbage in ["", "%%%", &"A".repeat(300)] {
            assert_eq!(tokens.decode(garbage, &mine, 6, 1_000), Err(PageTokenError::Forged));
        }
        // Lists paged by id: the empty token is the first page.
        let id = uuid::Uuid::now_v7();
        let after = tokens.encode(&mine, id.as_bytes(), 1_000);
        assert_eq!(tokens.after_id(&after, &mine, 1_000), Ok(Some(id)));
        assert_eq!(tokens.after_id("", &mine, 1_000), Ok(None));
        assert_eq!(tokens.after_id(&token, &mine, 1_000), Err(PageTokenError::Forged), "a cursor of another length");
        // Page sizes: 0 is the default, and the bounds hold.
        assert_eq!(page_size(0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(1), Ok(1));
        assert_eq!(page_size(100), Ok(MAX_PAGE_SIZE));
        for wrong in [-1, 101, i32::MIN, i32::MAX] {
            assert_eq!(page_size(wrong), Err(PageSizeError), "{wrong}");
        }
        // Fields are length-prefixed: ("ab", "c") and ("a", "bc") bind differently.
        assert_ne!(binding(&[b"ab", b"c"]), binding(&[b"a", b"bc"]));
    }
}
