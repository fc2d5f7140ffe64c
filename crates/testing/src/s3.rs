//! A real S3 API server for tests: moto in server mode (from PyPI, which `make test` installs into
//! `target/test-tools`), holding its buckets in memory. It speaks S3's REST API with signed requests, so the
//! platform's `object_store` client talks to it as it would to Amazon S3 or MinIO.

use std::time::Duration;

use crate::{Process, child_port, python};

/// The S3 server of one test, on a free port, with one empty bucket. Killed when dropped.
pub struct S3Server {
    _server: Process,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub bucket: String,
}

impl S3Server {
    /// Starts the server and makes the bucket. A missing moto is a loud failure, never a skip.
    pub async fn start() -> Self {
        let port = child_port();
        let mut command = std::process::Command::new(python::interpreter());
        command
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut server = Process::spawn("the S3 server (moto)", command);
        server.wait_for_port(port, Duration::from_secs(30)).await;
        let endpoint = format!("http://127.0.0.1:{port}");
        let bucket = format!("ec-test-{}", uuid::Uuid::now_v7().simple());
        // moto takes an unsigned CreateBucket; the platform never makes buckets.
        let made = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await.expect("moto answers");
        assert!(made.status().is_success(), "CreateBucket: {}", made.status());
        Self { _server: server, endpoint, bucket }
    }

    /// The `MEDIA_STORE` URL of the bucket, under `prefix`, with the endpoint and made-up credentials in its
    /// query (as an operator would put them in `AWS_*` variables).
    pub fn media_store_url(&self, prefix: &str) -> String {
        format!(
            "s3://{}/{prefix}?endpoint={}&allow_http=true&region=us-east-1&access_key_id=test&secret_access_key=test",
            self.bucket, self.endpoint
        )
    }

    /// The keys in the bucket, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let listing = reqwest::get(format!("{}/{}?list-type=2", self.endpoint, self.bucket))
            .await
            .expect("moto answers")
            .text()
            .await
            .expect("a listing");
        let mut keys: Vec<String> = listing
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect();
        keys.sort();
        keys
    }
}
