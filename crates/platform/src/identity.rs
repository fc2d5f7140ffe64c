//! Who is calling: the caller identity the BFF hands to the services.
//!
//! The BFF verifies the caller's access token and sends the result to a service as metadata: the user id
//! ([`CALLER_ID_HEADER`]) and roles ([`CALLER_ROLES_HEADER`]). A service must believe those headers only when
//! they come from the BFF, because anything that can reach a service port could send them. So every
//! internal call also carries a shared secret ([`INTERNAL_TOKEN_HEADER`], configured as
//! `INTERNAL_AUTH_TOKEN` on the BFF and every service), compared in constant time. Identity headers without
//! the right secret are treated as forged: the call is refused, never downgraded to anonymous, so a
//! misconfiguration shows up at once instead of as a silent loss of access control.
//!
//! Services scope every query by [`Caller::user_id`], never by a user id taken from a request body.
//!
//! With the identity of a call that records it (CreateOrder), the BFF passes how the caller's access token
//! names them ([`Contact`]: email and name, [`CALLER_EMAIL_HEADER`], [`CALLER_NAME_HEADER`]), so the order
//! service can record who placed an order without asking the user service. Believed, like the identity, only
//! with the internal secret.
//!
//! The secret travels in clear over h2c between BFF and services: run them on a private network (or behind
//! mTLS in a service mesh) in production.

use std::{fmt, sync::Arc};

use http::HeaderMap;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::environment::{Environment, HOW_TO_MAKE_A_SECRET, SecretError, check_production_secret};

/// The caller's user id (a UUID), set by the BFF.
pub const CALLER_ID_HEADER: &str = "x-ec-caller-id";
/// The caller's roles, comma-separated (`customer,admin`), set by the BFF.
pub const CALLER_ROLES_HEADER: &str = "x-ec-caller-roles";
/// The caller's email, as their access token states it (percent-encoded UTF-8), set by the BFF.
pub const CALLER_EMAIL_HEADER: &str = "x-ec-caller-email";
/// The caller's display name, as their access token states it (percent-encoded UTF-8), set by the BFF.
pub const CALLER_NAME_HEADER: &str = "x-ec-caller-name";
/// The shared secret proving a call comes from inside the platform.
pub const INTERNAL_TOKEN_HEADER: &str = "x-ec-internal-token";
/// The platform service making a call on its own behalf (`order`), as opposed to the BFF passing a client's
/// call on; believed only with the internal secret. The BFF never sends it.
pub const CALLING_SERVICE_HEADER: &str = "x-ec-calling-service";

/// How a caller's access token names them: their email and display name, as the token was issued (a change
/// reaches tokens issued after it). Empty when the token says nothing, or the metadata is not to be believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub email: String,
    pub name: String,
}

impl Contact {
    /// Longest email kept (RFC 5321's path limit).
    pub const MAX_EMAIL_CHARS: usize = 254;
    /// Longest name kept (the user service's own limit).
    pub const MAX_NAME_CHARS: usize = 100;
}

/// What is escaped in a contact header: everything but unreserved ASCII, so any UTF-8 text travels.
const CONTACT_ESCAPED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@').remove(b'+');

/// The text of a contact header, or empty when it is missing, not percent-encoded UTF-8, holds a control
/// character or is longer than `max` characters.
fn contact_field(headers: &HeaderMap, name: &str, max: usize) -> String {
    let Some(raw) = headers.get(name).and_then(|value| value.to_str().ok()) else {
        return String::new();
    };
    match percent_encoding::percent_decode_str(raw).decode_utf8() {
        Ok(text) if text.chars().count() <= max && !text.chars().any(char::is_control) => text.into_owned(),
        _ => String::new(),
    }
}

/// Shortest secret accepted: 32 characters.
pub const MIN_TOKEN_CHARS: usize = 32;

/// What an account may do beyond its own data.
///
/// Decoded once wherever a role name enters (the database row, the access token's claims, the identity
/// headers) and refused there if it is unknown, so the rest of the code never handles a role as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A shopper: their own account, cart and orders. Every account has it.
    Customer,
    /// Back office: catalog, inventory, all orders and accounts.
    Admin,
}

impl Role {
    /// The role's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }
}

