//! The OAuth2 client registry: the built-in single-page app and an optional JSON file in Hydra's client
//! format at start-up, and clients created later through Hydra's admin API (`POST /admin/clients`), as a
//! deployment script does to register its clients. Every client is validated the same way either way.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::config::OAuthServerConfig;

/// How a client proves who it is at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with client_id and client_secret (Hydra's default).
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A public client (browser or mobile app): no secret, PKCE required.
    None,
}

/// A registered client, as Hydra describes one (the subset the platform uses).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    /// Made by [`Clients::register`] when a created client names none; required in the clients file.
    #[serde(default)]
    pub client_id: String,
    #[serde(default, skip_serializing)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    /// Space-separated scopes the client may ask for.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub audience: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: AuthMethod,
    /// A trusted first-party client: the consent app accepts without asking.
    #[serde(default)]
    pub skip_consent: bool,
    /// Web origins (`scheme://host[:port]`) whose pages may call the public endpoints from the browser
    /// (discovery, the JWKS, the token endpoint), as a single-page app's code exchange and refresh do.
    #[serde(default)]
    pub allowed_cors_origins: Vec<String>,
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}

fn default_auth_method() -> AuthMethod {
    AuthMethod::ClientSecretBasic
}

impl Client {
    /// Whether the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether the client may ask for `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }

    /// Whether `secret` is the client's secret (constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.client_secret.as_deref().is_some_and(|own| bool::from(own.as_bytes().ct_eq(secret.as_bytes())))
    }

    /// A public client has no secret and must use PKCE.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }
}

/// Why the client registry could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    #[error("cannot read the clients file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the clients file {path} is not a JSON array of clients")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("client {0} is invalid: {1}")]
    Invalid(String, &'static str),
    #[error("client {0} has a redirect URI that cannot be used: {1}")]
    InvalidRedirect(String, &'static str),
    #[error("a client with the id {0} already exists")]
    Exists(String),
}

/// Every registered client by id.
#[derive(Debug, Default)]
pub struct Clients(RwLock<HashMap<String, Arc<Client>>>);

impl Clients {
    /// The built-in single-page app plus the clients of the configured file.
    pub fn from_config(config: &OAuthServerConfig) -> Result<Self, ClientsError> {
        let mut clients = vec![Client {
            client_id: config.spa_client_id.clone(),
            client_secret: None,
            client_name: "Shop".into(),
            redirect_uris: config.spa_redirect_uris.clone(),
            post_logout_redirect_uris: config.spa_redirect_uris.clone(),
            grant_types: default_grant_types(),
            response_types: default_response_types(),
            scope: "openid offline_access profile email shop backoffice".into(),
            audience: vec![config.api_audience.clone()],
            token_endpoint_auth_method: AuthMethod::None,
            skip_consent: true,
            allowed_cors_origins: origins_of(&config.spa_redirect_uris),
        }];
        if let Some(path) = &config.clients_file {
            let shown = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| ClientsError::Read { path: shown.clone(), source })?;
            let extra: Vec<Client> =
                serde_json::from_str(&text).map_err(|source| ClientsError::Parse { path: shown, source })?;
            clients.extend(extra);
        }
        Self::new(clients)
    }

    /// A registry of exactly these clients.
    pub fn new(clients: Vec<Client>) -> Result<Self, ClientsError> {
        let mut by_id = HashMap::new();
        for client in clients {
            validate(&client)?;
            let id = client.client_id.clone();
            if by_id.insert(id.clone(), Arc::new(client)).is_some() {
                return Err(ClientsError::Invalid(id, "registered twice"));
            }
        }
        Ok(Self(RwLock::new(by_id)))
    }

    /// The client with this id.
    pub fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Whether some client lists `origin` in its `allowed_cors_origins`.
    pub fn allow_origin(&self, origin: &str) -> bool {
        let clients = self.0.read().unwrap_or_else(|p| p.into_inner());
        clients.values().any(|client| client.allowed_cors_origins.iter().any(|allowed| allowed == origin))
    }

    /// Registers `client`, as Hydra's `createOAuth2Client` does: an id is made if it has none, and a secret
    /// if it is a confidential client without one. Answers the client as registered, secret included (the
    /// only time the secret is shown).
    pub fn register(&self, mut client: Client) -> Result<Client, ClientsError> {
        if client.client_id.is_empty() {
            client.client_id = uuid::Uuid::new_v4().to_string();
        }
        if !client.is_public() && client.client_secret.is_none() {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).expect("the operating system provides randomness");
            client.client_secret =
                Some(base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret));
        }
        validate(&client)?;
        let mut clients = self.0.write().unwrap_or_else(|p| p.into_inner());
        if clients.contains_key(&client.client_id) {
            return Err(ClientsError::Exists(client.client_id));
        }
        clients.insert(client.client_id.clone(), Arc::new(client.clone()));
        Ok(client)
    }
}

