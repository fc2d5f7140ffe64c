//! Compares the Hydra contract the embedded server's tests hold it to (`tests/hydra/contract.rs`) with Hydra's
//! own OpenAPI document, which is not kept in this repository. Run it when moving to a newer Hydra:
//!
//! ```sh
//! cargo run -p ec-oauth-server --example hydra_contract -- path/to/ory/hydra/spec/api.json
//! ```
//!
//! It panics at the first difference; then update the contract (and the commit it names) to match.

#[allow(dead_code)]
#[path = "../tests/hydra/mod.rs"]
mod hydra;

fn main() {
    let path = std::env::args().nth(1).expect("usage: hydra_contract path/to/spec/api.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let spec: serde_json::Value = serde_json::from_str(&text).expect("Hydra's OpenAPI document is JSON");
    hydra::spec::compare_with_published(&spec);
    println!("the contract matches {path}");
}
