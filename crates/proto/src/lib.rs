//! The platform's API contracts as Rust types.
//!
//! Everything here is generated at build time from the Buf module in `proto/` (see `build.rs`): buffa
//! message types (binary and proto3-JSON encodings), a service trait per service for servers, and a client
//! per service that speaks Connect, gRPC or gRPC-Web. The BFF and every service share these one set of types,
//! so forwarding a request is a move, never a conversion.
//!
//! Packages keep the Go project's names, so procedure paths such as `/user.v1.UserService/CreateUser` are
//! unchanged: [`user::v1`], [`product::v1`] and [`order::v1`].

#![allow(clippy::all, unused_qualifications, missing_docs)]

connectrpc::include_generated!();

/// The encoded `FileDescriptorSet` of every API file, its imports and `grpc.health.v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ec_descriptor_set.bin"));
