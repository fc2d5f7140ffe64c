//! The route table against the API's own descriptors: every public-facing procedure has exactly one policy,
//! no internal one is routed, and the admin-only procedures are exactly those the contract says need the
//! admin role.
//!
//! What is internal is read from the contract's comments, not from a list kept here: a method whose comment
//! ends its description with "Internal." or a service whose comment says it "is internal".

use std::{collections::BTreeMap, sync::Arc};

use buffa::Message;
use buffa_descriptor::generated::descriptor::{FileDescriptorProto, FileDescriptorSet};
use ec_bff::{
    gate::Gate,
    proxy::Backend,
    ratelimit::{Limit, RateLimiter},
    routes::{self, Access, Backends, Routes},
};
use ec_platform::{
    channel::{Channel, InProcess},
    identity::{IdentityVerifier, InternalAuthArgs},
    revocation::Revocations,
    shared::Redis,
};

/// Our API's packages; the descriptor set also holds imports such as grpc.health.v1.
const PACKAGES: [&str; 4] = ["user.v1", "product.v1", "order.v1", "webhook.v1"];

/// What the contract says about one procedure.
#[derive(Debug)]
struct Contract {
    internal: bool,
    admin_only: bool,
}

/// A file's leading comments by their location path.
fn comments(file: &FileDescriptorProto) -> BTreeMap<Vec<i32>, String> {
    file.source_code_info
        .as_option()
        .map(|info| {
            info.location.iter().map(|l| (l.path.clone(), l.leading_comments.clone().unwrap_or_default())).collect()
        })
        .unwrap_or_default()
}

/// Every procedure of our packages, `/package.Service/Method`, with what its comments say.
fn contract() -> BTreeMap<String, Contract> {
    let set = FileDescriptorSet::decode_from_slice(ec_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set decodes");
    let mut procedures = BTreeMap::new();
    for file in &set.file {
        let package = file.package.clone().unwrap_or_default();
        if !PACKAGES.contains(&package.as_str()) {
            continue;
        }
        let comments = comments(file);
        for (s, service) in file.service.iter().enumerate() {
            // FileDescriptorProto.service is field 6, ServiceDescriptorProto.method field 2.
            let service_comment = comments.get(&vec![6, s as i32]).cloned().unwrap_or_default();
            let service_name = service.name.clone().unwrap_or_default();
            for (m, method) in service.method.iter().enumerate() {
                let comment = comments.get(&vec![6, s as i32, 2, m as i32]).cloned().unwrap_or_default();
                assert!(!comment.is_empty(), "{service_name}.{:?} has no comment", method.name);
                let description = comment.split("\n\n").next().unwrap_or_default();
                let procedure = format!("/{package}.{service_name}/{}", method.name.clone().unwrap_or_default());
                let contract = Contract {
                    internal: service_comment.contains(" is internal") || description.trim_end().ends_with("Internal."),
                    admin_only: comment.contains("PERMISSION_DENIED: the caller is not an admin."),
                };
                procedures.insert(procedure, contract);
            }
        }
    }
    procedures
}

/// The BFF's table, built as the BFF builds it (backends are connected lazily, so none needs to run; the
/// connections still need a runtime).
fn table() -> BTreeMap<&'static str, Access> {
    let routes = routes();
    let listed: BTreeMap<&'static str, Access> = routes.listed().iter().copied().collect();
    assert_eq!(listed.len(), routes.listed().len(), "a procedure is listed twice");
    listed
}

fn routes() -> Routes {
    let local = Redis::local("");
    let gate = Gate {
        authenticator: None,
        revocations: Revocations::new(&local),
        identity: IdentityVerifier::new(&InternalAuthArgs::default()).unwrap(),
        limiter: RateLimiter::new(&local),
        anonymous: Limit { per_minute: 1, burst: 1 },
        user: Limit { per_minute: 1, burst: 1 },
        sign_up: Limit { per_minute: 1, burst: 1 },
        media: Limit { per_minute: 1, burst: 1 },
        trusted_proxies: Vec::new(),
        public_cache_secs: 30,
    };
    let nowhere = || Channel::to(&"http://127.0.0.1:1".parse().unwrap(), &InProcess::default()).unwrap();
    let backends = Backends {
        user: Backend::new("user", nowhere()),
        product: Backend::new("product", nowhere()),
        order: Backend::new("order", nowhere()),
    };
    let mut routes = Routes::new(Arc::new(gate));
    routes::table(&mut routes, &backends);
    routes
}

#[tokio::test]
async fn every_public_facing_procedure_has_a_policy_and_no_internal_one_is_routed() {
    let contract = contract();
    let table = table();
    for (procedure, says) in &contract {
        match (says.internal, table.get(procedure.as_str())) {
            (false, None) => panic!("{procedure} is public-facing but has no line in the route table"),
            (true, Some(access)) => panic!("{procedure} is internal but routed ({access:?})"),
            _ => {}
        }
    }
    for procedure in table.keys() {
        assert!(contract.contains_key(*procedure), "{procedure} is routed but not in the contract");
    }
}

#[test]
fn the_internal_procedures_are_recognised_from_the_contract() {
    let internal: Vec<String> = contract().into_iter().filter(|(_, c)| c.internal).map(|(p, _)| p).collect();
    for expected in [
        "/user.v1.CredentialService/VerifyPassword",
        "/product.v1.InventoryService/BatchReserveInventory",
        "/product.v1.InventoryService/ConfirmReservation",
        "/product.v1.InventoryService/ReleaseReservation",
        "/product.v1.InventoryService/RestockReservation",
        "/product.v1.InventoryService/GetReservation",
    ] {
        assert!(internal.iter().any(|p| p == expected), "{expected} not recognised as internal: {internal:?}");
    }
    assert!(!internal.iter().any(|p| p.contains("UserService")), "{internal:?}");
}

#[tokio::test]
async fn admin_routes_are_exactly_the_procedures_the_contract_reserves_for_admins() {
    let contract = contract();
    for (procedure, access) in table() {
        let admin_only = contract[procedure].admin_only;
        assert_eq!(access == Access::Admin, admin_only, "{procedure}: routed as {access:?}");
    }
}

#[tokio::test]
async fn the_bffs_reflection_describes_exactly_the_routed_methods_with_their_own_comments() {
    let routes = routes();
    let set = FileDescriptorSet::decode_from_slice(&routes.descriptors()).expect("the reduced set decodes");
    let mut described = Vec::new();
    for file in set.file.iter().filter(|f| PACKAGES.contains(&f.package.as_deref().unwrap_or_default())) {
        let package = file.package.clone().unwrap_or_default();
        let comments = comments(file);
        for (s, service) in file.service.iter().enumerate() {
            for (m, method) in service.method.iter().enumerate() {
                let name = method.name.clone().unwrap_or_default();
                let comment = comments.get(&vec![6, s as i32, 2, m as i32]).cloned().unwrap_or_default();
                // Every method's comment in the contract opens with its name.
                assert!(comment.trim_start().starts_with(&name), "{name} carries another method's comment: {comment}");
                described.push(format!("/{package}.{}/{name}", service.name.clone().unwrap_or_default()));
            }
        }
    }
    described.sort();
    let mut routed: Vec<String> = routes.listed().iter().map(|(p, _)| p.to_string()).collect();
    routed.sort();
    assert_eq!(described, routed);
}
