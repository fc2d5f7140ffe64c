//! Process shutdown.
//!
//! One [`CancellationToken`] per process is the shutdown signal. The binary creates it, fires it on SIGINT or
//! SIGTERM ([`cancel_on_signal`]), and hands clones to every server and background task; each stops taking new
//! work when it fires and finishes what is in flight. Tests cancel the token themselves.

pub use tokio_util::sync::CancellationToken;

/// Cancels `token` when the process receives SIGINT (Ctrl-C) or SIGTERM (what Kubernetes and Docker send).
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let signal = wait_for_signal().await;
        tracing::info!(signal, "shutdown requested; draining in-flight requests");
        token.cancel();
    });
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        tracing::error!("cannot listen for SIGINT/SIGTERM; stop the process with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}

/// A background worker's loop: `round` every `interval`, and `housekeeping` after the first round and then
/// at most once an hour, until `shutdown` fires. A round or housekeeping in progress is dropped when it
/// fires, so both must be safe to stop anywhere (one transaction at a time is).
pub async fn every<R, H>(
    interval: std::time::Duration,
    shutdown: CancellationToken,
    mut round: impl FnMut() -> R,
    mut housekeeping: impl FnMut() -> H,
) where
    R: Future<Output = ()>,
    H: Future<Output = ()>,
{
    const HOUSEKEEPING: std::time::Duration = std::time::Duration::from_secs(3600);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_housekeeping = None::<tokio::time::Instant>;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = round() => {}
        }
        if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING) {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = housekeeping() => {}
            }
            last_housekeeping = Some(tokio::time::Instant::now());
        }
    }
}
