//! Who may call what through the BFF, with tokens from the real sign-in flow: the Go project's end-to-end
//! table, BOLA (another user's id) and BFLA (admin RPCs), and tokens revoked when their account changes.

use connectrpc::ErrorCode;
use ec_e2e::{
    TestPlatform,
    browser::sign_in,
    clients::{self, Wire},
};
use ec_platform::identity::{Caller, Role};
use ec_proto::user::v1::{GetUserRequest, ListUsersRequest};
use serde_json::{Value, json};

/// Calls `method` of the user API through the BFF as Connect JSON.
async fn call(platform: &TestPlatform, method: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    platform.call(&format!("/user.v1.UserService/{method}"), token, &body).await
}

async fn sign_up(platform: &TestPlatform, email: &str) -> String {
    platform.sign_up(email, "correct horse").await
}

#[tokio::test]
async fn the_go_projects_end_to_end_table_holds() {
    let platform = TestPlatform::start().await;
    let get = |status: reqwest::StatusCode| status.as_u16();

    let health = reqwest::get(format!("{}/health", platform.bff_url())).await.unwrap();
    assert_eq!(get(health.status()), 200);
    let ready = reqwest::get(format!("{}/ready", platform.ops_url())).await.unwrap();
    assert_eq!(get(ready.status()), 200, "{:?}", ready.text().await);

    // CreateUser without a token: 200.
    let alice = sign_up(&platform, "alice@example.com").await;
    let bob = sign_up(&platform, "bob@example.com").await;

    // GetUser without a token, or with a malformed or forged one: 401.
    let (status, error) = call(&platform, "GetUser", None, json!({ "id": alice })).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("unauthenticated")));
    let tokens = sign_in(&platform, "alice@example.com", "correct horse").await;
    let token = tokens["access_token"].as_str().unwrap();
    let (head, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let tampered_payload = format!("{head}.{}x.{signature}", &payload[..payload.len() - 1]);
    let wrong_signature = format!("{head}.{payload}.{}", signature.chars().rev().collect::<String>());
    for bad in [
        "not-a-jwt",
        "a.b.c",
        tampered_payload.as_str(),
        wrong_signature.as_str(),
        tokens["id_token"].as_str().unwrap(),
    ] {
        let (status, error) = call(&platform, "GetUser", Some(bad), json!({ "id": alice })).await;
        assert_eq!((status, error["message"].as_str()), (401, Some("invalid or missing access token")), "{bad}");
    }

    // A valid token for the caller's own id: 200; for another user's id: 403.
    let (status, body) = call(&platform, "GetUser", Some(token), json!({ "id": alice })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "alice@example.com");
    let (status, error) = call(&platform, "GetUser", Some(token), json!({ "id": bob })).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("permission_denied")));

    platform.stop().await;
}

#[tokio::test]
async fn signed_in_calls_work_in_every_protocol_and_bola_holds_in_each() {
    let platform = TestPlatform::start().await;
    let alice = sign_up(&platform, "alice@example.com").await;
    let bob = sign_up(&platform, "bob@example.com").await;
    let tokens = sign_in(&platform, "alice@example.com", "correct horse").await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());

    for wire in Wire::ALL {
        let (http, config) = clients::transport(&platform.bff_url(), wire);
        let client = ec_proto::user::v1::UserServiceClient::new(
            http,
            config.with_default_header("authorization", bearer.as_str()),
        );
        let own = client.get_user(GetUserRequest { id: alice.clone(), ..Default::default() }).await;
        assert_eq!(own.unwrap().into_owned().user.into_option().unwrap().id, alice, "{wire:?}");
        let other = client.get_user(GetUserRequest { id: bob.clone(), ..Default::default() }).await;
        assert_eq!(other.unwrap_err().code, ErrorCode::PermissionDenied, "{wire:?}");
        let listing = client.list_users(ListUsersRequest::default()).await;
        assert_eq!(listing.unwrap_err().code, ErrorCode::PermissionDenied, "{wire:?}: BFLA");
    }

    platform.stop().await;
}

