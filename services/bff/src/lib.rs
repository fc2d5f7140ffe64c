//! The BFF (backend for frontend), on port 8080: the only thing a browser or app talks to.
//!
//! It serves the public API in every protocol a client may speak (Connect JSON and binary, gRPC-Web, gRPC;
//! HTTP/1.1 and h2c) and forwards each call to the owning service over gRPC (h2c), with the same generated
//! message types on both sides, so a forward moves the message and never converts it. It holds no business
//! logic.
//!
//! Each backend service gets a proxy type implementing the generated service trait ([`proxy::UserProxy`]
//! for `user.v1.UserService`); a service's internal RPCs live in separate services (such as
//! `user.v1.CredentialService`) that the BFF never mounts, so they are unreachable from outside.
//!
//! Security: bearer access tokens are verified locally against the issuer's JWKS ([`auth`], [`jwks`]) and the
//! accounts' revocations ([`ec_platform::revocation`]); each RPC
//! has a policy (public, signed in, own resource, admin) enforced before forwarding; the caller's identity
//! goes to the backends signed with the internal secret ([`ec_platform::identity`]). `/health` says the process
//! is up; `/ready` that the backends serve and the issuer's keys can be had.
//!
//! At the edge ([`startup`]): token-bucket rate limits per client IP and per user ([`ratelimit`], shared through
//! Redis), client IPs from forwarding headers only behind trusted proxies, CORS for configured origins, a
//! request body limit, a deadline cap, request ids, and Prometheus metrics at `/metrics` ([`metrics`]).

pub mod auth;
pub mod config;
pub mod jwks;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;
pub mod startup;
