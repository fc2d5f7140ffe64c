//! The user service's events (`user.v1.UserEvent`) leave with the change they describe and only then: through
//! a real NATS JetStream that is stopped and started again meanwhile, and in process to the subscribers of
//! `ec dev`.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use connectrpc::{
    ErrorCode, Protocol,
    client::{ClientConfig, HttpClient},
};
use ec_platform::{
    config::DatabaseArgs,
    events::{Delivered, EventArgs, Events, HandlerError, Prefix, Subscription},
    identity::{IdentityVerifier, InternalAuthArgs},
    shared::Redis,
    shutdown::CancellationToken,
    startup::Dependencies,
};
use ec_proto::user::v1::{__buffa::oneof::user_event, CreateUserRequest, UserEvent, UserServiceClient};
use ec_testing::{
    TestDatabase, eventually,
    nats::{PrivateNats, Tap, nats_prefix},
};
use ec_user::{
    config::{LoginConfig, UserConfig},
    startup::Application,
};

/// The user service on a free port over its own database, its events going to `events`.
struct Service {
    users: UserServiceClient<HttpClient>,
    database: TestDatabase,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start(events: Events, settings: EventArgs) -> Self {
        let database = TestDatabase::create().await;
        let identity =
            IdentityVerifier::new(&InternalAuthArgs { token: Some(IdentityVerifier::generate_token()) }).unwrap();
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = UserConfig::local(any, LoginConfig::local(any, None));
        let deps = Dependencies { events, event_settings: settings, ..Dependencies::new(Redis::local(""), identity) };
        let connection = DatabaseArgs { url: database.url(), max_connections: 5 };
        let server = Application::build(&config, &connection, &deps).await.unwrap();
        let url = format!("http://{}", server.rpc_addr()).parse().unwrap();
        let users = UserServiceClient::new(
            HttpClient::plaintext_http2_only(),
            ClientConfig::new(url).with_protocol(Protocol::Grpc),
        );
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move { server.serve(stop, Duration::from_secs(5)).await.unwrap() });
        Self { users, database, shutdown, server }
    }

    async fn sign_up(&self, email: &str) -> Result<String, connectrpc::ConnectError> {
        let request = CreateUserRequest { email: email.into(), password: "correct horse".into(), ..Default::default() };
        Ok(self.users.create_user(request).await?.into_owned().user.into_option().unwrap().id)
    }

    async fn backlog(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM user_service.outbox").fetch_one(&self.database.pool).await.unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap();
        self.database.drop_now().await;
    }
}

fn settings(url: Option<&str>, prefix: &str) -> EventArgs {
    EventArgs {
        nats_url: url.map(str::to_owned),
        prefix: Prefix::parse(prefix).unwrap(),
        relay_interval_ms: 100,
        ..EventArgs::default()
    }
}

