//! The user service against a real PostgreSQL, called the way the BFF calls it: gRPC, with the caller's
//! identity in metadata. Every error code of the contract, and the cases that are easy to get wrong.

use std::net::SocketAddr;

use connectrpc::{
    ConnectError, ErrorCode, Protocol,
    client::{ClientConfig, HttpClient},
};
use ec_platform::{
    config::DatabaseArgs,
    identity::{Caller, IdentityVerifier, InternalAuthArgs, Role},
    shared::Redis,
    shutdown::CancellationToken,
    startup::Dependencies,
};
use ec_proto::{
    order::v1::Address,
    user::v1::{
        self as wire, AddAddressRequest, ChangePasswordRequest, CreateUserRequest, CredentialServiceClient,
        DeleteAddressRequest, DeleteUserRequest, GetUserRequest, ListAddressesRequest, ListUsersRequest, SavedAddress,
        SetUserRoleRequest, UpdateAddressRequest, UpdateUserRequest, User, UserServiceClient, VerifyPasswordRequest,
    },
};
use ec_testing::TestDatabase;
use ec_user::{
    accounts,
    config::{LoginConfig, UserConfig},
    domain::{Email, UserId},
    startup::Application,
    verification,
};
use uuid::Uuid;

/// The user service alone, on a free port, over its own database.
struct Service {
    url: http::Uri,
    identity: IdentityVerifier,
    database: TestDatabase,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start() -> Self {
        let database = TestDatabase::create().await;
        let identity =
            IdentityVerifier::new(&InternalAuthArgs { token: Some(IdentityVerifier::generate_token()) }).unwrap();
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = UserConfig::local(any, LoginConfig::local(any, None));
        let deps = Dependencies::new(Redis::local(""), identity.clone());
        let connection = DatabaseArgs { url: database.url(), max_connections: 5 };
        // The same start-up as `ec serve user`: connect, migrate, bind.
        let server = Application::build(&config, &connection, &deps).await.unwrap();
        let url = format!("http://{}", server.rpc_addr()).parse().unwrap();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move { server.serve(stop, std::time::Duration::from_secs(5)).await.unwrap() });
        Self { url, identity, database, shutdown, server }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap();
        self.database.drop_now().await;
    }

    fn config(&self, headers: http::HeaderMap) -> ClientConfig {
        ClientConfig::new(self.url.clone()).with_protocol(Protocol::Grpc).with_default_headers(headers)
    }

    /// A client acting for `caller` (anonymous when `None`), as the BFF would send it.
    fn users_as(&self, caller: Option<&Caller>) -> UserServiceClient<HttpClient> {
        let mut headers = http::HeaderMap::new();
        self.identity.stamp(caller, &mut headers);
        UserServiceClient::new(HttpClient::plaintext_http2_only(), self.config(headers))
    }

    fn anonymous(&self) -> UserServiceClient<HttpClient> {
        UserServiceClient::new(HttpClient::plaintext_http2_only(), self.config(http::HeaderMap::new()))
    }

    fn credentials(&self, internal: bool) -> CredentialServiceClient<HttpClient> {
        let mut headers = http::HeaderMap::new();
        if internal {
            self.identity.stamp(None, &mut headers);
        }
        CredentialServiceClient::new(HttpClient::plaintext_http2_only(), self.config(headers))
    }

    async fn sign_up(&self, email: &str) -> (User, Caller) {
        let user = self
            .anonymous()
            .create_user(CreateUserRequest {
                email: email.into(),
                password: "correct horse".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_owned()
            .user
            .into_option()
            .unwrap();
        let caller = Caller { user_id: user.id.parse().unwrap(), roles: vec![Role::Customer] };
        (user, caller)
    }

    async fn sign_up_admin(&self, email: &str) -> (User, Caller) {
        let (_, mut caller) = self.sign_up(email).await;
        let row = accounts::make_admin_by_email(&self.database.pool, &Email::parse(email).unwrap()).await.unwrap();
        caller.roles.push(Role::Admin);
        (ec_user::api::to_wire(row), caller)
    }
}

fn code<T>(result: Result<T, ConnectError>) -> ErrorCode {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.code,
    }
}

fn get(id: &str) -> GetUserRequest {
    GetUserRequest { id: id.into(), ..Default::default() }
}

