//! A webhook receiver for tests (`webhooks/receiver.py`): it keeps every request it is sent, answers as the path
//! asks (`/fail/N`, `/slow/N`: see the script), and verifies a kept request with the Standard Webhooks reference
//! library (PyPI `standardwebhooks`, which `make test` installs into `target/test-tools`).

use std::{io::Write as _, path::PathBuf, process::Stdio, time::Duration};

use crate::{Process, child_port, eventually, python};

/// The receiver's script, in this crate.
const RECEIVER: &str = "webhooks/receiver.py";

/// The receiver of one test, on a free port. Killed when dropped.
pub struct WebhookReceiver {
    _server: Process,
    directory: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// A request the receiver was sent.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct Request {
    pub path: String,
    /// By lower-case name.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
    /// What the receiver answered.
    pub status: u16,
}

impl Request {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }
}

impl WebhookReceiver {
    /// Starts the receiver. A missing Python or library is a loud failure, never a skip.
    pub async fn start() -> Self {
        let port = child_port();
        let directory = std::env::temp_dir().join(format!("ec-webhooks-{}", uuid::Uuid::new_v4().simple()));
        let mut command = std::process::Command::new(python::interpreter());
        command.arg(python::script(RECEIVER)).arg("serve").arg(port.to_string()).arg(&directory).stdout(Stdio::null());
        let mut server = Process::spawn("the webhook receiver", command);
        server.wait_for_port(port, Duration::from_secs(20)).await;
        Self { _server: server, directory, url: format!("http://127.0.0.1:{port}") }
    }

    /// Every request so far, in the order received.
    pub fn received(&self) -> Vec<Request> {
        python::kept(&self.directory)
    }

    /// Waits until at least `count` requests to `path` arrived; those requests.
    pub async fn wait_for(&self, path: &str, count: usize, within: Duration) -> Vec<Request> {
        eventually(format!("{count} requests to {path}"), within, || {
            let received: Vec<Request> = self.received().into_iter().filter(|r| r.path == path).collect();
            async move { if received.len() >= count { Ok(received) } else { Err(format!("{} arrived", received.len())) } }
        })
        .await
    }
}

/// Verifies `request` as a receiver holding `secret` would, with the `standardwebhooks` library: the body's
/// `type` when the signature and timestamp check out, else the library's reason.
pub fn verify(request: &Request, secret: &str) -> Result<String, String> {
    let mut child = std::process::Command::new(python::interpreter())
        .arg(python::script(RECEIVER))
        .arg("verify")
        .arg(secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().unwrap().write_all(serde_json::to_string(request).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    if output.status.success() { Ok(text(&output.stdout)) } else { Err(text(&output.stderr)) }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
