//! [`Process`]: a program a test runs as a child process (the `ec` binary, `redis-server`), waited for until it
//! is ready, signalled as an operator or a crash would, and always reaped: dropping it (a test that failed
//! half-way included) stops the process, so none outlives its test.

use std::{
    fmt::Display,
    future::Future,
    io::BufRead,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::eventually::{Observation, eventually};

/// A signal a test sends to a [`Process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, as Ctrl-C sends it.
    Int,
    /// SIGTERM, as an orchestrator (`docker stop`, Kubernetes) stops a container.
    Term,
    /// SIGKILL: no destructors, no draining, connections cut.
    Kill,
    /// SIGSTOP: frozen, its connections open and unanswered, like a hung server.
    Stop,
    /// SIGCONT: thawed after [`Signal::Stop`].
    Cont,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Int => "INT",
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
        }
    }
}

/// How long a dropped process that is stopped with a signal of its own ([`Process::stop_on_drop`]) may take
/// before it is killed.
const DROP_GRACE: Duration = Duration::from_secs(30);

/// A running child process with a name for every message about it.
///
/// Its standard error goes where the command sends it (the test's, by default), so a process that fails to
/// start explains itself in the test's output. Dropped while running, it is sent its drop signal (SIGKILL
/// unless [`stop_on_drop`](Self::stop_on_drop) says otherwise) and waited for.
pub struct Process {
    name: String,
    child: Child,
    /// Set once the process has been waited for: its pid may then belong to another process.
    exited: Option<ExitStatus>,
    /// Standard output, line by line, when captured.
    lines: Option<Arc<Mutex<Vec<String>>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    on_drop: Signal,
}

impl Process {
    /// Starts `command`, its output going where `command` sends it.
    pub fn spawn(name: impl Into<String>, mut command: Command) -> Self {
        let name = name.into();
        let child = command.spawn().unwrap_or_else(|e| panic!("{name}: cannot start {:?}: {e}", command.get_program()));
        Self { name, child, exited: None, lines: None, reader: None, on_drop: Signal::Kill }
    }