#[tokio::test]
async fn get_user_enforces_sign_in_then_input_then_ownership() {
    let service = Service::start().await;
    let (alice, alice_caller) = service.sign_up("alice@example.com").await;
    let (bob, _) = service.sign_up("bob@example.com").await;
    let (_, admin) = service.sign_up_admin("admin@example.com").await;

    assert_eq!(code(service.anonymous().get_user(get(&alice.id)).await), ErrorCode::Unauthenticated);
    let as_alice = service.users_as(Some(&alice_caller));
    assert_eq!(code(as_alice.get_user(get("not-a-uuid")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(as_alice.get_user(get(&"f".repeat(10_000))).await), ErrorCode::InvalidArgument);
    assert_eq!(code(as_alice.get_user(get(&bob.id)).await), ErrorCode::PermissionDenied);
    let own = as_alice.get_user(get(&alice.id)).await.unwrap().into_owned();
    assert_eq!(own.user.as_option(), Some(&alice));

    let as_admin = service.users_as(Some(&admin));
    assert_eq!(as_admin.get_user(get(&bob.id)).await.unwrap().into_owned().user.as_option(), Some(&bob));
    assert_eq!(code(as_admin.get_user(get(&Uuid::now_v7().to_string())).await), ErrorCode::NotFound);

    service.stop().await;
}

#[tokio::test]
async fn a_deleted_account_is_gone_and_its_email_can_register_again() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("Alice@Example.com").await;
    let as_alice = service.users_as(Some(&caller));
    let delete = |password: &str| DeleteUserRequest {
        id: alice.id.clone(),
        current_password: password.into(),
        ..Default::default()
    };

    // A stolen access token alone cannot close the account: the holder's password must come with it.
    assert_eq!(code(as_alice.delete_user(delete("")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(as_alice.delete_user(delete("wrong horse")).await), ErrorCode::FailedPrecondition);
    assert_eq!(code(as_alice.delete_user(delete(&"x".repeat(100_000))).await), ErrorCode::FailedPrecondition);
    assert!(as_alice.get_user(get(&alice.id)).await.is_ok(), "still there");
    as_alice.delete_user(delete("correct horse")).await.unwrap();
    assert_eq!(code(as_alice.delete_user(delete("correct horse")).await), ErrorCode::NotFound);
    assert_eq!(code(as_alice.get_user(get(&alice.id)).await), ErrorCode::NotFound);

    // The address is free again, in any case; the new account is a different one.
    let (again, _) = service.sign_up("alice@example.COM").await;
    assert_ne!(again.id, alice.id);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM user_service.users WHERE email_normalized = $1")
        .bind("alice@example.com")
        .fetch_one(&service.database.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2, "the deleted row is kept (soft delete)");

    service.stop().await;
}

#[tokio::test]
async fn deleting_someone_else_is_refused_unless_admin() {
    let service = Service::start().await;
    let (alice, alice_caller) = service.sign_up("alice@example.com").await;
    let (bob, _) = service.sign_up("bob@example.com").await;
    let (_, admin) = service.sign_up_admin("admin@example.com").await;
    let delete = |id: &str| DeleteUserRequest { id: id.into(), ..Default::default() };

    let as_alice = service.users_as(Some(&alice_caller));
    assert_eq!(code(as_alice.delete_user(delete(&bob.id)).await), ErrorCode::PermissionDenied);
    assert_eq!(code(service.anonymous().delete_user(delete(&bob.id)).await), ErrorCode::Unauthenticated);
    service.users_as(Some(&admin)).delete_user(delete(&bob.id)).await.unwrap();
    assert!(as_alice.get_user(get(&alice.id)).await.is_ok(), "alice is untouched");

    service.stop().await;
}

#[tokio::test]
async fn update_user_changes_only_what_is_set_and_keeps_emails_unique() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    service.sign_up("bob@example.com").await;
    let as_alice = service.users_as(Some(&caller));
    let update = |email: Option<&str>, name: Option<&str>| UpdateUserRequest {
        id: alice.id.clone(),
        email: email.map(Into::into),
        name: name.map(Into::into),
        current_password: "correct horse".into(),
        ..Default::default()
    };

    let named = as_alice.update_user(update(None, Some("  Alice  "))).await.unwrap().into_owned();
    let named = named.user.into_option().unwrap();
    assert_eq!((named.email.as_str(), named.name.as_deref()), ("alice@example.com", Some("Alice")));
    let seconds = |user: &User| user.updated_at.as_option().map(|t| (t.seconds, t.nanos)).unwrap();
    assert!(seconds(&named) > seconds(&alice), "updated_at moves");

    verification::mark_verified(&service.database.pool, UserId::parse(&alice.id).unwrap()).await.unwrap();
    let recased = as_alice.update_user(update(Some("ALICE@example.com"), None)).await.unwrap().into_owned();
    assert!(recased.user.into_option().unwrap().email_verified, "a change of letter case keeps the verification");
    let moved = as_alice.update_user(update(Some("Alice@New.example"), None)).await.unwrap().into_owned();
    let moved = moved.user.into_option().unwrap();
    assert_eq!((moved.email.as_str(), moved.name.as_deref()), ("Alice@New.example", Some("Alice")));
    assert!(!moved.email_verified, "a new address is not verified");

    let unnamed = as_alice.update_user(update(None, Some(""))).await.unwrap().into_owned();
    assert_eq!(unnamed.user.into_option().unwrap().name, None);

    assert_eq!(code(as_alice.update_user(update(Some("BOB@example.com"), None)).await), ErrorCode::AlreadyExists);

    // A new email needs the holder's password (a name does not); an admin changes another's without it.
    let without =
        |password: &str| UpdateUserRequest { current_password: password.into(), ..update(Some("a@x.example"), None) };
    assert_eq!(code(as_alice.update_user(without("")).await), ErrorCode::InvalidArgument);
    assert_eq!(code(as_alice.update_user(without("wrong horse")).await), ErrorCode::FailedPrecondition);
    let name_only = UpdateUserRequest { current_password: String::new(), ..update(None, Some("Al")) };
    assert!(as_alice.update_user(name_only).await.is_ok());
    let (_, admin) = service.sign_up_admin("admin@example.com").await;
    let by_admin = UpdateUserRequest { current_password: String::new(), ..update(Some("alice@admin.example"), None) };
    let changed = service.users_as(Some(&admin)).update_user(by_admin).await.unwrap().into_owned();
    assert_eq!(changed.user.into_option().unwrap().email, "alice@admin.example");
    let huge = "n".repeat(10_000);
    for (email, name) in [(Some("not-an-email"), None), (None, Some(huge.as_str())), (Some(huge.as_str()), None)] {
        assert_eq!(code(as_alice.update_user(update(email, name)).await), ErrorCode::InvalidArgument);
    }

    service.stop().await;
}

#[tokio::test]
async fn two_accounts_racing_for_one_new_email_cannot_both_get_it() {
    let service = Service::start().await;
    let (alice, alice_caller) = service.sign_up("alice@example.com").await;
    let (bob, bob_caller) = service.sign_up("bob@example.com").await;
    let claim = |user: &User, caller: &Caller| {
        let client = service.users_as(Some(caller));
        let request = UpdateUserRequest {
            id: user.id.clone(),
            email: Some("prize@example.com".into()),
            current_password: "correct horse".into(),
            ..Default::default()
        };
        async move { client.update_user(request).await }
    };

    let (a, b) = futures::join!(claim(&alice, &alice_caller), claim(&bob, &bob_caller));
    let codes: Vec<_> = [a.err().map(|e| e.code), b.err().map(|e| e.code)].into();
    assert!(codes.contains(&None) && codes.contains(&Some(ErrorCode::AlreadyExists)), "exactly one wins: {codes:?}");

    service.stop().await;
}

#[tokio::test]
async fn change_password_needs_the_current_one_and_only_the_holder_may() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    let (_, admin) = service.sign_up_admin("admin@example.com").await;
    let change = |current: &str, new: &str| ChangePasswordRequest {
        id: alice.id.clone(),
        current_password: current.into(),
        new_password: new.into(),
        ..Default::default()
    };
    let as_alice = service.users_as(Some(&caller));

    assert_eq!(
        code(as_alice.change_password(change("wrong horse", "battery staple")).await),
        ErrorCode::FailedPrecondition
    );
    assert_eq!(code(as_alice.change_password(change("correct horse", "short")).await), ErrorCode::InvalidArgument);
    assert_eq!(
        code(service.users_as(Some(&admin)).change_password(change("correct horse", "battery staple")).await),
        ErrorCode::PermissionDenied
    );
    as_alice.change_password(change("correct horse", "battery staple")).await.unwrap();

    let verify = |password: &str| VerifyPasswordRequest {
        email: "alice@example.com".into(),
        password: password.into(),
        ..Default::default()
    };
    let credentials = service.credentials(true);
    assert!(credentials.verify_password(verify("battery staple")).await.is_ok());
    assert_eq!(code(credentials.verify_password(verify("correct horse")).await), ErrorCode::Unauthenticated);

    service.stop().await;
}

#[tokio::test]
async fn change_password_is_held_to_the_sign_in_throttle_so_a_stolen_token_cannot_guess_the_password() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    let as_alice = service.users_as(Some(&caller));
    let change = |current: &str| ChangePasswordRequest {
        id: alice.id.clone(),
        current_password: current.into(),
        new_password: "battery staple".into(),
        ..Default::default()
    };
    // The default allowance is three wrong passwords; then each attempt waits (a second, then two, four...).
    for guess in 0..3 {
        let wrong = as_alice.change_password(change(&format!("guess number {guess}"))).await;
        assert_eq!(code(wrong), ErrorCode::FailedPrecondition, "guess {guess}");
    }
    // Then even the right password waits: the answer must not tell a guesser when they hit it.
    let error = as_alice.change_password(change("correct horse")).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResourceExhausted, "{error:?}");
    let retry_after = error.response_headers().get("retry-after").and_then(|v| v.to_str().ok());
    assert_eq!(retry_after, Some("1"), "{error:?}");
    let credentials = service.credentials(true);
    let request = VerifyPasswordRequest {
        email: "alice@example.com".into(),
        password: "correct horse".into(),
        ..Default::default()
    };
    assert!(credentials.verify_password(request).await.is_ok(), "the password did not change");
    service.stop().await;
}

