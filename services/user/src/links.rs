//! One-time links sent by e-mail: the password-reset link ([`crate::resets`]) and the email-verification link
//! ([`crate::verification`]). A link carries a token of 32 random bytes; only its SHA-256 is stored, so a copy
//! of the database opens nothing. The links point at the login pages ([`crate::login`]).

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_platform::events::Outbox;
use sqlx::PgPool;

use crate::{
    login::signing,
    mail::{
        content::{Shop, base},
        sender::Sender,
    },
};

/// What sending a link needs: the database, the outbox the change is announced in, the mail sender to nudge,
/// the shop that writes, and where the login pages are.
#[derive(Clone)]
pub struct Links {
    pub pool: PgPool,
    pub outbox: Outbox,
    pub sender: Sender,
    pub shop: Shop,
    /// The login pages' public URL, which the links point at.
    pub login_url: url::Url,
}

impl Links {
    /// The login pages' `path` with `token` in its query.
    pub fn to(&self, path: &str, token: &str) -> String {
        let mut link = base(&self.login_url).join(path).expect("a path joins a base URL");
        link.query_pairs_mut().append_pair("token", token);
        link.into()
    }
}

/// A new token: 32 random bytes, base64url.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(signing::random_bytes::<32>())
}

/// What is stored of `token`.
pub fn hash(token: &str) -> digest::Digest {
    digest::digest(&digest::SHA256, token.as_bytes())
}
