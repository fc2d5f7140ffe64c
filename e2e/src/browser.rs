//! The sign-in browser ([`ec_testing::browser`]), and signing in to a [`TestPlatform`](crate::TestPlatform).

pub use ec_testing::browser::*;

/// Signs in as the storefront does (authorization code with PKCE through the login pages) and returns the
/// token response (`access_token`, `id_token`, `refresh_token`).
pub async fn sign_in(platform: &crate::TestPlatform, email: &str, password: &str) -> serde_json::Value {
    let issuer = &platform.addresses.oauth.as_ref().expect("the embedded OAuth2 server runs").issuer;
    let login = platform.addresses.login.expect("the login pages run");
    sign_in_at(issuer, &format!("http://{login}"), email, password).await
}