#[tokio::test]
async fn of_concurrent_password_changes_with_the_same_current_password_exactly_one_lands() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    let as_alice = service.users_as(Some(&caller));
    let change = |new: &str| ChangePasswordRequest {
        id: alice.id.clone(),
        current_password: "correct horse".into(),
        new_password: new.into(),
        ..Default::default()
    };
    // Three: every check of a password counts against the throttle before it is made, and three attempts are
    // what the API gets before attempts wait.
    let new_passwords = ["battery staple", "staple battery", "horse battery"];
    let results = futures::future::join_all(new_passwords.map(|new| as_alice.change_password(change(new)))).await;
    let landed: Vec<&str> =
        new_passwords.iter().zip(&results).filter(|(_, result)| result.is_ok()).map(|(new, _)| *new).collect();
    assert_eq!(landed.len(), 1, "{results:?}");
    for error in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(error.code, ErrorCode::FailedPrecondition, "{error:?}");
    }

    let credentials = service.credentials(true);
    for new in new_passwords {
        let request =
            VerifyPasswordRequest { email: "alice@example.com".into(), password: new.into(), ..Default::default() };
        assert_eq!(credentials.verify_password(request).await.is_ok(), new == landed[0], "{new}");
    }
    service.stop().await;
}

#[tokio::test]
async fn verify_password_says_the_same_for_every_failure_and_answers_internal_callers_only() {
    let service = Service::start().await;
    let (alice, _) = service.sign_up("alice@example.com").await;
    let (gone, gone_caller) = service.sign_up("gone@example.com").await;
    service
        .users_as(Some(&gone_caller))
        .delete_user(DeleteUserRequest {
            id: gone.id.clone(),
            current_password: "correct horse".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let verify = |email: &str, password: &str| VerifyPasswordRequest {
        email: email.into(),
        password: password.into(),
        ..Default::default()
    };
    let credentials = service.credentials(true);

    let ok = credentials.verify_password(verify("  ALICE@example.com ", "correct horse")).await.unwrap();
    let ok = ok.into_owned();
    assert_eq!(ok.user_id, alice.id);
    assert_eq!(ok.roles, vec![buffa::EnumValue::from(wire::Role::ROLE_CUSTOMER)]);

    let mut failures = Vec::new();
    for (email, password) in [
        ("alice@example.com", "wrong horse"),
        ("nobody@example.com", "correct horse"),
        ("gone@example.com", "correct horse"),
        ("not-an-email", "correct horse"),
    ] {
        let err = credentials.verify_password(verify(email, password)).await.unwrap_err();
        failures.push((err.code, err.message));
    }
    assert!(failures.iter().all(|f| f == &failures[0]), "every failure looks the same: {failures:?}");
    assert_eq!(failures[0].0, ErrorCode::Unauthenticated);

    assert_eq!(code(credentials.verify_password(verify("", "")).await), ErrorCode::InvalidArgument);
    assert_eq!(
        code(service.credentials(false).verify_password(verify("alice@example.com", "correct horse")).await),
        ErrorCode::PermissionDenied,
        "a caller without the internal secret cannot use it to guess passwords"
    );

    service.stop().await;
}

#[tokio::test]
async fn list_users_is_for_admins_and_pages_without_gaps_or_repeats() {
    let service = Service::start().await;
    let (_, customer) = service.sign_up("customer@example.com").await;
    for i in 0..6 {
        service.sign_up(&format!("user{i}@example.com")).await;
    }
    let (_, admin) = service.sign_up_admin("admin@example.com").await;
    let list = |size: i32, token: &str, filter: &str| ListUsersRequest {
        page_size: size,
        page_token: token.into(),
        email_contains: filter.into(),
        ..Default::default()
    };

    assert_eq!(code(service.users_as(Some(&customer)).list_users(list(0, "", "")).await), ErrorCode::PermissionDenied);
    let as_admin = service.users_as(Some(&admin));
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = as_admin.list_users(list(3, &token, "")).await.unwrap().into_owned();
        assert!(page.users.len() <= 3);
        seen.extend(page.users.into_iter().map(|u| u.email));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen[0], "admin@example.com", "newest first");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "no account twice");

    let filtered = as_admin.list_users(list(0, "", "USER")).await.unwrap().into_owned();
    assert_eq!(filtered.users.len(), 6);

    for bad in [list(101, "", ""), list(-1, "", ""), list(0, "forged", ""), list(0, "", &"x".repeat(10_000))] {
        assert_eq!(code(as_admin.list_users(bad).await), ErrorCode::InvalidArgument);
    }

    // Tokens are signed and bound to their filter: one of the whole list does not page a search, and the old
    // unsigned form (the last id in clear) is refused.
    let first = as_admin.list_users(list(3, "", "")).await.unwrap().into_owned();
    let refused = as_admin.list_users(list(3, &first.next_page_token, "user")).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidArgument);
    assert_eq!(
        refused.message.as_deref(),
        Some("page_token was issued for other filters; start again from the first page")
    );
    let last_id = first.users.last().unwrap().id.replace('-', "");
    let unsigned = as_admin.list_users(list(3, &format!("u1.{last_id}"), "")).await.unwrap_err();
    assert_eq!(
        unsigned.message.as_deref(),
        Some("page_token was not issued by this server; start again from the first page")
    );

    service.stop().await;
}

