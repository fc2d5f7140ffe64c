//! The server's state, in memory: authorization flows between their challenges and verifiers, codes,
//! refresh tokens, login sessions and remembered consents. One process, one mutex, short critical
//! sections (no await while holding it); expired entries are swept on every write.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Map, Value};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_secs() as i64
}

/// A random, URL-safe string with 256 bits of entropy.
pub fn random_token() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a client asked for at `/oauth2/auth`, after validation.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_login: bool,
    /// The full URL of the original request; the verifiers are appended to it.
    pub request_url: url::Url,
    pub requested_at: i64,
}

/// A login or consent app's refusal, in Hydra's `rejectOAuth2Request` shape.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_hint: Option<String>,
    #[serde(default)]
    pub error_debug: Option<String>,
    #[serde(default)]
    pub status_code: Option<u16>,
}

/// The login app's acceptance.
#[derive(Clone, Debug)]
pub struct LoginAccepted {
    pub subject: String,
    pub remember: bool,
    /// Seconds the session cookie lives; 0 makes it a browser-session cookie (Hydra's `remember_for: 0`).
    pub remember_for: i64,
    /// A skipped login's cookie is set again with `remember_for` instead of keeping its expiry.
    pub extend_session_lifespan: bool,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub context: Value,
}

/// The consent app's acceptance.
#[derive(Clone, Debug)]
pub struct ConsentAccepted {
    pub grant_scope: Vec<String>,
    pub grant_audience: Vec<String>,
    pub remember: bool,
    pub remember_for: i64,
    pub access_token_claims: Map<String, Value>,
    pub id_token_claims: Map<String, Value>,
}

/// Where one step of a flow stands.
#[derive(Clone, Debug)]
pub enum Decision<T> {
    Pending,
    Accepted(T),
    Rejected(Rejection),
}

/// One authorization request on its way through login and consent.
#[derive(Debug)]
pub struct Flow {
    pub request: AuthorizeRequest,
    /// Binds the flow to the browser that started it (a cookie holds the same value).
    pub csrf: String,
    pub login_challenge: String,
    pub login_verifier: String,
    /// A remembered login session made the login step skippable; this is its subject.
    pub remembered_subject: Option<String>,
    pub session_id: String,
    pub login: Decision<LoginAccepted>,
    pub login_verified: bool,
    pub consent_challenge: Option<String>,
    pub consent_verifier: Option<String>,
    pub consent_skip: bool,
    pub consent: Decision<ConsentAccepted>,
    pub consent_verified: bool,
    pub auth_time: i64,
    pub expires_at: i64,
}

impl Flow {
    /// The subject once login is accepted.
    pub fn subject(&self) -> Option<&str> {
        match &self.login {
            Decision::Accepted(login) => Some(&login.subject),
            _ => None,
        }
    }
}

/// What a code or refresh token stands for.
#[derive(Clone, Debug)]
pub struct Grant {
    pub client_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub access_token_claims: Map<String, Value>,
    pub id_token_claims: Map<String, Value>,
    pub session_id: String,
    pub auth_time: i64,
    pub requested_at: i64,
    pub nonce: Option<String>,
    /// All refresh tokens descending from one code share a family, revoked together on reuse.
    pub family: String,
}

/// An issued authorization code.
#[derive(Debug)]
pub struct Code {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used: bool,
}

/// An issued refresh token.
#[derive(Debug)]
pub struct RefreshToken {
    pub grant: Grant,
    pub expires_at: i64,
    pub used: bool,
}

/// A remembered login (the session cookie's value is the id).
#[derive(Debug)]
pub struct LoginSession {
    pub subject: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// A remembered consent of a subject for a client.
#[derive(Debug)]
pub struct RememberedConsent {
    pub consent: ConsentAccepted,
    /// 0: forever, as in Hydra.
    pub expires_at: i64,
}

/// A logout request on its way through the logout app.
#[derive(Clone, Debug)]
pub struct LogoutFlow {
    pub subject: String,
    pub session_id: String,
    pub client_id: Option<String>,
    pub request_url: String,
    pub rp_initiated: bool,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub verifier: String,
    pub accepted: bool,
    /// The browser came back with the verifier and the session ended; kept until it expires, so reading it
    /// answers 410 with where to go, as Hydra does.
    pub handled: bool,
    pub requested_at: i64,
    pub expires_at: i64,
}

/// Which step of a flow a handle (challenge or verifier) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handle {
    LoginChallenge,
    LoginVerifier,
    ConsentChallenge,
    ConsentVerifier,
}

/// Everything, behind one lock.
#[derive(Debug, Default)]
pub struct State {
    pub flows: HashMap<String, Flow>,
    pub handles: HashMap<String, (Handle, String)>,
    pub codes: HashMap<String, Code>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub sessions: HashMap<String, LoginSession>,
    pub consents: HashMap<(String, String), RememberedConsent>,
    pub logouts: HashMap<String, LogoutFlow>,
    pub logout_verifiers: HashMap<String, String>,
}

impl State {
    /// The flow a handle of the given kind points to.
    pub fn flow_by(&mut self, kind: Handle, handle: &str) -> Option<&mut Flow> {
        let (found, id) = self.handles.get(handle)?;
        if *found != kind {
            return None;
        }
        let id = id.clone();
        self.flows.get_mut(&id)
    }

    /// Registers a handle for a flow.
    pub fn add_handle(&mut self, kind: Handle, handle: &str, flow_id: &str) {
        self.handles.insert(handle.to_owned(), (kind, flow_id.to_owned()));
    }

    /// Drops everything that has expired.
    pub fn sweep(&mut self, now: i64) {
        self.flows.retain(|_, f| f.expires_at > now);
        let flows = &self.flows;
        self.handles.retain(|_, (_, id)| flows.contains_key(id));
        self.codes.retain(|_, c| c.expires_at > now);
        self.refresh_tokens.retain(|_, t| t.expires_at > now);
        self.sessions.retain(|_, s| s.expires_at > now);
        self.consents.retain(|_, c| c.expires_at == 0 || c.expires_at > now);
        self.logouts.retain(|_, l| l.expires_at > now);
        let logouts = &self.logouts;
        self.logout_verifiers.retain(|_, challenge| logouts.contains_key(challenge));
    }

    /// Revokes every refresh token of a family (a reused token means it leaked).
    pub fn revoke_family(&mut self, family: &str) {
        self.refresh_tokens.retain(|_, t| t.grant.family != family);
    }

    /// Ends every login session of `subject`, forgets its remembered consents and revokes its refresh tokens
    /// (Hydra's `DELETE /admin/oauth2/auth/sessions/login` and `.../sessions/consent` together).
    pub fn revoke_subject(&mut self, subject: &str) {
        self.sessions.retain(|_, s| s.subject != subject);
        self.consents.retain(|(who, _), _| who != subject);
        self.refresh_tokens.retain(|_, t| t.grant.subject != subject);
    }

    /// Ends a login session and every refresh token issued under it.
    pub fn end_session(&mut self, session_id: &str) {
        self.sessions.remove(session_id);
        self.refresh_tokens.retain(|_, t| t.grant.session_id != session_id);
    }
}

/// The shared state.
#[derive(Debug, Default)]
pub struct Store(Mutex<State>);

impl Store {
    /// Locks the state, sweeping expired entries first.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.sweep(now());
        state
    }
}

/// Seconds as a `Duration`-free expiry helper.
pub fn expiry(ttl: Duration) -> i64 {
    now() + ttl.as_secs() as i64
}
