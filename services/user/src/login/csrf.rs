//! CSRF protection for the login, consent and logout forms: OWASP's signed double-submit cookie, bound to
//! the sign-in challenge.
//!
//! Rendering a form sets a random nonce in an HttpOnly, SameSite=Strict cookie, and puts in a hidden field
//! `expiry.HMAC-SHA256(key, nonce, challenge, expiry)`. A POST is accepted only when the field is that HMAC for
//! the cookie's nonce, the form's challenge and an expiry still ahead (compared in constant time). A token
//! lives [`LIFETIME`], as long as Hydra keeps a sign-in request by default, so a form kept from an old
//! challenge cannot be replayed later, even against a server that would still take the challenge. Another site can make the browser POST but
//! cannot read the cookie; and a site that can *set* cookies for this host (a sibling subdomain, a
//! man-in-the-middle on plain HTTP) still cannot make a matching pair, because that takes the server's key.
//! A token is good for one challenge only. Over HTTPS the cookie is `__Host-` prefixed: Secure, path `/`, and
//! no `Domain`, so no sibling subdomain can shadow it.
//!
//! The key ([`signing::Key`], for [`PURPOSE`]) is derived from the platform's internal secret, which every
//! replica shares, so a form rendered by one replica is accepted by another.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::signing::{self, Key};

/// The cookie's name over plain HTTP (development).
pub const COOKIE: &str = "ec_login_csrf";
/// The cookie's name over HTTPS: the `__Host-` prefix makes browsers refuse it unless Secure, path `/` and
/// host-only.
pub const SECURE_COOKIE: &str = "__Host-ec_login_csrf";

/// The purpose the form-token key is derived for from the platform's internal secret.
pub const PURPOSE: &[u8] = b"ec login csrf v2";

/// How long a form's token is good for: Hydra's default `ttl.login_consent_request`.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { COOKIE }
}

/// The form token for `challenge`, and the jar carrying the browser's nonce (a new one if it has none). The
/// nonce stays the same for the browser, so a form re-shown after a mistake, a second tab and the back button
/// all keep working.
pub fn issue(jar: CookieJar, key: &Key, challenge: &str, secure: bool) -> (CookieJar, String) {
    issue_until(jar, key, challenge, secure, unix_now() + LIFETIME.as_secs())
}

fn issue_until(jar: CookieJar, key: &Key, challenge: &str, secure: bool, expires: u64) -> (CookieJar, String) {
    let nonce = match jar.get(cookie_name(secure)).map(|c| c.value().to_owned()) {
        Some(existing) if existing.len() == 43 => existing,
        _ => URL_SAFE_NO_PAD.encode(signing::random_bytes::<32>()),
    };
    let expires = expires.to_string();
    let token = format!("{expires}.{}", key.sign(&[&nonce, challenge, &expires]));
    let cookie = Cookie::build((cookie_name(secure), nonce))
        .path(if secure { "/" } else { "/oauth2" })
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), token)
}

/// Whether `submitted` is a token this server made for the browser's nonce and `challenge`, not yet expired.
pub fn verify(jar: &CookieJar, key: &Key, challenge: &str, submitted: &str, secure: bool) -> bool {
    verify_at(jar, key, challenge, submitted, secure, unix_now())
}

fn verify_at(jar: &CookieJar, key: &Key, challenge: &str, submitted: &str, secure: bool, now: u64) -> bool {
    let Some(nonce) = jar.get(cookie_name(secure)) else { return false };
    let Some((expires, tag)) = submitted.split_once('.') else { return false };
    let live = expires.parse::<u64>().is_ok_and(|expires| expires > now);
    live && !challenge.is_empty() && key.verifies(&[nonce.value(), challenge, expires], tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "login-challenge-1";

    #[test]
    fn only_the_token_issued_for_the_cookie_and_challenge_verifies() {
        let key = Key::random();
        let (jar, token) = issue(CookieJar::new(), &key, CHALLENGE, false);
        assert!(verify(&jar, &key, CHALLENGE, &token, false));
        assert!(!verify(&jar, &key, CHALLENGE, "forged", false));
        assert!(!verify(&jar, &key, CHALLENGE, "", false));
        assert!(!verify(&CookieJar::new(), &key, CHALLENGE, &token, false), "no cookie, no pass");
        assert!(!verify(&jar, &key, "another-challenge", &token, false), "bound to its challenge");
        assert!(!verify(&jar, &Key::random(), CHALLENGE, &token, false), "bound to the server's key");
        let (_, other) = issue(CookieJar::new(), &key, CHALLENGE, false);
        assert!(!verify(&jar, &key, CHALLENGE, &other, false), "another browser's token");
    }

    #[test]
    fn a_pair_made_by_someone_who_can_set_cookies_is_refused() {
        let key = Key::random();
        // The old scheme accepted any cookie value equal to the form value.
        let nonce = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let jar = CookieJar::new().add(Cookie::new(COOKIE, nonce.clone()));
        assert!(!verify(&jar, &key, CHALLENGE, &nonce, false));
        // Nor can a token be computed without the key.
        let guessed = Key::new(b"not the server's key").sign(&[&nonce, CHALLENGE]);
        assert!(!verify(&jar, &key, CHALLENGE, &guessed, false));
    }

    #[test]
    fn a_browser_keeps_its_nonce_across_forms() {
        let key = Key::random();
        let (jar, first) = issue(CookieJar::new(), &key, CHALLENGE, false);
        let nonce = jar.get(COOKIE).unwrap().value().to_owned();
        let (jar, second) = issue(jar, &key, CHALLENGE, false);
        assert_eq!(jar.get(COOKIE).unwrap().value(), nonce);
        assert!(verify(&jar, &key, CHALLENGE, &first, false) && verify(&jar, &key, CHALLENGE, &second, false));
    }

    #[test]
    fn a_token_expires_and_its_expiry_cannot_be_moved() {
        let key = Key::random();
        let now = unix_now();
        let (jar, token) = issue_until(CookieJar::new(), &key, CHALLENGE, false, now + 60);
        assert!(verify_at(&jar, &key, CHALLENGE, &token, false, now + 59));
        assert!(!verify_at(&jar, &key, CHALLENGE, &token, false, now + 60), "expired");
        let (_, tag) = token.split_once('.').unwrap();
        let moved = format!("{}.{tag}", now + 3600);
        assert!(!verify_at(&jar, &key, CHALLENGE, &moved, false, now + 61), "the expiry is signed");
        assert!(!verify_at(&jar, &key, CHALLENGE, tag, false, now), "no expiry, no pass");
        let (_, fresh) = issue(jar.clone(), &key, CHALLENGE, false);
        assert!(verify(&jar, &key, CHALLENGE, &fresh, false));
    }

    #[test]
    fn over_https_the_cookie_is_host_prefixed_secure_and_site_wide() {
        let key = Key::random();
        let (jar, token) = issue(CookieJar::new(), &key, CHALLENGE, true);
        let cookie = jar.get(SECURE_COOKIE).expect("the __Host- cookie");
        assert_eq!((cookie.secure(), cookie.path(), cookie.domain()), (Some(true), Some("/"), None));
        assert_eq!(cookie.http_only(), Some(true));
        assert!(verify(&jar, &key, CHALLENGE, &token, true));
        assert!(!verify(&jar, &key, CHALLENGE, &token, false), "the plain cookie is another cookie");
    }
}