#[tokio::test]
async fn only_admins_change_roles_and_never_their_own_admin_role() {
    let service = Service::start().await;
    let (alice, alice_caller) = service.sign_up("alice@example.com").await;
    let (admin_user, admin) = service.sign_up_admin("admin@example.com").await;
    let set = |id: &str, role: wire::Role, granted: bool| SetUserRoleRequest {
        id: id.into(),
        role: role.into(),
        granted,
        ..Default::default()
    };

    assert_eq!(
        code(service.users_as(Some(&alice_caller)).set_user_role(set(&alice.id, wire::Role::ROLE_ADMIN, true)).await),
        ErrorCode::PermissionDenied
    );
    let as_admin = service.users_as(Some(&admin));
    // Only a verified address gets admin power.
    assert_eq!(
        code(as_admin.set_user_role(set(&alice.id, wire::Role::ROLE_ADMIN, true)).await),
        ErrorCode::FailedPrecondition
    );
    verification::mark_verified(&service.database.pool, UserId::parse(&alice.id).unwrap()).await.unwrap();
    let promoted = as_admin.set_user_role(set(&alice.id, wire::Role::ROLE_ADMIN, true)).await.unwrap();
    let roles = promoted.into_owned().user.into_option().unwrap().roles;
    assert_eq!(
        roles,
        vec![buffa::EnumValue::from(wire::Role::ROLE_CUSTOMER), buffa::EnumValue::from(wire::Role::ROLE_ADMIN)]
    );
    // Granting twice changes nothing.
    let again = as_admin.set_user_role(set(&alice.id, wire::Role::ROLE_ADMIN, true)).await.unwrap();
    assert_eq!(again.into_owned().user.into_option().unwrap().roles.len(), 2);
    let demoted = as_admin.set_user_role(set(&alice.id, wire::Role::ROLE_ADMIN, false)).await.unwrap();
    assert_eq!(demoted.into_owned().user.into_option().unwrap().roles.len(), 1);

    assert_eq!(
        code(as_admin.set_user_role(set(&admin_user.id, wire::Role::ROLE_ADMIN, false)).await),
        ErrorCode::FailedPrecondition
    );
    assert_eq!(
        code(as_admin.set_user_role(set(&alice.id, wire::Role::ROLE_CUSTOMER, false)).await),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(as_admin.set_user_role(set(&alice.id, wire::Role::ROLE_UNSPECIFIED, true)).await),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(as_admin.set_user_role(set(&Uuid::now_v7().to_string(), wire::Role::ROLE_ADMIN, true)).await),
        ErrorCode::NotFound
    );

    service.stop().await;
}