#[tokio::test]
async fn admins_may_read_and_list_every_account() {
    let platform = TestPlatform::start().await;
    let alice = sign_up(&platform, "alice@example.com").await;
    sign_up(&platform, "root@example.com").await;
    sqlx::query("UPDATE user_service.users SET roles = ARRAY['customer', 'admin'] WHERE email = 'root@example.com'")
        .execute(&platform.database.pool)
        .await
        .unwrap();
    let tokens = sign_in(&platform, "root@example.com", "correct horse").await;
    let token = tokens["access_token"].as_str().unwrap();

    let (status, body) = call(&platform, "GetUser", Some(token), json!({ "id": alice })).await;
    assert_eq!((status, body["user"]["email"].as_str()), (200, Some("alice@example.com")));
    let (status, body) = call(&platform, "ListUsers", Some(token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"].as_array().unwrap().len(), 2);

    platform.stop().await;
}

#[tokio::test]
async fn a_token_of_a_deleted_account_reaches_nothing() {
    let platform = TestPlatform::start().await;
    let alice = sign_up(&platform, "alice@example.com").await;
    let tokens = sign_in(&platform, "alice@example.com", "correct horse").await;
    let token = tokens["access_token"].as_str().unwrap();

    // The token alone cannot close the account; with the password it does.
    let (status, error) = call(&platform, "DeleteUser", Some(token), json!({ "id": alice })).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid_argument")), "{error}");
    let (status, error) =
        call(&platform, "DeleteUser", Some(token), json!({ "id": alice, "currentPassword": "wrong horse" })).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("failed_precondition")), "{error}");
    let (status, _) =
        call(&platform, "DeleteUser", Some(token), json!({ "id": alice, "currentPassword": "correct horse" })).await;
    assert_eq!(status, 200);
    // The token is revoked at the BFF; even if it were not, the account is gone.
    let (status, error) = call(&platform, "GetUser", Some(token), json!({ "id": alice })).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("unauthenticated")));
    // Behind the BFF, the user service no longer knows the account.
    let mut identity = http::HeaderMap::new();
    let caller = Caller { user_id: alice.parse().unwrap(), roles: vec![Role::Customer] };
    platform.identity.stamp(Some(&caller), &mut identity);
    let response = reqwest::Client::new()
        .post(format!("{}/user.v1.UserService/GetUser", platform.url_of(platform.addresses.user)))
        .header("content-type", "application/json")
        .headers(identity)
        .body(json!({ "id": alice }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    platform.stop().await;
}

#[tokio::test]
async fn signed_in_reads_are_also_served_as_connect_get_requests() {
    let platform = TestPlatform::start().await;
    let alice = sign_up(&platform, "alice@example.com").await;
    let tokens = sign_in(&platform, "alice@example.com", "correct horse").await;
    let message = json!({ "id": alice }).to_string();

    let response = reqwest::Client::new()
        .get(format!("{}/user.v1.UserService/GetUser", platform.bff_url()))
        .query(&[("encoding", "json"), ("message", message.as_str())])
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], alice.as_str());

    // Writes are never served over GET.
    let response = reqwest::Client::new()
        .get(format!("{}/user.v1.UserService/DeleteUser", platform.bff_url()))
        .query(&[("encoding", "json"), ("message", message.as_str())])
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);

    platform.stop().await;
}

