//! The claims of the platform's access tokens, typed once for everyone who writes or reads them.
//!
//! Hydra's JWT strategy writes an access token as [`AccessTokenClaims`]: the registered claims, `client_id`,
//! the granted scopes as `scp`, and the consent session's `access_token` object under `ext`, with the names
//! listed in its `strategies.jwt` settings copied to the top level too. The platform's part of that object is
//! [`AccountClaims`]:
//!
//! - the login pages (the user service) put an [`AccountClaims`] into the consent session;
//! - the embedded OAuth2 server (Hydra's stand-in) mints `AccessTokenClaims<serde_json::Map>`, passing the
//!   consent session through untouched, as Hydra does;
//! - the BFF reads `AccessTokenClaims<AccountClaims>`, so a role name it does not know, or a claim of the wrong
//!   type, fails the token's decoding instead of being skipped.
//!
//! What a token may be used for is its granted [`Scope`]s: the user decides on the consent page what a client
//! may do in their name, and the BFF refuses a call whose route needs a scope the token lacks.

use serde::{Deserialize, Serialize};

use crate::identity::{Contact, Role};

/// The API's OAuth2 scopes: what a client may do with a token, whatever the account's roles allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `shop`: the account, its cart and its orders.
    Shop,
    /// `backoffice`: an admin's work (the catalog, stock, every order and account). A token without it carries
    /// no admin rights, even for an admin.
    Backoffice,
}

impl Scope {
    /// Every scope of the API.
    pub const ALL: [Scope; 2] = [Scope::Shop, Scope::Backoffice];

    /// The scope's name in tokens and authorization requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Shop => "shop",
            Scope::Backoffice => "backoffice",
        }
    }

    /// Whether `granted` (a token's scopes) includes this one.
    pub fn granted_in(self, granted: &[String]) -> bool {
        granted.iter().any(|scope| scope == self.as_str())
    }
}

/// What the platform says about an account in its tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// OpenID Connect's `email_verified`: whether the holder showed that `email` reaches them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
}

/// A JWT access token's claims as Hydra writes them. `E` is the consent session's `access_token` object:
/// [`AccountClaims`] for readers, any JSON object for an issuer that passes it through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims<E> {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The client the token was issued to. Access tokens have it; ID tokens do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The granted scopes as an array, as Hydra writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<Vec<String>>,
    /// The granted scopes as one space-separated string, as some other issuers write them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The consent session's claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<E>,
    /// The consent session's claims copied to the top level.
    #[serde(flatten)]
    pub top_level: E,
}

impl<E> AccessTokenClaims<E> {
    /// The granted scopes: `scp` if the token has it, else `scope` split at spaces, else none.
    pub fn scopes(&self) -> Vec<String> {
        match (&self.scp, &self.scope) {
            (Some(scp), _) => scp.clone(),
            (None, Some(scope)) => scope.split_whitespace().map(String::from).collect(),
            (None, None) => Vec::new(),
        }
    }
}

impl AccessTokenClaims<AccountClaims> {
    /// The account's roles: at the top level, else under `ext`, else those of every account (customer).
    pub fn roles(&self) -> Vec<Role> {
        self.top_level
            .roles
            .clone()
            .or_else(|| self.ext.as_ref().and_then(|ext| ext.roles.clone()))
            .unwrap_or_else(|| vec![Role::Customer])
    }

    /// The account's email and name: each at the top level, else under `ext`, else empty.
    pub fn contact(&self) -> Contact {
        let claim = |pick: fn(&AccountClaims) -> &Option<String>| {
            pick(&self.top_level).clone().or_else(|| self.ext.as_ref().and_then(|ext| pick(ext).clone()))
        };
        Contact {
            email: claim(|claims| &claims.email).unwrap_or_default(),
            name: claim(|claims| &claims.name).unwrap_or_default(),
        }
    }
}

/// `aud`: one audience or several (RFC 7519 allows either; Hydra writes an array).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(claims: serde_json::Value) -> Result<AccessTokenClaims<AccountClaims>, serde_json::Error> {
        serde_json::from_value(claims)
    }

    fn hydra_shaped(extra: serde_json::Value) -> serde_json::Value {
        let mut claims = json!({"iss": "https://issuer/", "sub": "s", "aud": ["ec-api"], "exp": 2, "iat": 1});
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        claims
    }

    /// Why claims Hydra-shaped but for `extra` are refused: a data error (not a syntax error), its message.
    fn refusal(extra: serde_json::Value) -> String {
        let error = read(hydra_shaped(extra.clone())).expect_err(&format!("{extra} is refused"));
        assert_eq!(error.classify(), serde_json::error::Category::Data, "{error}");
        error.to_string()
    }

    #[test]
    fn roles_are_read_at_the_top_level_then_under_ext_and_default_to_customer() {
        let top = read(hydra_shaped(json!({"roles": ["admin"], "ext": {"roles": ["customer"]}}))).unwrap();
        assert_eq!(top.roles(), vec![Role::Admin]);
        let ext = read(hydra_shaped(json!({"ext": {"roles": ["customer", "admin"]}}))).unwrap();
        assert_eq!(ext.roles(), vec![Role::Customer, Role::Admin]);
        assert_eq!(read(hydra_shaped(json!({}))).unwrap().roles(), vec![Role::Customer]);
    }

    #[test]
    fn an_unknown_role_fails_the_claims_instead_of_vanishing() {
        assert_eq!(
            refusal(json!({"roles": ["customer", "root"]})),
            "unknown variant `root`, expected `customer` or `admin`"
        );
        assert_eq!(
            refusal(json!({"ext": {"roles": ["superuser"]}})),
            "unknown variant `superuser`, expected `customer` or `admin`"
        );
    }

    #[test]
    fn scopes_come_from_scp_or_scope_and_a_malformed_one_fails() {
        let scp = read(hydra_shaped(json!({"scp": ["openid", "email"]}))).unwrap();
        assert_eq!(scp.scopes(), ["openid", "email"]);
        let scope = read(hydra_shaped(json!({"scope": "openid  email"}))).unwrap();
        assert_eq!(scope.scopes(), ["openid", "email"]);
        assert!(read(hydra_shaped(json!({}))).unwrap().scopes().is_empty());
        assert_eq!(refusal(json!({"scp": "openid"})), "invalid type: string \"openid\", expected a sequence");
        assert_eq!(refusal(json!({"scp": [1]})), "invalid type: integer `1`, expected a string");
        assert_eq!(refusal(json!({"scope": ["openid"]})), "invalid type: sequence, expected a string");
    }

    #[test]
    fn what_the_login_pages_write_is_what_the_bff_reads() {
        let account = AccountClaims {
            email: Some("a@example.com".into()),
            email_verified: Some(true),
            name: None,
            roles: Some(vec![Role::Customer]),
        };
        let written = serde_json::to_value(&account).unwrap();
        let expected = json!({"email": "a@example.com", "email_verified": true, "roles": ["customer"]});
        assert_eq!(written, expected, "absent claims are left out");
        let token = read(hydra_shaped(json!({"ext": written.clone()}))).unwrap();
        assert_eq!(token.ext, Some(account));
    }

    #[test]
    fn an_audience_is_one_string_or_many() {
        assert_eq!(read(hydra_shaped(json!({"aud": "ec-api"}))).unwrap().aud, Audience::One("ec-api".into()));
        assert!(read(hydra_shaped(json!({"aud": 7}))).is_err());
    }
}