#[tokio::test]
async fn identity_metadata_without_the_internal_secret_is_refused() {
    let service = Service::start().await;
    let (alice, _) = service.sign_up("alice@example.com").await;

    let mut forged = http::HeaderMap::new();
    forged.insert("x-ec-caller-id", alice.id.parse().unwrap());
    forged.insert("x-ec-caller-roles", "customer,admin".parse().unwrap());
    forged.insert("x-ec-internal-token", "0".repeat(64).parse().unwrap());
    let client = UserServiceClient::new(HttpClient::plaintext_http2_only(), service.config(forged));
    let err = client.get_user(get(&alice.id)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthenticated);

    service.stop().await;
}

#[tokio::test]
async fn a_demoted_admins_token_no_longer_carries_admin_power() {
    let service = Service::start().await;
    let (bob, _) = service.sign_up("bob@example.com").await;
    let (admin_user, admin) = service.sign_up_admin("admin@example.com").await;
    let as_admin = service.users_as(Some(&admin));
    assert!(as_admin.get_user(get(&bob.id)).await.is_ok());

    // Demoted in the database (say, by another admin); the token still claims admin.
    sqlx::query("UPDATE user_service.users SET roles = ARRAY['customer'] WHERE id = $1")
        .bind(Uuid::parse_str(&admin_user.id).unwrap())
        .execute(&service.database.pool)
        .await
        .unwrap();
    assert_eq!(code(as_admin.get_user(get(&bob.id)).await), ErrorCode::PermissionDenied);
    assert_eq!(code(as_admin.list_users(ListUsersRequest::default()).await), ErrorCode::PermissionDenied);
    assert!(as_admin.get_user(get(&admin_user.id)).await.is_ok(), "their own account is still theirs");

    service.stop().await;
}