/// The account registered in an event's payload: (user id, email).
fn registered(payload: &[u8]) -> (String, String) {
    let event: UserEvent = serde_json::from_slice(payload).unwrap();
    let Some(user_event::Event::AccountRegistered(account)) = event.event else { panic!("{event:?}") };
    (account.user_id, account.email)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stopped_and_started_again_loses_nothing_and_a_failed_sign_up_announces_nothing() {
    let mut nats = PrivateNats::start().await;
    let prefix = nats_prefix();
    let args = settings(Some(&nats.url), &prefix);
    let service = Service::start(Events::connect(&args).await.unwrap(), args).await;
    let tap = Tap::new(&nats.url, &prefix, "user", "crm").await;

    let first = service.sign_up("first@example.com").await.unwrap();
    let taken = tap.take_until(Duration::from_secs(20), |taken| !taken.is_empty()).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].subject, format!("{prefix}.user.v1.registered"));
    assert_eq!(registered(&taken[0].payload), (first, "first@example.com".to_owned()));

    // The same email again: the sign-up is refused, its transaction rolled back, and nothing is announced.
    let refused = service.sign_up("FIRST@example.com").await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::AlreadyExists);

    // NATS goes away: sign-ups go on, and their events wait in the outbox.
    nats.stop();
    let mut waiting = Vec::new();
    for n in 0..3 {
        waiting.push(service.sign_up(&format!("while-down-{n}@example.com")).await.unwrap());
    }
    eventually("the outbox to hold the three events", Duration::from_secs(10), || async {
        let backlog = service.backlog().await;
        if backlog == 3 { Ok(()) } else { Err(format!("{backlog} in the outbox")) }
    })
    .await;

    // Back, with what it had stored: the outbox drains, and each event arrives once.
    nats.resume().await;
    eventually("the outbox to drain", Duration::from_secs(60), || async {
        let backlog = service.backlog().await;
        if backlog == 0 { Ok(()) } else { Err(format!("{backlog} in the outbox")) }
    })
    .await;
    let tap = Tap::new(&nats.url, &prefix, "user", "crm").await;
    let mut taken = tap.take_until(Duration::from_secs(20), |taken| taken.len() >= 3).await;
    taken.extend(tap.take(Duration::from_secs(1)).await);
    let arrived: Vec<String> = taken.iter().map(|tapped| registered(&tapped.payload).0).collect();
    assert_eq!(arrived, waiting, "each event once, in the order written");
    assert_eq!(tap.stored().await, 4, "the refused sign-up left no message");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_subscriber_is_handed_each_event_again_until_it_succeeds() {
    // The same subscriber, on NATS JetStream and in process (as `ec dev` runs without NATS).
    let nats = PrivateNats::start().await;
    for url in [Some(nats.url.as_str()), None] {
        let prefix = nats_prefix();
        let args = settings(url, &prefix);
        let events = Events::connect(&args).await.unwrap();
        let handed: Arc<Mutex<Vec<Delivered>>> = Arc::default();
        let log = handed.clone();
        let handler = Arc::new(move |delivered: Delivered| {
            let log = log.clone();
            Box::pin(async move {
                let attempt = delivered.attempt;
                log.lock().unwrap().push(delivered);
                // The first attempt fails, as a mail server that is down would.
                if attempt == 1 { Err(HandlerError("not now".into())) } else { Ok(()) }
            }) as futures::future::BoxFuture<'static, Result<(), HandlerError>>
        });
        let subscription = Subscription { name: "mailer", subjects: vec!["user.v1.*".into()] };
        let stop = CancellationToken::new();
        let consumer = events.subscribe(subscription, handler, stop.clone());
        let service = Service::start(events, args).await;

        let id = service.sign_up("someone@example.com").await.unwrap();
        let what = format!("the event to be handed over twice ({url:?})");
        eventually(what, Duration::from_secs(30), || {
            let handed = handed.lock().unwrap().clone();
            async move {
                let attempts: Vec<u64> = handed.iter().map(|d| d.attempt).collect();
                if attempts == [1, 2] { Ok(()) } else { Err(format!("attempts {attempts:?}")) }
            }
        })
        .await;
        let handed = handed.lock().unwrap().clone();
        assert_eq!(handed[0].id, handed[1].id, "the same event both times");
        assert_eq!(handed[0].subject, "user.v1.registered");
        assert_eq!(registered(&handed[1].payload).0, id);
        eventually("the outbox to drain", Duration::from_secs(10), || async {
            let backlog = service.backlog().await;
            if backlog == 0 { Ok(()) } else { Err(format!("{backlog} in the outbox")) }
        })
        .await;
        stop.cancel();
        consumer.await.unwrap();
        service.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_service_hands_over_the_events_committed_while_it_drained() {
    let nats = PrivateNats::start().await;
    let prefix = nats_prefix();
    // The relay looks only once an hour: only a nudge, or the final run when the service stops, takes an event.
    let args = EventArgs { relay_interval_ms: 3_600_000, ..settings(Some(&nats.url), &prefix) };
    let service = Service::start(Events::connect(&args).await.unwrap(), args).await;
    let tap = Tap::new(&nats.url, &prefix, "user", "crm").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Committed without a nudge, as by a transaction that ends while the servers drain.
    let event = ec_user::events::email_verified(uuid::Uuid::now_v7(), "late@example.com");
    let mut connection = service.database.pool.acquire().await.unwrap();
    ec_user::events::outbox().insert(&mut connection, &event).await.unwrap();
    drop(connection);
    assert!(tap.take(Duration::from_secs(1)).await.is_empty(), "relayed before the service stopped");

    service.stop().await;
    let taken = tap.take_until(Duration::from_secs(10), |taken| !taken.is_empty()).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, event.id.to_string());
    assert_eq!(taken[0].subject, format!("{prefix}.user.v1.email_verified"));
}
