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
//! Status: forwarding, deadline propagation and request-id passing are in place for the user service. Token
//! verification, BOLA/BFLA checks, rate limiting, CORS, `/health`, `/ready` and `/metrics` are not built yet,
//! so until they are the BFF must not be exposed beyond a development machine.

pub mod config;
pub mod proxy;
pub mod startup;