#[tokio::test]
async fn an_address_that_looks_like_a_registered_one_cannot_register_or_take_it_over() {
    let service = Service::start().await;
    let (_, ada) = service.sign_up("aoa@example.com").await;
    let (bob, bob_caller) = service.sign_up("bob@example.com").await;
    let create =
        |email: &str| CreateUserRequest { email: email.into(), password: "correct horse".into(), ..Default::default() };
    let anonymous = service.anonymous();
    // All-Cyrillic "аоа" is pixel for pixel the Latin "aoa"; full-width letters are their ASCII selves.
    for look_alike in ["\u{430}\u{43e}\u{430}@example.com", "ＡＯＡ@example.com"] {
        assert_eq!(code(anonymous.create_user(create(look_alike)).await), ErrorCode::AlreadyExists, "{look_alike}");
    }
    // Latin mixed with Cyrillic in one part is refused outright, at sign-up and on a change of address.
    for mixed in ["p\u{430}ypal@example.com", "aoa@\u{435}\u{445}ample.com"] {
        assert_eq!(code(anonymous.create_user(create(mixed)).await), ErrorCode::InvalidArgument, "{mixed}");
    }
    let as_bob = service.users_as(Some(&bob_caller));
    let change = UpdateUserRequest {
        id: bob.id.clone(),
        email: Some("\u{430}\u{43e}\u{430}@example.com".into()),
        current_password: "correct horse".into(),
        ..Default::default()
    };
    assert_eq!(code(as_bob.update_user(change).await), ErrorCode::AlreadyExists);
    // Addresses that differ in ASCII are different people's, however alike they look.
    service.sign_up("aoa1@example.com").await;
    service.sign_up("modern@example.com").await;
    service.sign_up("modem@example.com").await;

    // The admin's search finds an account by a look-alike spelling too.
    let (_, admin) = service.sign_up_admin("admin@example.com").await;
    let search = ListUsersRequest { email_contains: "\u{430}\u{43e}\u{430}@".into(), ..Default::default() };
    let found = service.users_as(Some(&admin)).list_users(search).await.unwrap().into_owned().users;
    assert_eq!(found.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [ada.user_id.to_string()]);
    service.stop().await;
}

#[tokio::test]
async fn accounts_from_before_look_alikes_counted_get_their_new_key_at_start() {
    let service = Service::start().await;
    let pool = &service.database.pool;
    // Two accounts stored under the old key (lower case only): one that now shares its key with a Latin
    // account and keeps its old one, and one that takes its new key.
    let insert = |email: &'static str| {
        sqlx::query(
            "INSERT INTO user_service.users (id, email, email_normalized, password_hash)
             VALUES ($1, $2, lower($2), 'not a hash')",
        )
        .bind(Uuid::now_v7())
        .bind(email)
        .execute(pool)
    };
    service.sign_up("aoa@example.com").await;
    insert("\u{430}\u{43e}\u{430}@example.com").await.unwrap();
    insert("ＥＭＩＬＥ@example.fr").await.unwrap();

    ec_user::db::rekey_emails(pool, ec_user::domain::normalize_email).await.unwrap();
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT email, email_normalized FROM user_service.users ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    let key = |email: &str| keys.iter().find(|(e, _)| e == email).unwrap().1.clone();
    assert_eq!(key("ＥＭＩＬＥ@example.fr"), "emile@example.fr");
    assert_eq!(key("\u{430}\u{43e}\u{430}@example.com"), "\u{430}\u{43e}\u{430}@example.com", "kept: taken");
    assert_eq!(key("aoa@example.com"), "aoa@example.com");
    service.stop().await;
}

fn address(line1: &str) -> Address {
    Address {
        recipient_name: "Hanako Yamada".into(),
        line1: line1.into(),
        city: "Tokyo".into(),
        postal_code: "150-0002".into(),
        country_code: "JP".into(),
        ..Default::default()
    }
}

fn add(user_id: &str, address: Address, make_default: bool) -> AddAddressRequest {
    AddAddressRequest { user_id: user_id.into(), address: address.into(), make_default, ..Default::default() }
}

/// The address book as (first line, default) pairs, in the order it is listed.
async fn book(client: &UserServiceClient<HttpClient>, user_id: &str) -> Vec<(String, bool)> {
    let list = ListAddressesRequest { user_id: user_id.into(), ..Default::default() };
    let answer = client.list_addresses(list).await.unwrap().into_owned();
    answer.addresses.into_iter().map(|saved| (saved.address.line1.clone(), saved.is_default)).collect()
}

async fn saved(client: &UserServiceClient<HttpClient>, request: AddAddressRequest) -> SavedAddress {
    client.add_address(request).await.unwrap().into_owned().address.into_option().unwrap()
}

