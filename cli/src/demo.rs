//! What `ec dev` adds for a developer: demo accounts and a banner saying how to sign in.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_oauth_server::config::OAuthServerConfig;
use ec_platform::environment::Environment;
use ec_user::{
    accounts,
    domain::{Email, Password, UserId},
    error::{Error, UserError},
    mail::Language,
    verification,
};
use sqlx::PgPool;

use crate::platform::Addresses;

/// The demo accounts: email, password, admin.
pub const ACCOUNTS: [(&str, &str, bool); 2] =
    [("shopper@example.com", "shopper-password", false), ("admin@example.com", "admin-password", true)];

/// Creates the demo accounts if they do not exist (their passwords are public: development only).
pub async fn ensure_accounts(pool: &PgPool) -> anyhow::Result<()> {
    for (email, password, admin) in ACCOUNTS {
        let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
        let password = Password::parse(password).map_err(|e| anyhow::anyhow!("{e}"))?;
        // Their addresses are made up, so no link could reach them: they are verified by fiat.
        match accounts::create(pool, &ec_user::events::outbox(), email.clone(), password, None, Language::En).await {
            Ok(row) => verification::mark_verified(pool, UserId(row.id)).await?,
            Err(Error::Own(UserError::EmailTaken)) => {}
            Err(e) => return Err(e.into()),
        }
        if admin {
            accounts::make_admin_by_email(pool, &email).await?;
        }
    }
    Ok(())
}

/// The start-up banner: where everything is and how to sign in.
pub fn banner(addresses: &Addresses, oauth: &OAuthServerConfig, demo_data: bool) -> String {
    let mut text = format!(
        "\nThe platform is up. Ctrl-C stops it.\n\
         \n  BFF (Connect, gRPC-Web, gRPC)  http://{}\
         \n  BFF /ready and /metrics        http://{}\
         \n  user service                   http://{}\
         \n  product service                http://{}\
         \n  order service                  http://{}\n",
        addresses.bff, addresses.bff_ops, addresses.user, addresses.product, addresses.order
    );
    if let Some(web) = addresses.web {
        text += &format!("  storefront                     http://{web}\n");
    }
    if let Some(login) = addresses.login {
        text += &format!("  login and consent pages        http://{login}/oauth2/login\n");
    }
    if let Some(mailbox) = &addresses.mailbox {
        text += &format!("  mailbox (messages sent)        {mailbox}\n");
    }
    if let Some(embedded) = &addresses.oauth {
        let mut verifier = [0u8; 32];
        getrandom::fill(&mut verifier).expect("the operating system provides randomness");
        let verifier = URL_SAFE_NO_PAD.encode(verifier);
        let challenge =
            URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
        let redirect = oauth.spa_redirect_uris.first().cloned().unwrap_or_default();
        let authorize = format!(
            "{}oauth2/auth?response_type=code&client_id={}&redirect_uri={}&scope=openid+offline_access+email+profile+shop+backoffice&audience={}&state=demo-state-1&code_challenge={challenge}&code_challenge_method=S256",
            embedded.issuer,
            oauth.spa_client_id,
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
            oauth.api_audience,
        );
        text += &format!(
            "  OAuth2 server (embedded)       {} (admin http://{})\n\
             \nSign in (authorization code with PKCE), as the storefront would:\
             \n  client id      {} (public, redirect {redirect})\
             \n  1. open        {authorize}\
             \n  2. sign in; the browser lands on {redirect}?code=...\
             \n  3. exchange    curl -d grant_type=authorization_code -d client_id={} -d redirect_uri={redirect} \\\
             \n                      -d code_verifier={verifier} -d code=<code> {}oauth2/token\n",
            embedded.issuer, embedded.admin, oauth.spa_client_id, oauth.spa_client_id, embedded.issuer,
        );
    }
    if demo_data {
        text += "\nDemo accounts (development only):\n";
        for (email, password, admin) in ACCOUNTS {
            text += &format!("  {email:<22} {password}{}\n", if admin { "   (admin)" } else { "" });
        }
    }
    text
}

/// Whether demo data goes into the database: only in development, and only into the embedded PostgreSQL
/// unless asked for (`--demo-data`), since the demo admin's password is public and an existing account
/// with its email would be made an admin.
pub fn wanted(environment: Environment, embedded: bool, no_demo_data: bool, demo_data: bool) -> bool {
    environment == Environment::Development && !no_demo_data && (embedded || demo_data)
}
