//! `ec check-health URL`: a container's health check, for images that have no shell and no curl.
//!
//! - A URL without a path (`http://127.0.0.1:50051`) is a gRPC server: it is asked `grpc.health.v1.Health/Check`
//!   in the Connect protocol (JSON), which every port of the platform answers, and is healthy when it says
//!   `SERVING`. A server that is draining says `NOT_SERVING`, so it is taken out of rotation before it stops.
//! - A URL with a path (`http://127.0.0.1:8090/ready`, `http://127.0.0.1:5173/config.json`) is plain HTTP, and
//!   is healthy when it answers a 2xx status.

use std::time::Duration;

use anyhow::{Context, bail};
use url::Url;

/// How long a check may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Checks `url`; an error says why it is not healthy.
pub async fn check(url: &Url) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    if url.path() == "/" {
        let answer = client
            .post(url.join("grpc.health.v1.Health/Check")?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .with_context(|| format!("{url} does not answer"))?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        match body.get("status").and_then(serde_json::Value::as_str) {
            Some("SERVING") if status.is_success() => Ok(()),
            Some(other) => bail!("{url} reports {other}"),
            None => bail!("{url} answered {status} without a health status: {body}"),
        }
    } else {
        let answer = client.get(url.clone()).send().await.with_context(|| format!("{url} does not answer"))?;
        if answer.status().is_success() { Ok(()) } else { bail!("{url} answered {}", answer.status()) }
    }
}