/// A role name the platform does not know.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, UnknownRole> {
        match name {
            "customer" => Ok(Role::Customer),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// Stored as its name in a `text` column (the user service's `roles text[]`, which a check constraint keeps
/// to the known names); an unknown name fails the row's decoding instead of vanishing.
impl sqlx::Type<sqlx::Postgres> for Role {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::postgres::PgHasArrayType for Role {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Role {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse()?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Role {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

/// A signed-in caller, as vouched for by the BFF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account id (the access token's `sub`).
    pub user_id: Uuid,
    /// The account's roles.
    pub roles: Vec<Role>,
}

impl Caller {
    /// Whether the caller has the admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// Whether the caller may act on the account `user_id`: their own, or any for an admin.
    pub fn may_act_for(&self, user_id: Uuid) -> bool {
        self.user_id == user_id || self.is_admin()
    }
}

/// Why caller metadata was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Identity headers or an internal token were sent without the right secret.
    #[error("caller identity is not from a trusted peer")]
    Untrusted,
    /// The headers are there but malformed (a bug in the sender).
    #[error("caller identity is malformed")]
    Malformed,
}

/// Why a call was refused for who makes it, before its request was looked at.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No signed-in caller.
    #[error("sign in to do this")]
    Unauthenticated,
    /// A signed-in caller without the admin role, for an admin-only call.
    #[error("the caller is not an admin")]
    NotAdmin,
    /// A call to an internal RPC without the platform's internal secret.
    #[error("this is an internal RPC")]
    NotInternal,
    /// Caller metadata that did not come from the BFF.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// The shared secret between the BFF and the services.
#[derive(Clone, Default, clap::Args)]
pub struct InternalAuthArgs {
    /// Shared secret (at least 32 characters) the BFF sends with every call so services can trust the caller
    /// identity it passes on. Must be the same on the BFF and every service. Unset: services trust no caller
    /// identity (only public RPCs work); `ec dev` generates one.
    #[arg(
        id = "internal_auth_token",
        long = "internal-auth-token",
        env = "INTERNAL_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl fmt::Debug for InternalAuthArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalAuthArgs").field("token", &self.token.as_ref().map(|_| "<redacted>")).finish()
    }
}

/// An internal auth token that cannot be a secret.
#[derive(Debug, thiserror::Error)]
pub enum WeakTokenError {
    #[error("INTERNAL_AUTH_TOKEN must be at least {MIN_TOKEN_CHARS} characters")]
    TooShort,
    #[error(
        "EC_ENV=production needs INTERNAL_AUTH_TOKEN, the secret shared by the BFF and every service; {HOW_TO_MAKE_A_SECRET}"
    )]
    Missing,
    #[error("EC_ENV=production refuses this INTERNAL_AUTH_TOKEN: it {0}; {HOW_TO_MAKE_A_SECRET}")]
    NotSecret(SecretError),
}

/// Reads and checks caller identity metadata.
#[derive(Clone)]
pub struct IdentityVerifier {
    token: Option<Arc<str>>,
}

impl fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityVerifier").field("configured", &self.token.is_some()).finish()
    }
}

impl IdentityVerifier {
    /// A verifier for the configured secret. Without one, no identity is ever trusted.
    pub fn new(args: &InternalAuthArgs) -> Result<Self, WeakTokenError> {
        match &args.token {
            Some(token) if token.chars().count() < MIN_TOKEN_CHARS => Err(WeakTokenError::TooShort),
            Some(token) => Ok(Self { token: Some(token.as_str().into()) }),
            None => {
                tracing::warn!("no INTERNAL_AUTH_TOKEN: caller identity is never trusted; only public RPCs work");
                Ok(Self { token: None })
            }
        }
    }

    /// A verifier for the configured secret in `environment`: production needs a secret, and one that is
    /// neither published nor guessable ([`check_production_secret`]), since whoever knows it can call internal
    /// RPCs as anyone and forge the login pages' device cookies and CSRF tokens.
    pub fn for_environment(args: &InternalAuthArgs, environment: Environment) -> Result<Self, WeakTokenError> {
        let verifier = Self::new(args)?;
        if environment == Environment::Production {
            let token = args.token.as_deref().ok_or(WeakTokenError::Missing)?;
            check_production_secret(token).map_err(WeakTokenError::NotSecret)?;
        }
        Ok(verifier)
    }

