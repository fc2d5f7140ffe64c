//! Signing up and reading an account through the BFF, over every protocol, including every way to get it wrong.

use connectrpc::ErrorCode;
use ec_e2e::{
    TestPlatform, answer,
    clients::{self, Wire},
};
use ec_proto::user::v1::{CreateUserRequest, GetUserRequest, Role};
use serde_json::{Value, json};

const CREATE_USER: &str = "/user.v1.UserService/CreateUser";
const GET_USER: &str = "/user.v1.UserService/GetUser";

fn new_user(email: &str) -> CreateUserRequest {
    CreateUserRequest { email: email.into(), password: "correct horse".into(), ..Default::default() }
}

/// Posts a Connect JSON request the way `curl -H 'Content-Type: application/json' -d ...` does.
async fn post_json(platform: &TestPlatform, path: &str, body: &str) -> (u16, Value) {
    post(platform, path, "application/json", body.as_bytes().to_vec()).await
}

async fn post(platform: &TestPlatform, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let request = reqwest::Client::new().post(format!("{}{path}", platform.bff_url()));
    answer(request.header("content-type", content_type).body(body)).await
}

/// How many account rows exist, deleted or not: what a refused request must not have changed.
async fn stored_users(platform: &TestPlatform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM user_service.users").fetch_one(&platform.database.pool).await.unwrap()
}

#[tokio::test]
async fn create_user_over_connect_json_returns_the_user_and_never_the_password() {
    let platform = TestPlatform::start().await;

    let (status, body) =
        post_json(&platform, CREATE_USER, r#"{"email":"a@example.com","password":"correct horse","name":"Ada"}"#).await;

    assert_eq!(status, 200, "{body}");
    let user = &body["user"];
    assert_eq!(user["email"], "a@example.com");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["roles"], json!(["ROLE_CUSTOMER"]));
    assert!(uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok());
    assert!(user["createdAt"].as_str().unwrap().ends_with('Z'));
    let text = body.to_string();
    assert!(!text.contains("correct horse") && !text.contains("argon2"), "no secret leaks: {text}");

    let stored: String = sqlx::query_scalar("SELECT password_hash FROM user_service.users")
        .fetch_one(&platform.database.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "stored as an Argon2id hash");

    platform.stop().await;
}

#[tokio::test]
async fn sign_up_works_over_connect_json_connect_binary_grpc_web_and_grpc() {
    let platform = TestPlatform::start().await;

    for wire in Wire::ALL {
        let client = clients::users(&platform.bff_url(), wire);
        let email = format!("{wire:?}@example.com").to_lowercase();

        let created = client
            .create_user(new_user(&email))
            .await
            .unwrap_or_else(|e| panic!("{wire:?}: CreateUser failed: {e:?}"))
            .into_owned();
        let user = created.user.as_option().expect("a user");
        assert_eq!(user.email, email, "{wire:?}");
        assert_eq!(user.roles, vec![buffa::EnumValue::from(Role::ROLE_CUSTOMER)], "{wire:?}");

        // Reading it back needs a signed-in caller, in every protocol.
        let err = client.get_user(GetUserRequest { id: user.id.clone(), ..Default::default() }).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Unauthenticated, "{wire:?}");
    }

    platform.stop().await;
}

#[tokio::test]
async fn the_same_email_twice_is_already_exists_whatever_its_case_or_spacing() {
    let platform = TestPlatform::start().await;
    let body = |email: &str| json!({"email": email, "password": "correct horse"}).to_string();

    let (status, _) = post_json(&platform, CREATE_USER, &body("a@example.com")).await;
    assert_eq!(status, 200);

    for duplicate in ["a@example.com", "A@Example.COM", "  a@example.com  "] {
        let (status, error) = post_json(&platform, CREATE_USER, &body(duplicate)).await;
        assert_eq!(status, 409, "{duplicate:?}: {error}");
        assert_eq!(error["code"], "already_exists", "{duplicate:?}");
    }
    for wire in Wire::ALL {
        let err = clients::users(&platform.bff_url(), wire).create_user(new_user("A@EXAMPLE.com")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::AlreadyExists, "{wire:?}");
    }

    platform.stop().await;
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_email_create_exactly_one_account() {
    let platform = TestPlatform::start().await;
    let client = clients::users(&platform.bff_url(), Wire::Grpc);

    let attempts = (0..8).map(|i| {
        let client = &client;
        async move {
            let email = if i % 2 == 0 { "race@example.com" } else { "RACE@example.com" };
            client.create_user(new_user(email)).await
        }
    });
    let results = futures::future::join_all(attempts).await;

    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 1, "exactly one sign-up wins");
    for result in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(result.code, ErrorCode::AlreadyExists);
    }
    let rows = stored_users(&platform).await;
    assert_eq!(rows, 1);

    platform.stop().await;
}

