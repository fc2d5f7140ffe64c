//! A small typed client for the part of Ory Hydra's admin API a login and consent app uses: read, accept
//! and reject login, consent and logout requests (Hydra v2 paths, `/admin/oauth2/auth/requests/...`).
//! The same code talks to real Hydra and to the embedded development server.

use std::time::Duration;

use ec_platform::{
    claims::AccountClaims,
    outbound::{body_within, json_within},
};
use serde::{Deserialize, Serialize};

/// What went wrong talking to Hydra.
#[derive(Debug, thiserror::Error)]
pub enum HydraError {
    /// Hydra does not know the challenge, or it has expired.
    #[error("the request is unknown or has expired")]
    NotFound,
    /// The request was already answered; Hydra says where the browser should go instead.
    #[error("the request was already answered")]
    AlreadyHandled { redirect_to: Option<String> },
    /// Any other answer or no answer.
    #[error("Hydra admin API call failed: {0}")]
    Call(String),
}

/// The OAuth2 client a request comes from (the fields a login and consent app reads).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct OAuth2Client {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_name: String,
    #[serde(default)]
    pub skip_consent: bool,
}

/// Hydra's `OAuth2LoginRequest`.
#[derive(Clone, Debug, Deserialize)]
pub struct LoginRequest {
    pub challenge: String,
    #[serde(default)]
    pub skip: bool,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub client: OAuth2Client,
    #[serde(default)]
    pub requested_scope: Vec<String>,
    /// The authorization request as the app made it (its `ui_locales` says which language to speak).
    #[serde(default)]
    pub request_url: String,
}

/// Hydra's `OAuth2ConsentRequest`.
#[derive(Clone, Debug, Deserialize)]
pub struct ConsentRequest {
    pub challenge: String,
    #[serde(default)]
    pub skip: bool,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub client: OAuth2Client,
    #[serde(default)]
    pub requested_scope: Vec<String>,
    #[serde(default)]
    pub requested_access_token_audience: Vec<String>,
    #[serde(default)]
    pub request_url: String,
}

/// Hydra's `OAuth2LogoutRequest`.
#[derive(Clone, Debug, Deserialize)]
pub struct LogoutRequest {
    pub challenge: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub rp_initiated: bool,
    /// The logout request as the app made it (RP-initiated logout's `ui_locales`).
    #[serde(default)]
    pub request_url: String,
}

/// Hydra's `AcceptOAuth2LoginRequest` (the fields we set).
#[derive(Debug, Serialize)]
pub struct AcceptLogin {
    pub subject: String,
    pub remember: bool,
    pub remember_for: i64,
}

/// Hydra's `AcceptOAuth2ConsentRequest`.
#[derive(Debug, Serialize)]
pub struct AcceptConsent {
    pub grant_scope: Vec<String>,
    pub grant_access_token_audience: Vec<String>,
    pub remember: bool,
    pub remember_for: i64,
    pub session: ConsentSession,
}

/// Claims for the tokens Hydra will issue: the platform's [`AccountClaims`], which Hydra puts under the access
/// token's `ext` (and copies to its top level as configured) and at the ID token's top level.
#[derive(Debug, Default, Serialize)]
pub struct ConsentSession {
    pub access_token: AccountClaims,
    pub id_token: AccountClaims,
}

/// Hydra's `RejectOAuth2Request`.
#[derive(Debug, Serialize)]
pub struct Reject {
    pub error: String,
    pub error_description: String,
}

#[derive(Deserialize)]
struct RedirectTo {
    redirect_to: String,
}

/// The largest answer read from Hydra's admin API: a login or consent request with its client is a few KiB.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The admin API client.
#[derive(Clone, Debug)]
pub struct HydraAdmin {
    base: url::Url,
    http: reqwest::Client,
}

impl HydraAdmin {
    /// A client for the admin API at `base` (e.g. `http://hydra:4445`).
    pub fn new(base: url::Url) -> Self {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("a plain HTTP client builds");
        Self { base, http }
    }