    /// A fresh random secret, for a platform whose parts all run in one process (`ec dev`, tests).
    pub fn generate_token() -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system provides randomness");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key for `purpose` derived from the internal secret (HMAC-SHA256 of the purpose under the secret), so
    /// every replica that shares the secret derives the same key and no purpose's key reveals another's or
    /// the secret. `None` without a configured secret.
    pub fn derive_key(&self, purpose: &[u8]) -> Option<[u8; 32]> {
        let token = self.token.as_ref()?;
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token.as_bytes());
        aws_lc_rs::hmac::sign(&key, purpose).as_ref().try_into().ok()
    }

    /// Whether the call carries the internal secret.
    pub fn is_internal(&self, headers: &HeaderMap) -> bool {
        let (Some(expected), Some(sent)) = (&self.token, headers.get(INTERNAL_TOKEN_HEADER)) else {
            return false;
        };
        bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
    }

    /// The signed-in caller named by the metadata; a call without one is refused.
    pub fn signed_in(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        self.caller(headers)?.ok_or(Refusal::Unauthenticated)
    }

    /// The signed-in caller named by the metadata, who must be an admin.
    pub fn admin(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let caller = self.signed_in(headers)?;
        if !caller.is_admin() {
            return Err(Refusal::NotAdmin);
        }
        Ok(caller)
    }

    /// The caller named by the metadata: `Ok(None)` for an anonymous call (no identity headers), an error
    /// when identity is claimed without the secret or is malformed.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Option<Caller>, IdentityError> {
        let id = headers.get(CALLER_ID_HEADER);
        let roles = headers.get(CALLER_ROLES_HEADER);
        if id.is_none() && roles.is_none() {
            return Ok(None);
        }
        if !self.is_internal(headers) {
            return Err(IdentityError::Untrusted);
        }
        let user_id =
            id.and_then(|v| v.to_str().ok()).and_then(|v| Uuid::try_parse(v).ok()).ok_or(IdentityError::Malformed)?;
        let roles = roles
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .filter(|name| !name.is_empty())
            .map(|name| name.trim().parse::<Role>().map_err(|_| IdentityError::Malformed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Caller { user_id, roles }))
    }

    /// Writes `caller` and the secret into outgoing metadata (the BFF's side). Without a configured secret
    /// nothing is written, so services treat the call as anonymous.
    /// Stamps the internal secret and the name of the platform `service` making calls on its own behalf.
    pub fn stamp_service(&self, service: &'static str, headers: &mut HeaderMap) {
        self.stamp(None, headers);
        headers.insert(CALLING_SERVICE_HEADER, http::HeaderValue::from_static(service));
    }

    /// The platform service making this call on its own behalf, if the call says so with the internal secret.
    pub fn calling_service<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let service = headers.get(CALLING_SERVICE_HEADER)?.to_str().ok()?;
        self.is_internal(headers).then_some(service)
    }

    /// Adds how the caller's token names them to a call [`stamp`](Self::stamp)ed with their identity; nothing
    /// without the internal secret, as for the identity.
    pub fn stamp_contact(&self, contact: &Contact, headers: &mut HeaderMap) {
        if self.token.is_none() {
            return;
        }
        for (header, text) in [(CALLER_EMAIL_HEADER, &contact.email), (CALLER_NAME_HEADER, &contact.name)] {
            if text.is_empty() {
                continue;
            }
            let encoded = percent_encoding::utf8_percent_encode(text, CONTACT_ESCAPED).to_string();
            headers.insert(header, encoded.parse().expect("percent-encoded text is a valid header value"));
        }
    }

    /// How the caller's token names them, from metadata sent with the internal secret; empty otherwise.
    pub fn contact(&self, headers: &HeaderMap) -> Contact {
        if !self.is_internal(headers) {
            return Contact::default();
        }
        Contact {
            email: contact_field(headers, CALLER_EMAIL_HEADER, Contact::MAX_EMAIL_CHARS),
            name: contact_field(headers, CALLER_NAME_HEADER, Contact::MAX_NAME_CHARS),
        }
    }

    pub fn stamp(&self, caller: Option<&Caller>, headers: &mut HeaderMap) {
        let Some(token) = &self.token else { return };
        headers.insert(INTERNAL_TOKEN_HEADER, token.parse().expect("a configured token is a valid header value"));
        if let Some(caller) = caller {
            headers
                .insert(CALLER_ID_HEADER, caller.user_id.to_string().parse().expect("a UUID is a valid header value"));
            let roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
            headers.insert(CALLER_ROLES_HEADER, roles.join(",").parse().expect("role names are valid header values"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(token: &str) -> IdentityVerifier {
        IdentityVerifier::new(&InternalAuthArgs { token: Some(token.into()) }).unwrap()
    }

    fn admin() -> Caller {
        Caller { user_id: Uuid::now_v7(), roles: vec![Role::Customer, Role::Admin] }
    }

    #[test]
    fn a_contact_travels_in_any_language_and_only_with_the_secret() {
        let secret = IdentityVerifier::generate_token();
        let contact =
            Contact { email: "hanako+shop@example.jp".into(), name: "山田 花子, \"Hana\"\u{200b}".into() };
        let mut headers = HeaderMap::new();
        verifier(&secret).stamp(Some(&admin()), &mut headers);
        verifier(&secret).stamp_contact(&contact, &mut headers);
        assert_eq!(headers[CALLER_EMAIL_HEADER], "hanako+shop@example.jp");
        assert_eq!(verifier(&secret).contact(&headers), contact);
        // Without the secret, or with another one, nothing is believed.
        assert_eq!(verifier(&IdentityVerifier::generate_token()).contact(&headers), Contact::default());
        headers.remove(INTERNAL_TOKEN_HEADER);
        assert_eq!(verifier(&secret).contact(&headers), Contact::default());
        // Text that is not percent-encoded UTF-8, carries a control character or is too long is dropped.
        let mut forged = HeaderMap::new();
        verifier(&secret).stamp(None, &mut forged);
        for (email, name) in [("%FF%FE", "a%0Ab"), (&*"a".repeat(255), &*"n".repeat(101))] {
            forged.insert(CALLER_EMAIL_HEADER, email.parse().unwrap());
            forged.insert(CALLER_NAME_HEADER, name.parse().unwrap());
            assert_eq!(verifier(&secret).contact(&forged), Contact::default(), "{email} {name}");
        }
    }

    #[test]
    fn a_stamped_identity_is_read_back_by_a_peer_with_the_same_secret() {
        let secret = IdentityVerifier::generate_token();
        let mut headers = HeaderMap::new();
        verifier(&secret).stamp(Some(&admin()), &mut headers);
        let caller = verifier(&secret).caller(&headers).unwrap().unwrap();
        assert!(caller.is_admin());
        assert!(verifier(&secret).is_internal(&headers));
    }

    #[test]
    fn identity_without_the_secret_is_refused_not_ignored() {
        let mut headers = HeaderMap::new();
        verifier(&"a".repeat(32)).stamp(Some(&admin()), &mut headers);
        assert_eq!(verifier(&"b".repeat(32)).caller(&headers), Err(IdentityError::Untrusted));
        headers.remove(INTERNAL_TOKEN_HEADER);
        assert_eq!(verifier(&"a".repeat(32)).caller(&headers), Err(IdentityError::Untrusted));
    }

    #[test]
    fn a_service_without_a_secret_trusts_no_identity() {
        let none = IdentityVerifier::new(&InternalAuthArgs::default()).unwrap();
        let mut headers = HeaderMap::new();
        verifier(&"a".repeat(32)).stamp(Some(&admin()), &mut headers);
        assert_eq!(none.caller(&headers), Err(IdentityError::Untrusted));
        assert!(!none.is_internal(&headers));
    }

    #[test]
    fn a_calling_service_is_believed_only_with_the_secret() {
        let secret = IdentityVerifier::generate_token();
        let mut headers = HeaderMap::new();
        verifier(&secret).stamp_service("order", &mut headers);
        assert_eq!(verifier(&secret).calling_service(&headers), Some("order"));
        assert_eq!(verifier(&"b".repeat(32)).calling_service(&headers), None, "another secret");
        headers.remove(INTERNAL_TOKEN_HEADER);
        assert_eq!(verifier(&secret).calling_service(&headers), None, "no secret");
    }

    #[test]
    fn no_identity_headers_is_an_anonymous_call() {
        assert_eq!(verifier(&"a".repeat(32)).caller(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn malformed_identity_is_refused() {
        let secret = "s".repeat(32);
        for (id, roles) in [("not-a-uuid", "customer"), (&*Uuid::now_v7().to_string(), "customer,root")] {
            let mut headers = HeaderMap::new();
            headers.insert(INTERNAL_TOKEN_HEADER, secret.parse().unwrap());
            headers.insert(CALLER_ID_HEADER, id.parse().unwrap());
            headers.insert(CALLER_ROLES_HEADER, roles.parse().unwrap());
            assert_eq!(verifier(&secret).caller(&headers), Err(IdentityError::Malformed), "{id} {roles}");
        }
    }

    #[test]
    fn short_secrets_are_refused_at_start_up() {
        let short = InternalAuthArgs { token: Some("too-short".into()) };
        assert!(IdentityVerifier::new(&short).is_err());
    }

    #[test]
    fn production_refuses_a_missing_published_or_guessable_secret_and_takes_a_generated_one() {
        use crate::environment::Environment::{Development, Production, Staging};
        let args = |token: Option<&str>| InternalAuthArgs { token: token.map(Into::into) };
        let published = Some("development-only-internal-token-0123456789abcdef");
        let placeholder = Some("CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME");
        let repeated = "x".repeat(64);
        assert!(matches!(IdentityVerifier::for_environment(&args(None), Production), Err(WeakTokenError::Missing)));
        for token in [published, placeholder, Some(&repeated)] {
            let refused = IdentityVerifier::for_environment(&args(token), Production);
            assert!(matches!(refused, Err(WeakTokenError::NotSecret(_))), "{token:?}");
            let message = refused.unwrap_err().to_string();
            assert!(message.contains("openssl rand -hex 32"), "{message}");
        }
        for environment in [Development, Staging] {
            assert!(IdentityVerifier::for_environment(&args(published), environment).is_ok());
            assert!(IdentityVerifier::for_environment(&args(None), environment).is_ok());
        }
        let generated = IdentityVerifier::generate_token();
        assert!(IdentityVerifier::for_environment(&args(Some(&generated)), Production).is_ok());
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let (a, b) = (IdentityVerifier::generate_token(), IdentityVerifier::generate_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