#[tokio::test]
async fn deleting_an_account_or_changing_its_password_signs_it_out_everywhere() {
    let platform = TestPlatform::start().await;
    let alice = sign_up(&platform, "alice@example.com").await;
    let issuer = platform.issuer().to_owned();
    let refresh = |tokens: &Value| {
        let token = tokens["refresh_token"].as_str().unwrap().to_owned();
        let issuer = issuer.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{issuer}oauth2/token"))
                .form(&[("grant_type", "refresh_token"), ("client_id", "ec-spa"), ("refresh_token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    let tokens = sign_in(&platform, "alice@example.com", "correct horse").await;
    let token = tokens["access_token"].as_str().unwrap();
    let change = json!({"id": alice, "currentPassword": "correct horse", "newPassword": "battery staple"});
    let (status, body) = call(&platform, "ChangePassword", Some(token), change).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(refresh(&tokens).await, 400, "the old sessions end with the old password");
    let (status, error) = call(&platform, "GetUser", Some(token), json!({ "id": alice })).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("unauthenticated")), "the old access token too");

    // Tokens issued in the second of the revocation are refused too; a sign-in after it gets a working one.
    next_second().await;
    let tokens = sign_in(&platform, "alice@example.com", "battery staple").await;
    let token = tokens["access_token"].as_str().unwrap();
    let (status, body) = call(&platform, "GetUser", Some(token), json!({ "id": alice })).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) =
        call(&platform, "DeleteUser", Some(token), json!({ "id": alice, "currentPassword": "battery staple" })).await;
    assert_eq!(status, 200);
    assert_eq!(refresh(&tokens).await, 400, "a deleted account cannot refresh its way back in");
    let (status, _) = call(&platform, "GetUser", Some(token), json!({ "id": alice })).await;
    assert_eq!(status, 401);

    platform.stop().await;
}

/// Waits until the wall clock enters the next whole second (token times are whole seconds).
async fn next_second() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    tokio::time::sleep(std::time::Duration::from_nanos(1_000_000_000 - u64::from(now.subsec_nanos()))).await;
}

#[tokio::test]
async fn an_admin_who_loses_the_role_loses_it_in_the_tokens_already_issued() {
    let platform = TestPlatform::start().await;
    for email in ["root@example.com", "bob@example.com"] {
        sign_up(&platform, email).await;
    }
    sqlx::query("UPDATE user_service.users SET roles = ARRAY['customer', 'admin']")
        .execute(&platform.database.pool)
        .await
        .unwrap();
    let root =
        sign_in(&platform, "root@example.com", "correct horse").await["access_token"].as_str().unwrap().to_owned();
    let bob_tokens = sign_in(&platform, "bob@example.com", "correct horse").await;
    let bob_token = bob_tokens["access_token"].as_str().unwrap();
    let (status, body) = call(&platform, "ListUsers", Some(bob_token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let bob = body["users"].as_array().unwrap().iter().find(|u| u["email"] == "bob@example.com").unwrap()["id"].clone();

    let demote = json!({"id": bob, "role": "ROLE_ADMIN", "granted": false});
    let (status, body) = call(&platform, "SetUserRole", Some(&root), demote).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(&platform, "ListUsers", Some(bob_token), json!({})).await;
    assert_eq!(status, 401, "the token that still says admin is revoked");

    next_second().await;
    let bob_token =
        sign_in(&platform, "bob@example.com", "correct horse").await["access_token"].as_str().unwrap().to_owned();
    let (status, error) = call(&platform, "ListUsers", Some(&bob_token), json!({})).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("permission_denied")));
    let (status, _) = call(&platform, "ListUsers", Some(&root), json!({})).await;
    assert_eq!(status, 200, "the other admin is untouched");

    platform.stop().await;
}

#[tokio::test]
async fn admin_routes_fail_closed_while_the_shared_revocations_cannot_be_read() {
    // A Redis of the platform's own, so this test can take it away.
    let mut redis = ec_testing::PrivateRedis::start();
    drop(redis.connect(redis::aio::ConnectionManagerConfig::new()).await);
    let url = redis.url.clone();
    let platform = TestPlatform::start_with(|config| config.redis.url = Some(url)).await;
    let admin = platform.access_token("boss@example.com", true).await;
    let shopper = platform.access_token("shopper@example.com", false).await;
    assert_eq!(call(&platform, "ListUsers", Some(&admin), json!({})).await.0, 200);

    redis.stop();
    // A revocation recorded by another replica would go unseen now: the back office waits until it can tell.
    let (status, error) = call(&platform, "ListUsers", Some(&admin), json!({})).await;
    assert_eq!((status, error["code"].as_str()), (503, Some("unavailable")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("revocations"), "{error}");
    // Shopping goes on, with the limits and revocations this process keeps.
    let (status, cart) = platform.call("/order.v1.CartService/GetCart", Some(&shopper), &json!({})).await;
    assert_eq!(status, 200, "{cart}");
    let (status, products) = platform.call("/product.v1.ProductService/ListProducts", Some(&admin), &json!({})).await;
    assert_eq!(status, 200, "{products}");
    platform.stop().await;
}
