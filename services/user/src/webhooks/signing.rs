//! Standard Webhooks signatures: a secret is `whsec_` and the base64 of its key; a delivery's
//! `webhook-signature` is `v1,` and the base64 of HMAC-SHA256(key, `{webhook-id}.{webhook-timestamp}.{body}`),
//! one per secret in force, separated by spaces (during a rotation, the new secret's and the old's).

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::login::signing::random_bytes;

/// What every secret starts with.
const PREFIX: &str = "whsec_";

/// A new secret: 32 random bytes.
pub fn new_secret() -> String {
    format!("{PREFIX}{}", STANDARD.encode(random_bytes::<32>()))
}

/// The `webhook-signature` header's value for `body`, sent as message `id` at `timestamp` (Unix seconds),
/// signed with each of `secrets`.
pub fn signature<'a>(secrets: impl IntoIterator<Item = &'a str>, id: &str, timestamp: i64, body: &[u8]) -> String {
    let signed = [id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body].concat();
    secrets
        .into_iter()
        .filter_map(|secret| {
            let key = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &signed);
            Some(format!("v1,{}", STANDARD.encode(tag.as_ref())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_specifications_example() {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md, "Signature scheme").
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn each_secret_in_force_signs_and_a_malformed_one_is_skipped() {
        let (new, old) = (new_secret(), new_secret());
        assert!(new.starts_with("whsec_") && new != old);
        let both = signature([new.as_str(), old.as_str()], "id", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature([new.as_str()], "id", 1, b"{}"));
        assert_eq!(signature(["not-a-secret", new.as_str()], "id", 1, b"{}"), parts[0]);
    }
}