#[tokio::test]
async fn the_address_book_keeps_one_default_and_only_addresses_that_can_be_shipped_to() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    let as_alice = service.users_as(Some(&caller));
    assert!(book(&as_alice, &alice.id).await.is_empty());

    // The first address is the default whether asked or not; a later one only when asked.
    let home = saved(&as_alice, add(&alice.id, address(" 1-2-3 Shibuya "), false)).await;
    assert!(home.is_default);
    assert_eq!(home.address.line1, "1-2-3 Shibuya", "trimmed, as an order's address is");
    let office = saved(&as_alice, add(&alice.id, address("4-5-6 Chiyoda"), false)).await;
    assert!(!office.is_default);
    let parents = saved(&as_alice, add(&alice.id, address("7-8-9 Naka"), true)).await;
    assert!(parents.is_default);
    assert_eq!(
        book(&as_alice, &alice.id).await,
        [("7-8-9 Naka".into(), true), ("4-5-6 Chiyoda".into(), false), ("1-2-3 Shibuya".into(), false)]
    );

    // An address that could not be shipped to is refused, naming the field, and saves nothing.
    let broken: [fn(&mut Address); 5] = [
        |a| a.city.clear(),
        |a| a.country_code = "Japan".into(),
        |a| a.line1 = "x".repeat(100_000),
        |a| a.phone = "<script>".into(),
        |a| a.postal_code = "150\n0002".into(),
    ];
    for broken in broken {
        let mut wrong = address("1-2-3 Shibuya");
        broken(&mut wrong);
        let refused = as_alice.add_address(add(&alice.id, wrong, false)).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidArgument);
        assert!(refused.message.as_deref().unwrap_or_default().starts_with("address."), "{refused:?}");
    }
    let missing = AddAddressRequest { user_id: alice.id.clone(), ..Default::default() };
    assert_eq!(code(as_alice.add_address(missing).await), ErrorCode::InvalidArgument);
    assert_eq!(code(as_alice.add_address(add("me", address("x"), false)).await), ErrorCode::InvalidArgument);
    assert_eq!(book(&as_alice, &alice.id).await.len(), 3);

    // Changing an address replaces it; making it the default takes the default from the other.
    let update = |id: &str, line1: &str, make_default: bool| UpdateAddressRequest {
        user_id: alice.id.clone(),
        address_id: id.into(),
        address: address(line1).into(),
        make_default,
        ..Default::default()
    };
    as_alice.update_address(update(&office.id, "4-5-7 Chiyoda", false)).await.unwrap();
    as_alice.update_address(update(&home.id, "1-2-3 Shibuya", true)).await.unwrap();
    assert_eq!(
        book(&as_alice, &alice.id).await,
        [("1-2-3 Shibuya".into(), true), ("7-8-9 Naka".into(), false), ("4-5-7 Chiyoda".into(), false)]
    );
    // Making an address the default alone leaves it as it is; asking for nothing is refused.
    let only_default = |id: &str, make_default: bool| UpdateAddressRequest {
        user_id: alice.id.clone(),
        address_id: id.into(),
        make_default,
        ..Default::default()
    };
    as_alice.update_address(only_default(&office.id, true)).await.unwrap();
    assert_eq!(book(&as_alice, &alice.id).await[0], ("4-5-7 Chiyoda".into(), true));
    assert_eq!(code(as_alice.update_address(only_default(&office.id, false)).await), ErrorCode::InvalidArgument);
    as_alice.update_address(only_default(&home.id, true)).await.unwrap();
    let unknown = Uuid::now_v7().to_string();
    assert_eq!(code(as_alice.update_address(update(&unknown, "x", true)).await), ErrorCode::NotFound);
    assert_eq!(code(as_alice.update_address(update("1", "x", true)).await), ErrorCode::InvalidArgument);
    assert!(book(&as_alice, &alice.id).await[0].1, "a refused change keeps the default where it was");

    // Deleting the default hands it to the newest address left.
    let delete =
        |id: &str| DeleteAddressRequest { user_id: alice.id.clone(), address_id: id.into(), ..Default::default() };
    as_alice.delete_address(delete(&home.id)).await.unwrap();
    assert_eq!(code(as_alice.delete_address(delete(&home.id)).await), ErrorCode::NotFound);
    assert_eq!(book(&as_alice, &alice.id).await, [("7-8-9 Naka".into(), true), ("4-5-7 Chiyoda".into(), false)]);
    as_alice.delete_address(delete(&office.id)).await.unwrap();
    as_alice.delete_address(delete(&parents.id)).await.unwrap();
    assert!(book(&as_alice, &alice.id).await.is_empty());

    service.stop().await;
}