#[tokio::test]
async fn bad_emails_passwords_and_names_are_invalid_argument_and_store_nothing() {
    let platform = TestPlatform::start().await;
    let huge = "x".repeat(10_000);
    let cases = [
        json!({"email": "not-an-email", "password": "correct horse"}),
        json!({"email": "", "password": "correct horse"}),
        json!({"password": "correct horse"}),
        json!({"email": format!("{huge}@example.com"), "password": "correct horse"}),
        json!({"email": "a@example.com", "password": "short"}),
        json!({"email": "a@example.com", "password": "パスワード七文字"[..21].to_string()}),
        json!({"email": "a@example.com"}),
        json!({"email": "a@example.com", "password": huge}),
        json!({"email": "a@example.com", "password": "correct horse", "name": huge}),
        json!({"email": "a@example.com", "password": "correct horse", "name": "   "}),
    ];
    for case in cases {
        let (status, error) = post_json(&platform, CREATE_USER, &case.to_string()).await;
        assert_eq!(status, 400, "{case}: {error}");
        assert_eq!(error["code"], "invalid_argument", "{case}");
        assert!(!error["message"].as_str().unwrap_or_default().contains("xxxxxxxx"), "input is not echoed");
    }
    let err = clients::users(&platform.bff_url(), Wire::Grpc)
        .create_user(CreateUserRequest {
            email: "a@example.com".into(),
            password: "1234567".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert_eq!(err.message.as_deref(), Some("password must be at least 8 characters"));

    let rows = stored_users(&platform).await;
    assert_eq!(rows, 0, "nothing was stored");

    platform.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_a_client_error_never_a_hang_or_a_500() {
    let platform = TestPlatform::start().await;

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("application/json", b"{\"email\":".to_vec(), 400),
        ("application/json", b"not json at all".to_vec(), 400),
        ("application/json", br#"{"email": 12, "password": true}"#.to_vec(), 400),
        ("application/json", br#"{"email": ["a@example.com"]}"#.to_vec(), 400),
        ("application/proto", vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 400),
        ("application/proto", vec![0x0a, 0x50, b'a'], 400),
        ("text/plain", b"hello".to_vec(), 415),
        ("application/xml", b"<user/>".to_vec(), 415),
    ];
    for (content_type, body, expected) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let call = post(&platform, CREATE_USER, content_type, body);
        let (status, error) = tokio::time::timeout(std::time::Duration::from_secs(10), call)
            .await
            .unwrap_or_else(|_| panic!("{content_type} {shown:?} hung"));
        assert_eq!(status, expected, "{content_type} {shown:?}: {error}");
    }

    // A body far larger than any real request is refused as soon as it passes the limit, not buffered without
    // bound. Over HTTP/2 the client reads that early answer cleanly (over HTTP/1.1 the server closes the
    // connection while the client is still sending, which clients report as a broken pipe).
    let huge = json!({"email": "a@example.com", "password": "x".repeat(8 * 1024 * 1024)}).to_string();
    let response = platform.post_h2(CREATE_USER).body(huge).send().await.expect("an answer");
    let status = response.status().as_u16();
    let error: Value = response.json().await.unwrap();
    assert_eq!((status, error["code"].as_str()), (429, Some("resource_exhausted")), "{error}");

    let rows = stored_users(&platform).await;
    assert_eq!(rows, 0, "nothing was stored");

    platform.stop().await;
}

#[tokio::test]
async fn get_user_without_a_token_is_unauthenticated_whatever_the_id() {
    let platform = TestPlatform::start().await;
    let (_, created) =
        post_json(&platform, CREATE_USER, r#"{"email":"a@example.com","password":"correct horse"}"#).await;
    let id = created["user"]["id"].as_str().unwrap();

    for id in [id, "01a223a3-39f9-7297-8de7-6bc0d3bc4a01", "", "not-a-uuid"] {
        let (status, error) = post_json(&platform, GET_USER, &json!({ "id": id }).to_string()).await;
        assert_eq!((status, error["code"].as_str()), (401, Some("unauthenticated")), "{id:?}");
        assert_eq!(error["message"], "invalid or missing access token", "nothing about the id leaks: {id:?}");
    }

    platform.stop().await;
}

#[tokio::test]
async fn client_sent_identity_headers_are_not_believed() {
    let platform = TestPlatform::start().await;
    let (_, created) =
        post_json(&platform, CREATE_USER, r#"{"email":"a@example.com","password":"correct horse"}"#).await;
    let id = created["user"]["id"].as_str().unwrap();

    // A client claiming to be the account, with and without a guessed secret, through the BFF and directly.
    for base in [platform.bff_url(), platform.url_of(platform.addresses.user)] {
        for secret in [None, Some("guess".repeat(10))] {
            let mut request = reqwest::Client::new()
                .post(format!("{base}{GET_USER}"))
                .header("content-type", "application/json")
                .header("x-ec-caller-id", id)
                .header("x-ec-caller-roles", "customer,admin");
            if let Some(secret) = &secret {
                request = request.header("x-ec-internal-token", secret);
            }
            let response = request.body(json!({ "id": id }).to_string()).send().await.unwrap();
            assert_eq!(response.status(), 401, "{base} with secret {secret:?}");
        }
    }

    platform.stop().await;
}

#[tokio::test]
async fn get_user_is_also_served_as_a_connect_get_request() {
    let platform = TestPlatform::start().await;
    let (_, created) =
        post_json(&platform, CREATE_USER, r#"{"email":"get@example.com","password":"correct horse"}"#).await;
    let id = created["user"]["id"].as_str().unwrap();
    let message = format!(r#"{{"id":"{id}"}}"#);
    let get = |base: String, headers: http::HeaderMap| {
        let message = message.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{base}{GET_USER}"))
                .query(&[("encoding", "json"), ("message", message.as_str())])
                .headers(headers)
                .send()
                .await
                .unwrap()
        }
    };

    // Through the BFF, without a token: routed as a GET (not 405), and refused for want of a caller.
    let response = get(platform.bff_url(), http::HeaderMap::new()).await;
    assert_eq!(response.status(), 401);

    // At the service, as the BFF calls it for the signed-in account holder.
    let mut headers = http::HeaderMap::new();
    let caller = ec_platform::identity::Caller {
        user_id: id.parse().unwrap(),
        roles: vec![ec_platform::identity::Role::Customer],
    };
    platform.identity.stamp(Some(&caller), &mut headers);
    let response = get(platform.url_of(platform.addresses.user), headers).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "get@example.com");

    platform.stop().await;
}