/// What every client must be, however it is registered.
fn validate(client: &Client) -> Result<(), ClientsError> {
    let invalid = |why| Err(ClientsError::Invalid(client.client_id.clone(), why));
    if client.client_id.is_empty() {
        return invalid("client_id is empty");
    }
    if client.is_public() && client.client_secret.is_some() {
        return invalid("a public client (token_endpoint_auth_method none) has no secret");
    }
    if !client.is_public() && client.client_secret.as_deref().is_none_or(|s| s.len() < 16) {
        return invalid("a confidential client needs a client_secret of 16 characters or more");
    }
    let uris = client.redirect_uris.iter().chain(&client.post_logout_redirect_uris);
    for uri in uris {
        if let Err(why) = redirect_uri(uri) {
            return Err(ClientsError::InvalidRedirect(client.client_id.clone(), why));
        }
    }
    // As Hydra checks a client: a post-logout redirect goes back to where one of the redirect URIs does.
    let place = |url: &url::Url| (url.scheme().to_owned(), url.host_str().map(str::to_owned), url.port());
    let redirects: Vec<_> =
        client.redirect_uris.iter().filter_map(|uri| url::Url::parse(uri).ok()).map(|u| place(&u)).collect();
    for uri in &client.post_logout_redirect_uris {
        let url = url::Url::parse(uri).expect("checked above");
        if !redirects.contains(&place(&url)) {
            return Err(ClientsError::InvalidRedirect(
                client.client_id.clone(),
                "a post_logout_redirect_uri must have the scheme, host and port of a redirect URI",
            ));
        }
    }
    if client.allowed_cors_origins.iter().any(|origin| origins_of(std::slice::from_ref(origin)) != [origin.as_str()]) {
        return invalid("every allowed CORS origin must be scheme://host[:port], nothing more");
    }
    Ok(())
}

/// Whether `uri` may be a redirect URI, by Hydra's rules (an absolute URI without a fragment) and OAuth 2.0's
/// for where codes may be sent (RFC 6749 §3.1.2, RFC 8252 §7, the OAuth 2.0 Security BCP): HTTPS; plain HTTP
/// only to this machine (`localhost` or a loopback address), for development and native apps; or a
/// private-use scheme named after a domain (`com.example.app:/cb`) for native apps. No `javascript:`,
/// `data:` or other scheme a browser would run or read instead of sending the code on, and no credentials.
fn redirect_uri(uri: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(uri).map_err(|_| "a redirect URI must be an absolute URL")?;
    if uri.contains('#') {
        return Err("a redirect URI must not contain a fragment (#)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a redirect URI must not carry a user name or password");
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("plain http redirect URIs are for localhost only: use https"),
        scheme if scheme.contains('.') && !url.cannot_be_a_base() => Ok(()),
        _ => Err("a redirect URI must be https, http on localhost, or a native app's reverse-domain scheme"),
    }
}

