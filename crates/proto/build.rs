//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and generates buffa message types plus
//! connectrpc service traits and clients from the resulting descriptor set.
//!
//! The descriptor set also carries the standard `grpc.health.v1` file (vendored in `vendor/`, no code is
//! generated from it: `connectrpc-health` has its own), so reflection can describe every service a port
//! lists.

use std::{env, fs, path::PathBuf};

const FILES: &[&str] = &[
    "user/v1/user_service.proto",
    "user/v1/events.proto",
    "product/v1/types.proto",
    "product/v1/product_service.proto",
    "product/v1/inventory_service.proto",
    "product/v1/events.proto",
    "order/v1/types.proto",
    "order/v1/cart_service.proto",
    "order/v1/order_service.proto",
    "order/v1/events.proto",
    "webhook/v1/webhook_service.proto",
];

/// Files described for reflection only.
const REFLECTION_ONLY_FILES: &[&str] = &["grpc/health/v1/health.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let vendor_root = manifest_dir.join("vendor");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    println!("cargo:rerun-if-changed={}", vendor_root.display());

    let descriptors = protox::Compiler::new([&proto_root, &vendor_root])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(FILES.iter().chain(REFLECTION_ONLY_FILES))?
        .encode_file_descriptor_set();

    // connectrpc-build watches the descriptor file; rewriting identical bytes would rerun this script on
    // every build, so write only when the contents change.
    let set_path = PathBuf::from(env::var("OUT_DIR")?).join("ec_descriptor_set.bin");
    if fs::read(&set_path).ok().as_deref() != Some(descriptors.as_slice()) {
        fs::write(&set_path, &descriptors)?;
    }

    connectrpc_build::Config::new().files(FILES).descriptor_set(&set_path).include_file("_connectrpc.rs").compile()?;
    Ok(())
}