    /// Starts `command` with its standard output captured: every line is kept for [`lines`](Self::lines) (a log
    /// a test reads to see what the process did) and copied to the test's standard error, prefixed with the
    /// process's name.
    pub fn spawn_capturing(name: impl Into<String>, mut command: Command) -> Self {
        let mut process = Self::spawn(name, {
            command.stdout(Stdio::piped());
            command
        });
        let stdout = process.child.stdout.take().expect("standard output is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (kept, name) = (lines.clone(), process.name.clone());
        let reader = std::thread::spawn(move || {
            let mut stdout = std::io::BufReader::new(stdout);
            let mut line = Vec::new();
            // Read to the end whatever the bytes are, so the process never blocks on a full pipe.
            while stdout.read_until(b'\n', &mut line).is_ok_and(|read| read > 0) {
                let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_owned();
                eprintln!("[{name}] {text}");
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(text);
                line.clear();
            }
        });
        process.lines = Some(lines);
        process.reader = Some(reader);
        process
    }

    /// What dropping the process sends first, before waiting up to 30 s for it and then killing it: for a
    /// process that must clean up after itself, like `ec dev` stopping its embedded PostgreSQL on SIGINT
    /// (SIGKILL would leave that running). SIGKILL at once unless set.
    pub fn stop_on_drop(mut self, signal: Signal) -> Self {
        self.on_drop = signal;
        self
    }

    /// Its process id, e.g. to read `/proc/{id}`.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The lines of standard output captured so far (all of them once it has exited and been waited for).
    /// Panics unless it was started with [`spawn_capturing`](Self::spawn_capturing).
    pub fn lines(&self) -> Vec<String> {
        let lines = self.lines.as_ref().unwrap_or_else(|| panic!("{}'s output is not captured", self.name));
        lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits, as [`eventually`] does, until `probe` sees the process ready (its health check passes, it
    /// answers a call, ...), and answers what the probe saw. Panics at once if the process exits first (its
    /// standard error, above in the test's output, says why), or once `within` has passed.
    pub async fn wait_ready<P, F, O>(&mut self, what: impl Display, within: Duration, mut probe: P) -> O::Value
    where
        P: FnMut() -> F,
        F: Future<Output = O>,
        O: Observation,
    {
        let (name, child) = (&self.name, &mut self.child);
        let what = what.to_string();
        eventually(format!("{name}: {what}"), within, || {
            let exited = child.try_wait().unwrap_or_else(|e| panic!("{name}: cannot check whether it runs: {e}"));
            let look = probe();
            let what = &what;
            async move {
                if let Some(status) = exited {
                    panic!("{name} exited ({status}) while waiting for {what}; its error is above");
                }
                look.await
            }
        })
        .await
    }

    /// [`wait_ready`](Self::wait_ready) until a connection to `port` on 127.0.0.1 is accepted.
    pub async fn wait_for_port(&mut self, port: u16, within: Duration) {
        let what = format!("port {port} to accept connections");
        self.wait_ready(what, within, || tokio::net::TcpStream::connect(("127.0.0.1", port))).await;
    }

    /// Sends `signal`, without waiting for anything. Panics if the process has already been waited for.
    pub fn signal(&self, signal: Signal) {
        if let Some(status) = self.exited {
            panic!("{} has already exited ({status}): SIG{} not sent", self.name, signal.name());
        }
        let sent = send(self.child.id(), signal);
        assert!(sent, "{}: kill -{} {} failed", self.name, signal.name(), self.child.id());
    }

    /// Waits for the process to exit and answers its status; panics if it is still running after `within`
    /// (and is then killed when dropped).
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let (name, child) = (&self.name, &mut self.child);
        let status = eventually(format!("{name} to exit"), within, || {
            let exited = child.try_wait().unwrap_or_else(|e| panic!("{name}: cannot wait for it: {e}"));
            async move { exited }
        })
        .await;
        self.exited = Some(status);
        // The last lines it wrote may still be in the pipe; a grandchild holding the pipe open is not waited for.
        if let Some(reader) = &self.reader {
            let wait = Instant::now() + Duration::from_secs(5);
            while !reader.is_finished() && Instant::now() < wait {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        status
    }

    /// Sends `signal` and waits up to `within` for the process to exit, checking that it exited cleanly
    /// (status 0): how a server is expected to answer SIGTERM or SIGINT once it has drained.
    pub async fn stop(&mut self, signal: Signal, within: Duration) {
        self.signal(signal);
        let status = self.wait_exit(within).await;
        assert!(status.success(), "{} did not exit cleanly on SIG{}: {status}", self.name, signal.name());
    }

    /// SIGKILL, and waits for it to be gone; answers how it ended.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        self.child.kill().unwrap_or_else(|e| panic!("{}: cannot kill it: {e}", self.name));
        let status = self.child.wait().unwrap_or_else(|e| panic!("{}: cannot wait for it: {e}", self.name));
        self.exited = Some(status);
        status
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Waited for already (std's `Child` remembers, and never signals a pid it has reaped), or exited by
        // itself meanwhile.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if self.on_drop != Signal::Kill && send(self.child.id(), self.on_drop) {
            let deadline = Instant::now() + DROP_GRACE;
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kill -SIGNAL pid` (the crate forbids the `unsafe` a direct `kill(2)` would need); whether it was sent.
fn send(pid: u32, signal: Signal) -> bool {
    Command::new("kill")
        .args([format!("-{}", signal.name()), pid.to_string()])
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    /// Whether `pid` is a live process (a zombie counts as gone).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
    }

    #[tokio::test]
    async fn a_captured_process_is_stopped_with_a_signal_and_its_output_read_to_the_end() {
        let mut process = Process::spawn_capturing(
            "trap",
            shell("trap 'echo stopping; exit 0' TERM; echo ready; while :; do sleep 0.05; done"),
        );
        eventually("the script to say it is ready", Duration::from_secs(10), || {
            let lines = process.lines();
            async move { lines.contains(&"ready".to_owned()) }
        })
        .await;
        process.stop(Signal::Term, Duration::from_secs(10)).await;
        assert_eq!(process.lines(), ["ready", "stopping"]);
    }

    #[tokio::test]
    #[should_panic(expected = "exited (exit status: 3) while waiting for port 1 to accept connections")]
    async fn waiting_for_a_process_that_exits_fails_at_once_with_its_status() {
        let mut process = Process::spawn("failing", shell("exit 3"));
        process.wait_for_port(1, Duration::from_secs(60)).await;
    }

    #[tokio::test]
    #[should_panic(expected = "did not exit cleanly on SIGTERM: signal: 15")]
    async fn a_process_killed_by_the_signal_has_not_stopped_cleanly() {
        let mut process = Process::spawn("sleeper", shell("exec sleep 60"));
        process.stop(Signal::Term, Duration::from_secs(10)).await;
    }

    #[test]
    fn a_dropped_process_is_gone_whatever_it_was_doing() {
        let killed = Process::spawn("sleeper", shell("exec sleep 60"));
        let pid = killed.id();
        killed.signal(Signal::Stop);
        drop(killed);
        assert!(!alive(pid), "a frozen process is killed");

        // One stopped with a signal of its own goes as soon as it obeys, not when the grace runs out.
        let interrupted = Process::spawn("obliging", shell("exec sleep 60")).stop_on_drop(Signal::Int);
        let pid = interrupted.id();
        let dropped = Instant::now();
        drop(interrupted);
        assert!(!alive(pid));
        assert!(dropped.elapsed() < DROP_GRACE, "it went on SIGINT, not on the SIGKILL after {DROP_GRACE:?}");
    }
}
