//! The BFF (backend for frontend), on port 8080: the only thing a browser or app talks to.
//!
//! It serves the public API in every protocol a client may speak (Connect JSON and binary, gRPC-Web, gRPC;
//! HTTP/1.1 and h2c) and forwards each call to the owning service over gRPC (h2c), with the same generated
//! message types on both sides, so a forward moves the message and never converts it. It holds no business
//! logic.
//!
//! Who may call what is one table, [`routes::table`]: every routed procedure once, with its policy (public,
//! signed in, own account by a named request field, admin) and the backend that owns it. A procedure that is
//! not in the table is not reachable; internal RPCs (such as `user.v1.CredentialService` and the inventory
//! reservations) are not in it, and a test holds the table to the API's descriptors.
//!
//! A call goes through the [`gate`] (bearer token verified locally against the issuer's JWKS ([`auth`],
//! [`jwks`]), the account's revocations ([`ec_platform::revocation`]) and the rate limits ([`ratelimit`]), in one
//! Redis round trip), then its route's policy, then to its backend ([`proxy`]) with the caller's identity
//! signed with the internal secret ([`ec_platform::identity`]). Every refusal is a [`error::BffError`], mapped
//! to Connect codes in one place. On a separate operations port, `/health` says the process is up, `/ready` that
//! every backend serves and the issuer's keys can be had, and `/metrics` what the BFF counted ([`metrics`]); the
//! public port serves the API, `/health`, and the uploaded pictures under `/media/` when there is a picture
//! store ([`media`]).
//!
//! At the edge ([`startup`]): client IPs from forwarding headers only behind trusted proxies, CORS for
//! configured origins, a request body limit (on the wire and decompressed; larger for a picture's upload
//! alone), a deadline cap and request ids.

pub mod auth;
pub mod config;
pub mod error;
pub mod gate;
pub mod jwks;
pub mod media;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;
pub mod routes;
pub mod startup;
