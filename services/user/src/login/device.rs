//! Device cookies, after OWASP's "Slow down online guessing attacks with device cookies": a browser that has
//! signed in to an account before carries a token saying so, and the [throttle](crate::throttle) counts its
//! failures apart from everyone else's. Guessing from elsewhere slows strangers down; the owner's own browser
//! keeps working.
//!
//! The cookie holds up to [`MAX_ACCOUNTS`] entries (a shared family computer), each `{id}.{tag}`: a random
//! device id and `HMAC(key, "device", id, email)`. An entry names its account only through the HMAC, so the
//! cookie does not show who signed in, and without the server's key no entry can be made for an account. Each
//! successful sign-in replaces the account's entry with a new id. The cookie is HttpOnly and SameSite=Strict,
//! and over HTTPS `__Host-` prefixed, like the form cookie.

use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::signing::{self, Key};

/// The cookie's name over plain HTTP (development).
pub const COOKIE: &str = "ec_login_device";
/// The cookie's name over HTTPS.
pub const SECURE_COOKIE: &str = "__Host-ec_login_device";
/// The purpose the device-cookie key is derived for from the platform's internal secret.
pub const PURPOSE: &[u8] = b"ec login device v1";
/// Accounts one browser is remembered for; signing in to another drops the oldest.
pub const MAX_ACCOUNTS: usize = 5;

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { COOKIE }
}

/// The entries of the browser's cookie, as (device id, tag); anything malformed is skipped.
fn entries(jar: &CookieJar, secure: bool) -> Vec<(&str, &str)> {
    let Some(cookie) = jar.get(cookie_name(secure)) else { return Vec::new() };
    cookie.value().split('~').filter_map(|entry| entry.split_once('.')).take(MAX_ACCOUNTS).collect()
}

fn signs(key: &Key, id: &str, email: &str, tag: &str) -> bool {
    key.verifies(&["device", id, email], tag)
}

/// The id of this browser's device entry for `email` (normalised as the throttle keys it), if it has one that
/// this server signed.
pub fn recognised(jar: &CookieJar, key: &Key, email: &str, secure: bool) -> Option<String> {
    entries(jar, secure).into_iter().find(|(id, tag)| signs(key, id, email, tag)).map(|(id, _)| id.to_owned())
}

/// After a successful sign-in to `email`: the jar with a new entry for it (replacing its old one, and the
/// oldest other entry when the cookie is full), kept for `lifetime`.
pub fn remember(jar: CookieJar, key: &Key, email: &str, secure: bool, lifetime: Duration) -> CookieJar {
    let id = URL_SAFE_NO_PAD.encode(signing::random_bytes::<16>());
    let tag = key.sign(&["device", &id, email]);
    let mut kept: Vec<String> = entries(&jar, secure)
        .into_iter()
        .filter(|(id, tag)| !signs(key, id, email, tag))
        .map(|(id, tag)| format!("{id}.{tag}"))
        .collect();
    kept.push(format!("{id}.{tag}"));
    let first = kept.len().saturating_sub(MAX_ACCOUNTS);
    let cookie = Cookie::build((cookie_name(secure), kept[first..].join("~")))
        .path(if secure { "/" } else { "/oauth2" })
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(lifetime.as_secs().try_into().unwrap_or(i64::MAX)))
        .build();
    jar.add(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

    #[test]
    fn a_browser_is_recognised_for_the_accounts_it_signed_in_to_only() {
        let key = Key::random();
        let jar = remember(CookieJar::new(), &key, "ada@example.com", false, YEAR);
        let ada = recognised(&jar, &key, "ada@example.com", false).expect("recognised");
        assert_eq!(recognised(&jar, &key, "bob@example.com", false), None, "another account");
        assert_eq!(recognised(&jar, &Key::random(), "ada@example.com", false), None, "another server's key");
        assert_eq!(recognised(&jar, &key, "ada@example.com", true), None, "the secure cookie is another cookie");

        let jar = remember(jar, &key, "bob@example.com", false, YEAR);
        assert_eq!(recognised(&jar, &key, "ada@example.com", false).as_deref(), Some(ada.as_str()), "kept");
        assert!(recognised(&jar, &key, "bob@example.com", false).is_some());
        let again = remember(jar, &key, "ada@example.com", false, YEAR);
        let renewed = recognised(&again, &key, "ada@example.com", false).unwrap();
        assert_ne!(renewed, ada, "each sign-in gives a new device id");
        assert_eq!(again.get(COOKIE).unwrap().value().split('~').count(), 2, "one entry per account");
    }

    #[test]
    fn forged_entries_are_not_recognised_and_the_cookie_does_not_name_the_account() {
        let key = Key::random();
        let jar = remember(CookieJar::new(), &key, "secret.person@example.com", false, YEAR);
        let cookie = jar.get(COOKIE).unwrap();
        assert!(!cookie.value().contains("secret"));
        assert_eq!((cookie.http_only(), cookie.same_site()), (Some(true), Some(SameSite::Strict)));
        for value in ["", "garbage", "abc.def", "~.~", &format!("x.{}", key.sign(&["device", "y", "a@b.c"]))] {
            let jar = CookieJar::new().add(Cookie::new(COOKIE, value.to_owned()));
            assert_eq!(recognised(&jar, &key, "a@b.c", false), None, "{value:?}");
        }
    }

    #[test]
    fn a_full_cookie_drops_its_oldest_account() {
        let key = Key::random();
        let mut jar = CookieJar::new();
        for n in 0..=MAX_ACCOUNTS {
            jar = remember(jar, &key, &format!("user{n}@example.com"), true, YEAR);
        }
        assert_eq!(recognised(&jar, &key, "user0@example.com", true), None);
        assert!((1..=MAX_ACCOUNTS).all(|n| recognised(&jar, &key, &format!("user{n}@example.com"), true).is_some()));
        let cookie = jar.get(SECURE_COOKIE).unwrap();
        assert_eq!((cookie.secure(), cookie.path(), cookie.domain()), (Some(true), Some("/"), None));
        assert_eq!(cookie.max_age(), Some(cookie::time::Duration::seconds(YEAR.as_secs() as i64)));
    }
}
