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
    if uris.clone().any(|uri| url::Url::parse(uri).is_err()) {
        return invalid("every redirect URI must be an absolute URL");
    }
    if client.allowed_cors_origins.iter().any(|origin| origins_of(std::slice::from_ref(origin)) != [origin.as_str()]) {
        return invalid("every allowed CORS origin must be scheme://host[:port], nothing more");
    }
    Ok(())
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
        assert!(Clients::new(vec![client("a", "not a url")]).is_err());
        assert!(Clients::new(vec![client("a", "https://x/cb"), client("a", "https://y/cb")]).is_err());
        let confidential: Client = serde_json::from_value(serde_json::json!({
            "client_id": "svc", "client_secret": "short", "grant_types": ["client_credentials"]
        }))
        .unwrap();
        assert!(Clients::new(vec![confidential]).is_err(), "a short secret");
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
            assert!(with_origins(serde_json::json!([bad])).is_err(), "{bad}");
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
        assert!(clients.register(client("web", "not a url")).is_err(), "validated like the file's clients");
        assert!(clients.get("web").is_none());
    }
}
