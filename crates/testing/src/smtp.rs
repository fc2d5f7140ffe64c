//! A real SMTP server for tests: aiosmtpd (from PyPI, which `make test` installs into `target/test-tools`)
//! running `smtp/server.py`, which keeps every message it accepts as a file, and refuses the recipients a test
//! asks it to (see the script).

use std::{path::PathBuf, time::Duration};

use crate::{Process, child_port, eventually, python};

/// The SMTP server of one test, on a free port. Killed when dropped.
pub struct SmtpServer {
    server: Process,
    directory: PathBuf,
    /// `smtp://127.0.0.1:PORT`, as `SMTP_URL` takes it.
    pub url: String,
}

/// A message the server accepted, as a mail client shows it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Received {
    /// The envelope's recipients.
    pub to: Vec<String>,
    /// The headers, by lower-case name, decoded.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The plain-text part, decoded.
    pub text: Option<String>,
    /// The HTML part, decoded.
    pub html: Option<String>,
    /// The message as received.
    pub raw: String,
}

impl Received {
    /// Header `name` (any case), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The plain-text part (empty when there is none).
    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }

    /// The HTML part (empty when there is none).
    pub fn html(&self) -> &str {
        self.html.as_deref().unwrap_or_default()
    }
}

impl SmtpServer {
    /// Starts the server. A missing aiosmtpd is a loud failure, never a skip.
    pub async fn start() -> Self {
        let python = python::interpreter();
        let port = child_port();
        let directory = std::env::temp_dir().join(format!("ec-smtp-{}", uuid::Uuid::new_v4().simple()));
        let mut command = std::process::Command::new(python);
        command
            .arg(python::script("smtp/server.py"))
            .arg(port.to_string())
            .arg(&directory)
            .stdout(std::process::Stdio::null());
        let mut server = Process::spawn("the SMTP server", command);
        server.wait_for_port(port, Duration::from_secs(20)).await;
        Self { server, directory, url: format!("smtp://127.0.0.1:{port}") }
    }

    /// Every message received so far, in the order received.
    pub fn received(&self) -> Vec<Received> {
        python::kept(&self.directory)
    }

    /// Waits until at least `count` messages arrived; all of them.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        eventually(format!("{count} messages to arrive"), within, || {
            let received = self.received();
            async move { if received.len() >= count { Ok(received) } else { Err(format!("{} arrived", received.len())) } }
        })
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // The server first, so nothing is written into the directory as it goes.
        let _ = self.server.kill();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
