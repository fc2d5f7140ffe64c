//! CSRF protection for the login, consent and logout forms: the double-submit cookie pattern. Rendering a
//! form sets a random token in an HttpOnly, SameSite=Strict cookie and in a hidden field; a POST is accepted
//! only when both are present and equal (compared in constant time). Another site can make the browser POST,
//! but cannot read or set the cookie, so it cannot produce a matching pair.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "ec_login_csrf";

/// The browser's token (a new one if it has none), and the jar that carries its cookie. The token stays the
/// same for the browser, so a form re-shown after a mistake, a second tab and the back button all keep
/// working.
pub fn issue(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    let token = match jar.get(COOKIE).map(|c| c.value().to_owned()) {
        Some(existing) if existing.len() == 43 => existing,
        _ => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the operating system provides randomness");
            URL_SAFE_NO_PAD.encode(bytes)
        }
    };
    let cookie = Cookie::build((COOKIE, token.clone()))
        .path("/oauth2")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), token)
}

/// Whether the form's token matches the cookie's.
pub fn verify(jar: &CookieJar, submitted: &str) -> bool {
    match jar.get(COOKIE) {
        Some(cookie) if !submitted.is_empty() => bool::from(cookie.value().as_bytes().ct_eq(submitted.as_bytes())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issued_token_verifies() {
        let (jar, token) = issue(CookieJar::new(), false);
        assert!(verify(&jar, &token));
        assert!(!verify(&jar, "forged"));
        assert!(!verify(&jar, ""));
        assert!(!verify(&CookieJar::new(), &token), "no cookie, no pass");
        let (_, other) = issue(CookieJar::new(), false);
        assert!(!verify(&jar, &other));
    }

    #[test]
    fn a_browser_keeps_its_token_across_forms() {
        let (jar, first) = issue(CookieJar::new(), false);
        let (jar, second) = issue(jar, false);
        assert_eq!(first, second);
        assert!(verify(&jar, &first));
    }
}