#[tokio::test]
async fn another_accounts_address_book_is_out_of_reach_except_to_an_admin() {
    let service = Service::start().await;
    let (alice, alice_caller) = service.sign_up("alice@example.com").await;
    let (bob, bob_caller) = service.sign_up("bob@example.com").await;
    let (_, admin) = service.sign_up_admin("admin@example.com").await;
    let as_alice = service.users_as(Some(&alice_caller));
    let as_bob = service.users_as(Some(&bob_caller));
    let home = saved(&as_alice, add(&alice.id, address("1-2-3 Shibuya"), false)).await;

    // Naming Alice's book is refused; naming his own with her address's id finds nothing.
    let list = ListAddressesRequest { user_id: alice.id.clone(), ..Default::default() };
    assert_eq!(code(service.anonymous().list_addresses(list.clone()).await), ErrorCode::Unauthenticated);
    assert_eq!(code(as_bob.list_addresses(list).await), ErrorCode::PermissionDenied);
    assert_eq!(code(as_bob.add_address(add(&alice.id, address("x"), true)).await), ErrorCode::PermissionDenied);
    let hijack = UpdateAddressRequest {
        user_id: bob.id.clone(),
        address_id: home.id.clone(),
        address: address("Bob's place").into(),
        make_default: true,
        ..Default::default()
    };
    assert_eq!(code(as_bob.update_address(hijack).await), ErrorCode::NotFound);
    let remove = DeleteAddressRequest { user_id: bob.id.clone(), address_id: home.id.clone(), ..Default::default() };
    assert_eq!(code(as_bob.delete_address(remove).await), ErrorCode::NotFound);
    assert_eq!(book(&as_alice, &alice.id).await, [("1-2-3 Shibuya".into(), true)]);

    // Naming her book with her address's id is refused too, before anything is looked up.
    let named = UpdateAddressRequest {
        user_id: alice.id.clone(),
        address_id: home.id.clone(),
        address: address("Bob's place").into(),
        ..Default::default()
    };
    assert_eq!(code(as_bob.update_address(named).await), ErrorCode::PermissionDenied);
    let named = DeleteAddressRequest { user_id: alice.id.clone(), address_id: home.id.clone(), ..Default::default() };
    assert_eq!(code(as_bob.delete_address(named).await), ErrorCode::PermissionDenied);
    assert_eq!(book(&as_alice, &alice.id).await, [("1-2-3 Shibuya".into(), true)]);

    // An admin reads and keeps anyone's book.
    let as_admin = service.users_as(Some(&admin));
    assert_eq!(book(&as_admin, &alice.id).await, [("1-2-3 Shibuya".into(), true)]);
    let office = saved(&as_admin, add(&alice.id, address("4-5-6 Chiyoda"), true)).await;
    let moved = UpdateAddressRequest {
        user_id: alice.id.clone(),
        address_id: office.id.clone(),
        address: address("4-5-7 Chiyoda").into(),
        ..Default::default()
    };
    as_admin.update_address(moved).await.unwrap();
    assert_eq!(book(&as_alice, &alice.id).await, [("4-5-7 Chiyoda".into(), true), ("1-2-3 Shibuya".into(), false)]);
    let gone = DeleteAddressRequest { user_id: alice.id.clone(), address_id: office.id.clone(), ..Default::default() };
    as_admin.delete_address(gone).await.unwrap();
    assert_eq!(book(&as_alice, &alice.id).await, [("1-2-3 Shibuya".into(), true)]);

    service.stop().await;
}

#[tokio::test]
async fn an_address_book_holds_twenty_even_when_many_are_added_at_once_and_goes_with_its_account() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    let as_alice = service.users_as(Some(&caller));
    for n in 0..18 {
        saved(&as_alice, add(&alice.id, address(&format!("{n} Shibuya")), false)).await;
    }
    // Six at once onto eighteen, each asking to be the default: two land, and one address is the default.
    let adds = (0..6).map(|n| as_alice.add_address(add(&alice.id, address(&format!("late {n}")), true)));
    let outcomes = futures::future::join_all(adds).await;
    let landed = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(landed, 2);
    for outcome in outcomes.into_iter().filter_map(Result::err) {
        assert_eq!(outcome.code, ErrorCode::FailedPrecondition, "{outcome:?}");
    }
    let entries = book(&as_alice, &alice.id).await;
    assert_eq!(entries.len(), 20);
    assert_eq!(entries.iter().filter(|(_, is_default)| *is_default).count(), 1);
    assert!(entries[0].0.starts_with("late"), "the default is one of those that asked: {entries:?}");

    // Deleting the account deletes its addresses with it.
    let delete =
        DeleteUserRequest { id: alice.id.clone(), current_password: "correct horse".into(), ..Default::default() };
    as_alice.delete_user(delete).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM user_service.addresses")
        .fetch_one(&service.database.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let list = ListAddressesRequest { user_id: alice.id.clone(), ..Default::default() };
    assert_eq!(code(as_alice.list_addresses(list).await), ErrorCode::NotFound);

    service.stop().await;
}

#[tokio::test]
async fn an_address_added_while_the_account_is_deleted_goes_with_it() {
    let service = Service::start().await;
    let (alice, caller) = service.sign_up("alice@example.com").await;
    let id: Uuid = alice.id.parse().unwrap();
    let pool = service.database.pool.clone();
    // An address being added, as AddAddress adds one: the account's row locked, the address written, not yet
    // committed.
    let mut adding = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM user_service.users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .execute(&mut *adding)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO user_service.addresses (id, user_id, recipient_name, line1, city, postal_code, country_code)
         VALUES ($1, $2, 'Hanako Yamada', '1-2-3 Shibuya', 'Tokyo', '150-0002', 'JP')",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .execute(&mut *adding)
    .await
    .unwrap();
    // The account is deleted meanwhile: the deletion waits for the lock, then finds the address committed.
    let as_alice = service.users_as(Some(&caller));
    let delete =
        DeleteUserRequest { id: alice.id.clone(), current_password: "correct horse".into(), ..Default::default() };
    let deleting = tokio::spawn(async move { as_alice.delete_user(delete).await.map(|_| ()) });
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE user_service.users%'";
    ec_testing::eventually("the deletion waiting for the account's lock", std::time::Duration::from_secs(10), || {
        let pool = pool.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar(waiting).fetch_one(&pool).await.unwrap();
            if waiting > 0 { Ok(()) } else { Err(ec_testing::Seen(waiting)) }
        }
    })
    .await;
    adding.commit().await.unwrap();
    deleting.await.unwrap().unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM user_service.addresses WHERE user_id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the address added while the account was deleted is left behind");
    service.stop().await;
}
