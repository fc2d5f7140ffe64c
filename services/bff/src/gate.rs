//! Who is calling, and whether they may call now: the bearer token, the revocations, the rate limits, and the
//! identity passed on to the backends.
//!
//! Every routed call passes [`Gate::admit`] before its [policy](crate::routes::Policy) is applied:
//!
//! - A token that verifies ([`crate::auth`]) makes the call the account's ([`Admitted`]). In one Redis round
//!   trip the gate reads the account's revocation record and takes a token from the account's bucket
//!   ([`RateLimiter::admit_caller`]); this process's own revocation records are consulted first, so they hold
//!   while Redis is down, and the call says whether the shared ones could be read (admin routes refuse it when
//!   they could not). The account's roles count only as far as the token's scopes reach: without the
//!   `backoffice` scope an admin's token carries no admin rights, to the BFF or to the services behind it.
//! - No token, or one that is refused, makes the call anonymous, limited by the client's IP (IPv6 clients by
//!   their /64: one host has that many addresses to rotate through). A refused token counts against that
//!   bucket too, so guessing tokens is rate limited; its reason is logged and counted, never told.
//!
//! Forwarded calls carry the caller's identity (signed with the internal secret), the remaining deadline and
//! the request id ([`Gate::forward`]); no other inbound header reaches a backend.

use std::net::{IpAddr, SocketAddr};

use connectrpc::{RequestContext, client::CallOptions};
use ec_platform::{
    claims::Scope,
    identity::{Caller, Contact, IdentityVerifier, Role},
    net::{client_ip, forwarded_for},
    revocation::Revocations,
};

use crate::{
    auth::{AuthError, Authenticator, Token},
    error::BffError,
    ratelimit::{Admission, Limit, RateLimiter},
};

/// The one inbound header passed to backends, so a request can be followed through the logs of every hop.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Token verification, revocations, rate limits, and the identity passed on to backends.
#[derive(Debug)]
pub struct Gate {
    /// `None` when no issuer is configured: then no token is accepted and only public RPCs work.
    pub authenticator: Option<Authenticator>,
    /// The access-token revocations the user service records.
    pub revocations: Revocations,
    pub identity: IdentityVerifier,
    pub limiter: RateLimiter,
    /// The bucket of each client IP for calls without a valid token.
    pub anonymous: Limit,
    /// The bucket of each signed-in user.
    pub user: Limit,
    /// The sign-up bucket of each client IP, on top of the anonymous one.
    pub sign_up: Limit,
    /// The bucket of each client IP for picture reads that reach the picture store.
    pub media: Limit,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long an anonymous public read may be cached, in seconds (0: not at all).
    pub public_cache_secs: u32,
}

impl Gate {
    /// Admits the call or refuses it: `Some` caller when a valid, unrevoked token came with it, `None` for an
    /// anonymous call (no token, or a refused one). Refusal is only for rate limits here; whether an anonymous
    /// call may go on is the route's policy.
    pub async fn admit(&self, ctx: &RequestContext) -> Result<Option<Admitted>, BffError> {
        let verified = match &self.authenticator {
            Some(authenticator) => authenticator.token(ctx.headers()).await,
            None => Ok(None),
        };
        let refused = match verified {
            Ok(None) => return self.anonymous(ctx).await.map(|()| None),
            Ok(Some(token)) => {
                let account = token.caller.user_id;
                if self.revocations.revoked_locally(account, token.issued_at) {
                    AuthError::Revoked
                } else {
                    let revocation = self.revocations.shared_key(account);
                    match self.limiter.admit_caller(account, self.user, revocation, token.issued_at).await {
                        Admission::Admitted => return Ok(Some(Admitted::new(token, true))),
                        Admission::AdmittedUnchecked => {
                            return Ok(Some(Admitted::new(token, false)));
                        }
                        Admission::Wait(retry_after) => return Err(rate_limited("user", retry_after)),
                        Admission::Revoked => AuthError::Revoked,
                    }
                }
            }
            Err(reason) => reason,
        };
        tracing::info!(reason = %refused, path = ctx.path().unwrap_or_default(), "access token refused");
        crate::metrics::auth_failure(&refused);
        self.anonymous(ctx).await.map(|()| None)
    }

    /// Takes a token from the client IP's bucket.
    async fn anonymous(&self, ctx: &RequestContext) -> Result<(), BffError> {
        self.per_client("anonymous", "ip", self.anonymous, ctx).await
    }

    /// Takes a token from the client IP's bucket of a route with a limit of its own.
    pub async fn route_limit(&self, ctx: &RequestContext, limit: RouteLimit) -> Result<(), BffError> {
        match limit {
            RouteLimit::SignUp => self.per_client("sign_up", "sign-up", self.sign_up, ctx).await,
        }
    }

