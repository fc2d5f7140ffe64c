//! The same RPCs with clients we did not write: the official Node Connect client (Connect, gRPC-Web and gRPC)
//! and `buf curl` (all three protocols). Both come from the npm packages pinned in package.json; `make test`
//! installs them and generates the Node client code before the tests run.

use std::{path::PathBuf, process::Command};

use ec_e2e::{TestPlatform, browser::sign_in};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn tool(path: &str) -> PathBuf {
    let tool = repo().join(path);
    assert!(
        tool.exists(),
        "{} is missing: run `npm ci && node_modules/.bin/buf generate --template clients/node/buf.gen.yaml` \
         (make test does)",
        tool.display()
    );
    tool
}

/// Two accounts and a token for the first.
async fn accounts(platform: &TestPlatform) -> (String, String, String) {
    let alice = platform.sign_up("alice@example.com", "correct horse").await;
    let bob = platform.sign_up("bob@example.com", "correct horse").await;
    let tokens = sign_in(platform, "alice@example.com", "correct horse").await;
    (alice, bob, tokens["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_node_connect_client_works_in_connect_grpc_web_and_grpc() {
    tool("target/node-gen/user/v1/user_service_pb.js");
    let platform = TestPlatform::start().await;
    let (alice, bob, token) = accounts(&platform).await;

    let output = tokio::process::Command::new("node")
        .arg(tool("clients/node/check-users.mjs"))
        .env("BASE_URL", platform.bff_url())
        .env("TOKEN", &token)
        .env("USER_ID", &alice)
        .env("OTHER_ID", &bob)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for protocol in ["connect-json", "connect-proto", "connect-h2", "grpc-web", "grpc"] {
        assert!(stdout.contains(&format!("ok {protocol}\n")), "{stdout}");
    }

    platform.stop().await;
}

#[tokio::test]
async fn buf_curl_works_in_all_three_protocols_using_the_bffs_reflection() {
    let buf = tool("node_modules/.bin/buf");
    let platform = TestPlatform::start().await;
    let (alice, bob, token) = accounts(&platform).await;
    let get_user = format!("{}/user.v1.UserService/GetUser", platform.bff_url());

    for protocol in ["connect", "grpc", "grpcweb"] {
        let curl = |id: &str, token: Option<&str>| {
            let mut command = Command::new(&buf);
            command.args([
                "curl",
                "--protocol",
                protocol,
                "--http2-prior-knowledge",
                "--data",
                &json!({"id": id}).to_string(),
            ]);
            if let Some(token) = token {
                command.args(["--header", &format!("Authorization: Bearer {token}")]);
            }
            command.arg(&get_user);
            command
        };
        let own = tokio::task::spawn_blocking({
            let mut command = curl(&alice, Some(&token));
            move || command.output().unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&own.stdout);
        assert!(own.status.success(), "{protocol}: {stdout}{}", String::from_utf8_lossy(&own.stderr));
        let body: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(body["user"]["email"], "alice@example.com", "{protocol}");

        for (id, token, code) in [(&bob, Some(token.as_str()), "permission_denied"), (&alice, None, "unauthenticated")]
        {
            let refused = tokio::task::spawn_blocking({
                let mut command = curl(id, token);
                move || command.output().unwrap()
            })
            .await
            .unwrap();
            assert!(!refused.status.success(), "{protocol}");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(stderr.contains(code), "{protocol}: {stderr}");
        }
    }

    platform.stop().await;
}
