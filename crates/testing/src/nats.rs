//! NATS JetStream for tests: the server the tests share (each test under its own subject prefix), a server of
//! a test's own to stop and start again, and a [`Tap`], a durable consumer the test reads events from as
//! another system would.

use std::{path::PathBuf, time::Duration};

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt as _;

use crate::{Process, child_port};

/// The NATS server tests use: `NATS_URL`, or the local one.
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A subject and stream prefix of a test's own (`NATS_PREFIX`), so tests sharing a server see only their
/// own events.
pub fn nats_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}

/// A `nats-server` with JetStream of its own for one test, on a free port, storing in a directory of its own,
/// so the test can stop it and start it again with what it stored. Killed when dropped.
pub struct PrivateNats {
    server: Option<Process>,
    port: u16,
    store: PathBuf,
    pub url: String,
}

impl PrivateNats {
    /// Starts the server. A missing `nats-server` is a loud failure, never a skip.
    pub async fn start() -> Self {
        let port = child_port();
        let store = std::env::temp_dir().join(format!("ec-nats-{}", uuid::Uuid::new_v4().simple()));
        let mut nats = Self { server: None, port, store, url: format!("nats://127.0.0.1:{port}") };
        nats.resume().await;
        nats
    }

    /// Stops the server (SIGKILL: nothing is flushed on the way out but what JetStream already stored).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
    }

    /// Starts the server again, on the same port and store, once it answers.
    pub async fn resume(&mut self) {
        let mut command = std::process::Command::new("nats-server");
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(&self.store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // `make test` installs nats-server.
        let mut server = Process::spawn("nats-server", command);
        server.wait_for_port(self.port, Duration::from_secs(10)).await;
        self.server = Some(server);
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// An event as a [`Tap`] read it.
#[derive(Clone, Debug)]
pub struct Tapped {
    /// The full subject: `<prefix>.order.v1.confirmed`.
    pub subject: String,
    /// `Nats-Msg-Id`.
    pub id: String,
    pub payload: bytes::Bytes,
    /// How many times JetStream delivered it to this consumer.
    pub delivered: i64,
}

/// A durable pull consumer on a service's stream, as a system outside the platform would make one.
pub struct Tap {
    context: jetstream::Context,
    stream: String,
    name: String,
}

impl Tap {
    /// A durable consumer named `name` on the stream of `service` under `prefix` at `url`, taking everything
    /// from the stream's start. The stream is created as the platform would create it, if it is not there yet.
    pub async fn new(url: &str, prefix: &str, service: &str, name: &str) -> Self {
        let client = async_nats::connect(url).await.expect("NATS answers");
        let context = jetstream::new(client);
        let stream = format!("{prefix}_{service}").to_ascii_uppercase().replace('-', "_");
        let config = jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![format!("{prefix}.{service}.>")],
            duplicate_window: Duration::from_secs(15 * 60),
            ..Default::default()
        };
        // The platform may be making the stream at this very moment, with its own settings: then it is there.
        if let Err(e) = context.get_or_create_stream(config).await {
            context.get_stream(&stream).await.unwrap_or_else(|_| panic!("the stream can be made: {e}"));
        }
        let tap = Self { context, stream, name: name.to_owned() };
        tap.consumer().await;
        tap
    }

    async fn consumer(&self) -> jetstream::consumer::Consumer<pull::Config> {
        let stream = self.context.get_stream(&self.stream).await.expect("the stream exists");
        stream
            .get_or_create_consumer(
                &self.name,
                pull::Config {
                    durable_name: Some(self.name.clone()),
                    ack_wait: Duration::from_secs(5),
                    ..Default::default()
                },
            )
            .await
            .expect("the consumer can be made")
    }

    /// Everything delivered within `wait`, each acknowledged.
    pub async fn take(&self, wait: Duration) -> Vec<Tapped> {
        let consumer = self.consumer().await;
        let mut batch = consumer.fetch().max_messages(1000).expires(wait).messages().await.expect("a fetch starts");
        let mut taken = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.expect("a message arrives whole");
            let id = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.as_str().to_owned());
            let delivered = message.info().map(|info| info.delivered).unwrap_or(0);
            taken.push(Tapped {
                subject: message.subject.to_string(),
                id: id.unwrap_or_default(),
                payload: message.payload.clone(),
                delivered,
            });
            message.ack().await.expect("an ack is sent");
        }
        taken
    }

    /// Takes events until `enough` says the ones taken so far are enough, for at most `within`.
    pub async fn take_until(&self, within: Duration, enough: impl Fn(&[Tapped]) -> bool) -> Vec<Tapped> {
        let deadline = tokio::time::Instant::now() + within;
        let mut taken = Vec::new();
        while !enough(&taken) {
            assert!(tokio::time::Instant::now() < deadline, "only these arrived in {within:?}: {taken:#?}");
            taken.extend(self.take(Duration::from_millis(500)).await);
        }
        taken
    }

    /// How many messages the stream holds (copies JetStream dropped as duplicates are not among them).
    pub async fn stored(&self) -> u64 {
        let mut stream = self.context.get_stream(&self.stream).await.expect("the stream exists");
        stream.info().await.expect("the stream answers").state.messages
    }

    /// Deletes the stream, and with it every consumer on it.
    pub async fn delete_stream(self) {
        let _ = self.context.delete_stream(&self.stream).await;
    }
}
