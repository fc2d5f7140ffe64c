//! [`eventually`]: waiting for something a test cannot be told about, only look at (a server coming up, a
//! background worker finishing, a trace arriving at a collector), by looking again until it is there.

use std::{
    fmt::{Debug, Display},
    future::Future,
    time::Duration,
};

use tokio::time::Instant;

/// The longest pause between two looks. The first looks come quickly (most conditions hold within
/// milliseconds), then every 100 ms.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// What one look of [`eventually`] saw: the awaited value, or why it is not there yet.
pub trait Observation {
    /// What [`eventually`] answers once the condition holds.
    type Value;

    /// `Ok` with the value when the condition holds; `Err` describing what was seen instead.
    fn into_result(self) -> Result<Self::Value, String>;
}

/// `true` when the condition holds.
impl Observation for bool {
    type Value = ();

    fn into_result(self) -> Result<(), String> {
        if self { Ok(()) } else { Err("false".to_owned()) }
    }
}

/// `Some` once the condition holds.
impl<T> Observation for Option<T> {
    type Value = T;

    fn into_result(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_owned())
    }
}

/// `Ok` once the condition holds; the error (with its causes, `{:#}`) says what was seen instead.
impl<T, E: Display> Observation for Result<T, E> {
    type Value = T;

    fn into_result(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:#}"))
    }
}

/// Calls `probe` until what it observes holds ([`Observation`]: `true`, `Some`, `Ok`), and answers the value;
/// panics once `within` has passed, naming `what` was awaited and what the last look saw.
///
/// A look still running at the deadline is abandoned, so a probe that hangs (a paused server) cannot hold the
/// test past it. The deadline only decides when to stop waiting for something that should happen; how long
/// it took is never what a test checks.
///
/// ```no_run
/// # async fn example(pool: sqlx::PgPool) {
/// use std::time::Duration;
/// ec_testing::eventually("every saga to finish", Duration::from_secs(60), || async {
///     let unfinished: i64 = sqlx::query_scalar("SELECT count(*) FROM order_service.orders WHERE step <> 'done'")
///         .fetch_one(&pool)
///         .await
///         .unwrap();
///     if unfinished == 0 { Ok(()) } else { Err(format!("{unfinished} unfinished")) }
/// })
/// .await;
/// # }
/// ```
pub async fn eventually<P, F, O>(what: impl Display, within: Duration, mut probe: P) -> O::Value
where
    P: FnMut() -> F,
    F: Future<Output = O>,
    O: Observation,
{
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_millis(10);
    let last = loop {
        // A ready look counts even at the deadline: tokio's timeout polls the look before the clock.
        let seen = match tokio::time::timeout_at(deadline, probe()).await {
            Ok(seen) => seen.into_result(),
            Err(_) => break "the last look was still going on at the deadline".to_owned(),
        };
        let seen = match seen {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            break seen;
        }
        tokio::time::sleep(pause.min(deadline - Instant::now())).await;
        pause = (pause * 2).min(MAX_PAUSE);
    };
    panic!("gave up after {within:?} waiting for {what}; the last look saw: {last}");
}

/// [`Display`] of a value's [`Debug`] form, pretty-printed: for an [`Observation`] that is some value the test
/// looked at (`Err(Seen(&spans))`).
pub struct Seen<T>(pub T);

impl<T: Debug> Display for Seen<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn the_value_comes_back_once_the_probe_sees_it() {
        let looks = AtomicU32::new(0);
        let value = eventually("the third look", Duration::from_secs(5), || async {
            let n = looks.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 3 { Ok(n) } else { Err(format!("look {n}")) }
        })
        .await;
        assert_eq!(value, 3);
        eventually("a bool", Duration::from_secs(1), || async { true }).await;
        assert_eq!(eventually("an option", Duration::from_secs(1), || async { Some("x") }).await, "x");
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible; the last look saw: still 42")]
    async fn at_the_deadline_it_says_what_was_awaited_and_what_was_seen_last() {
        eventually("the impossible", Duration::from_millis(50), || async { Err::<(), _>("still 42") }).await;
    }

    #[tokio::test]
    #[should_panic(expected = "the last look was still going on at the deadline")]
    async fn a_look_that_hangs_does_not_outlast_the_deadline() {
        eventually("a hung server", Duration::from_millis(50), std::future::pending::<bool>).await;
    }

    #[tokio::test]
    #[should_panic(expected = "the last look saw: [\n    1,\n]")]
    async fn seen_shows_a_value_pretty_printed() {
        eventually("nothing", Duration::ZERO, || async { Err::<(), _>(Seen(vec![1])) }).await;
    }
}