    /// Takes a token from the picture-read bucket of the client that connected from `peer` with `headers`;
    /// refused only with [`BffError::RateLimited`].
    pub async fn media_read(&self, peer: SocketAddr, headers: &http::HeaderMap) -> Result<(), BffError> {
        self.take("media", "media", self.media, self.client_of(peer, headers)).await
    }

    /// Takes a token from the `class` bucket (keys `{prefix}:…`) of the client's IP (IPv6 by its /64).
    async fn per_client(
        &self,
        class: &'static str,
        prefix: &str,
        limit: Limit,
        ctx: &RequestContext,
    ) -> Result<(), BffError> {
        match ctx.peer_addr() {
            Some(peer) => self.take(class, prefix, limit, self.client_of(peer, ctx.headers())).await,
            None => Ok(()),
        }
    }

    /// Takes a token from the `class` bucket (keys `{prefix}:…`) of `client` (IPv6 by its /64).
    async fn take(&self, class: &'static str, prefix: &str, limit: Limit, client: IpAddr) -> Result<(), BffError> {
        let key = format!("{prefix}:{}", ec_platform::net::client_key(client));
        self.limiter.admit(&key, limit).await.map_err(|retry_after| rate_limited(class, retry_after))
    }

    /// The client behind a connection from `peer`: the peer, or whom a trusted proxy forwards for.
    fn client_of(&self, peer: SocketAddr, headers: &http::HeaderMap) -> IpAddr {
        client_ip(peer.ip(), forwarded_for(headers).as_deref(), &self.trusted_proxies)
    }

    /// The `Cache-Control` of a public read's answer to `caller`: anonymous answers are the same for everyone
    /// and may be kept a short while; a signed-in caller's (an admin sees unpublished products) never.
    pub fn cache_control(&self, caller: Option<&Caller>) -> http::HeaderValue {
        match (caller, self.public_cache_secs) {
            (None, secs) if secs > 0 => {
                http::HeaderValue::try_from(format!("public, max-age={secs}")).expect("a valid header value")
            }
            _ => http::HeaderValue::from_static("private, no-store"),
        }
    }

    /// The options of a forwarded call: the caller's identity (and, `naming_caller`, how their token names
    /// them), remaining deadline and request id.
    pub fn forward(&self, ctx: &RequestContext, call: Option<&Admitted>, naming_caller: bool) -> CallOptions {
        let mut headers = http::HeaderMap::new();
        self.identity.stamp(call.map(|call| &call.caller), &mut headers);
        if let Some(call) = call.filter(|_| naming_caller) {
            self.identity.stamp_contact(&call.contact, &mut headers);
        }
        if let Some(id) = ctx.header(REQUEST_ID_HEADER) {
            headers.insert(REQUEST_ID_HEADER, id.clone());
        }
        let mut options = CallOptions::default();
        for (name, value) in &headers {
            options = options.with_header(name.clone(), value.clone());
        }
        if let Some(remaining) = ctx.time_remaining() {
            options = options.with_timeout(remaining);
        }
        options
    }
}

/// A call with a valid access token, as the gate let it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The account, with the roles the token's scopes let it use.
    pub caller: Caller,
    /// The account's email and name, as the token states them.
    pub contact: Contact,
    /// The scopes the token was granted.
    pub scopes: Vec<String>,
    /// Whether the shared revocation records were read; `false` when Redis failed and only this process's own
    /// records could be checked.
    pub revocations_checked: bool,
}

impl Admitted {
    /// The call of `caller` with a token granted `scopes`: the admin role is dropped unless the token has the
    /// `backoffice` scope, so a client the user allowed only to shop never acts as an admin.
    fn new(token: Token, revocations_checked: bool) -> Self {
        let Token { mut caller, contact, scopes, .. } = token;
        if !Scope::Backoffice.granted_in(&scopes) {
            caller.roles.retain(|role| *role != Role::Admin);
        }
        Self { caller, contact, scopes, revocations_checked }
    }

    /// Whether the token was granted `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        scope.granted_in(&self.scopes)
    }
}

/// A stricter per-client limit a route has on top of the gate's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteLimit {
    /// Sign-up, which says whether an email is registered: `RATE_SIGN_UP_PER_MINUTE` per client IP.
    SignUp,
}

fn rate_limited(class: &'static str, retry_after: std::time::Duration) -> BffError {
    metrics::counter!("ec_bff_rate_limited_total", "class" => class).increment(1);
    BffError::RateLimited { retry_after }
}