/// The distinct web origins of `urls` (those that parse), in order: what a client's redirect URIs allow as
/// CORS origins, here and at the BFF of a platform running this server.
pub fn origins_of(urls: &[String]) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for url in urls.iter().filter_map(|url| url::Url::parse(url).ok()) {
        let origin = url.origin();
        if origin.is_tuple() && !origins.contains(&origin.ascii_serialization()) {
            origins.push(origin.ascii_serialization());
        }
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, redirect: &str) -> Client {
        serde_json::from_value(serde_json::json!({
            "client_id": id, "redirect_uris": [redirect], "token_endpoint_auth_method": "none"
        }))
        .unwrap()
    }

    #[test]
    fn bad_clients_are_refused_at_start_up_not_at_request_time() {
        assert!(Clients::new(vec![client("a", "https://app.example/cb")]).is_ok());
        let refusal = |clients| Clients::new(clients).expect_err("refused");

        let not_a_url = refusal(vec![client("a", "not a url")]);
        assert!(
            matches!(&not_a_url, ClientsError::InvalidRedirect(id, "a redirect URI must be an absolute URL") if id == "a"),
            "{not_a_url:?}"
        );
        let twice = refusal(vec![client("a", "https://x/cb"), client("a", "https://y/cb")]);
        assert!(matches!(&twice, ClientsError::Invalid(id, "registered twice") if id == "a"), "{twice:?}");
        let confidential: Client = serde_json::from_value(serde_json::json!({
            "client_id": "svc", "client_secret": "short", "grant_types": ["client_credentials"]
        }))
        .unwrap();
        let short = refusal(vec![confidential]);
        assert_eq!(
            short.to_string(),
            "client svc is invalid: a confidential client needs a client_secret of 16 characters or more"
        );
        assert!(matches!(short, ClientsError::Invalid(..)), "{short:?}");
    }

    #[test]
    fn redirect_uris_are_validated_as_hydra_and_oauth_require() {
        for good in [
            "https://shop.example/callback",
            "https://shop.example:8443/cb?x=1",
            "http://127.0.0.1:5173/callback",
            "http://localhost:8080/cb",
            "http://[::1]:5173/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(Clients::new(vec![client("a", good)]).is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "http://shop.example/callback",
            "https://shop.example/cb#fragment",
            "https://user:pass@shop.example/cb",
            "/callback",
            "not a url",
        ] {
            let refused = Clients::new(vec![client("a", bad)]);
            assert!(matches!(refused, Err(ClientsError::InvalidRedirect(..))), "{bad}: {refused:?}");
        }
        let mut logout_elsewhere = client("a", "https://shop.example/cb");
        logout_elsewhere.post_logout_redirect_uris = vec!["https://evil.example/".into()];
        assert!(matches!(Clients::new(vec![logout_elsewhere]), Err(ClientsError::InvalidRedirect(..))));
    }

    #[test]
    fn allowed_cors_origins_are_bare_origins() {
        let with_origins = |origins: serde_json::Value| {
            let client: Client = serde_json::from_value(serde_json::json!({
                "client_id": "spa", "token_endpoint_auth_method": "none", "allowed_cors_origins": origins
            }))
            .unwrap();
            Clients::new(vec![client])
        };
        let clients = with_origins(serde_json::json!(["https://shop.example", "http://127.0.0.1:5173"])).unwrap();
        assert!(clients.allow_origin("https://shop.example") && clients.allow_origin("http://127.0.0.1:5173"));
        assert!(!clients.allow_origin("https://evil.example") && !clients.allow_origin("http://127.0.0.1:5174"));
        for bad in ["https://shop.example/", "https://shop.example/app", "shop.example", "*"] {
            let refused = with_origins(serde_json::json!([bad])).err();
            assert!(
                matches!(refused, Some(ClientsError::Invalid(ref id, why)) if id == "spa" && why.contains("CORS origin")),
                "{bad}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_created_client_gets_an_id_and_a_secret_and_the_same_checks() {
        let clients = Clients::new(Vec::new()).unwrap();
        let confidential: Client =
            serde_json::from_value(serde_json::json!({"grant_types": ["client_credentials"]})).unwrap();
        let created = clients.register(confidential).unwrap();
        assert!(!created.client_id.is_empty());
        let secret = created.client_secret.clone().expect("a secret was made");
        assert!(clients.get(&created.client_id).unwrap().secret_matches(&secret));
        assert!(matches!(clients.register(created), Err(ClientsError::Exists(_))), "an id is taken once");
        let refused = clients.register(client("web", "not a url")).err();
        assert!(
            matches!(refused, Some(ClientsError::InvalidRedirect(ref id, _)) if id == "web"),
            "validated like the file's clients: {refused:?}"
        );
        assert!(clients.get("web").is_none());
    }
}
