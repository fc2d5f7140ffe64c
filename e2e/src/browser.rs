//! The sign-in browser ([`ec_testing::browser`]), and signing in to a [`TestPlatform`](crate::TestPlatform).

pub use ec_testing::browser::*;

/// Signs in as the storefront does (authorization code with PKCE through the login pages) and returns the
/// token response (`access_token`, `id_token`, `refresh_token`).
pub async fn sign_in(platform: &crate::TestPlatform, email: &str, password: &str) -> serde_json::Value {
    sign_in_at(platform.issuer(), &platform.login_url(), email, password).await
}