    fn url(&self, kind: &str, action: Option<&str>, challenge: &str) -> url::Url {
        let mut url = self.base.clone();
        let path = match action {
            Some(action) => format!("/admin/oauth2/auth/requests/{kind}/{action}"),
            None => format!("/admin/oauth2/auth/requests/{kind}"),
        };
        url.set_path(&path);
        url.query_pairs_mut().append_pair(&format!("{kind}_challenge"), challenge);
        url
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, kind: &str, challenge: &str) -> Result<T, HydraError> {
        let response =
            self.http.get(self.url(kind, None, challenge)).send().await.map_err(|e| HydraError::Call(e.to_string()))?;
        Self::read(response).await
    }

    async fn put(
        &self,
        kind: &str,
        action: &str,
        challenge: &str,
        body: &impl Serialize,
    ) -> Result<String, HydraError> {
        let response = self
            .http
            .put(self.url(kind, Some(action), challenge))
            .json(body)
            .send()
            .await
            .map_err(|e| HydraError::Call(e.to_string()))?;
        Ok(Self::read::<RedirectTo>(response).await?.redirect_to)
    }

    async fn read<T: for<'de> Deserialize<'de>>(response: reqwest::Response) -> Result<T, HydraError> {
        match response.status().as_u16() {
            200 => json_within(response, MAX_ANSWER_BYTES).await.map_err(|e| HydraError::Call(e.to_string())),
            404 => Err(HydraError::NotFound),
            409 => Err(HydraError::AlreadyHandled { redirect_to: None }),
            410 => {
                let redirect_to =
                    json_within::<RedirectTo>(response, MAX_ANSWER_BYTES).await.ok().map(|r| r.redirect_to);
                Err(HydraError::AlreadyHandled { redirect_to })
            }
            status => {
                let body = body_within(response, MAX_ANSWER_BYTES).await.unwrap_or_default();
                let body = String::from_utf8_lossy(&body);
                Err(HydraError::Call(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>())))
            }
        }
    }

    pub async fn login_request(&self, challenge: &str) -> Result<LoginRequest, HydraError> {
        self.get("login", challenge).await
    }

    pub async fn accept_login(&self, challenge: &str, body: &AcceptLogin) -> Result<String, HydraError> {
        self.put("login", "accept", challenge, body).await
    }

    pub async fn reject_login(&self, challenge: &str, body: &Reject) -> Result<String, HydraError> {
        self.put("login", "reject", challenge, body).await
    }

    pub async fn consent_request(&self, challenge: &str) -> Result<ConsentRequest, HydraError> {
        self.get("consent", challenge).await
    }

    pub async fn accept_consent(&self, challenge: &str, body: &AcceptConsent) -> Result<String, HydraError> {
        self.put("consent", "accept", challenge, body).await
    }

    pub async fn reject_consent(&self, challenge: &str, body: &Reject) -> Result<String, HydraError> {
        self.put("consent", "reject", challenge, body).await
    }

    pub async fn logout_request(&self, challenge: &str) -> Result<LogoutRequest, HydraError> {
        self.get("logout", challenge).await
    }

    pub async fn accept_logout(&self, challenge: &str) -> Result<String, HydraError> {
        self.put("logout", "accept", challenge, &serde_json::json!({})).await
    }

    /// Signs `subject` out everywhere: ends its login sessions and revokes its consents and the tokens issued
    /// under them (refresh tokens stop working; JWT access tokens live until they expire).
    pub async fn revoke_subject(&self, subject: &str) -> Result<(), HydraError> {
        for (path, all) in [("/admin/oauth2/auth/sessions/login", false), ("/admin/oauth2/auth/sessions/consent", true)]
        {
            let mut url = self.base.clone();
            url.set_path(path);
            url.query_pairs_mut().append_pair("subject", subject);
            if all {
                url.query_pairs_mut().append_pair("all", "true");
            }
            let response = self.http.delete(url).send().await.map_err(|e| HydraError::Call(e.to_string()))?;
            if !response.status().is_success() {
                return Err(HydraError::Call(format!("HTTP {} revoking sessions", response.status())));
            }
        }
        Ok(())
    }

    /// Hydra answers a logout rejection with 204 and no body.
    pub async fn reject_logout(&self, challenge: &str) -> Result<(), HydraError> {
        let response = self
            .http
            .put(self.url("logout", Some("reject"), challenge))
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|e| HydraError::Call(e.to_string()))?;
        match response.status().as_u16() {
            200 | 204 => Ok(()),
            404 => Err(HydraError::NotFound),
            status => Err(HydraError::Call(format!("HTTP {status}"))),
        }
    }
}
