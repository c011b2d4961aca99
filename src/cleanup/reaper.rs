//! The reaper: removes what a test process created once that process dies, however it
//! dies (normal exit, panic, SIGINT, SIGTERM, SIGKILL, OOM kill, its container killed).
//!
//! Two kinds, chosen per process on first use ([`Kind::choose`]):
//!
//! | where the test process runs | reaper | why |
//! |---|---|---|
//! | Linux host, local socket, host pid namespace | [`local`] watchdog | a process that dies only with the host, as the daemon does; cheapest |
//! | Docker Desktop (no `/proc`) | [`local`] watchdog | nothing better is provable; the host's processes outlive the tests |
//! | a container (CI job with the socket mounted) | [`daemon_side`] | the job's processes die with the job container |
//! | another pid namespace (`unshare --pid`, a namespace's pid 1) | [`daemon_side`] | killing the namespace's pid 1 kills every process in it |
//! | a daemon over TCP (DinD, remote, TLS) | [`daemon_side`] | the daemon's host outlives the client |
//!
//! `TESTDOCK_REAPER=local|daemon` forces one. The protocol is the same for both: the
//! owner holds the write end of a pipe (the local watchdog's stdin, or the stdin of an
//! exec watcher in the reaper container) and writes one line per instruction
//! (`image <reference>`, see [`Instructions`]); the pipe closing, which only the
//! owner's death or exit does, is the signal. Both then remove everything labelled
//! with the owner (`testdock.owner=<pid>-<start time>-<pid namespace>`): containers,
//! then networks and volumes, and, under `TESTDOCK_REMOVE_IMAGES`, the images the
//! owner made. Kept containers
//! (renamed `*-kept` by `TESTDOCK_KEEP_FAILED`) are never removed. Both talk to the
//! daemon the owner resolved, never to whatever `DOCKER_HOST` says later.

mod container;
pub(crate) mod daemon_side;
pub(crate) mod local;
mod reap;

use tokio::sync::OnceCell;

use crate::docker::{Daemon, Topology};

/// Environment variable forcing the reaper kind: `local` or `daemon`.
pub(crate) const KIND_ENV: &str = "TESTDOCK_REAPER";

/// Which reaper watches this process (see [`crate::prune::reaper`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A watchdog process on this host (a copy of the test executable).
    Local,
    /// A watcher inside the session's reaper container, on the daemon's side.
    DaemonSide,
}

impl Kind {
    /// The reaper for a process in `topology` that can see `facts`, unless
    /// `TESTDOCK_REAPER` (`forced`) names one.
    pub(crate) fn choose(
        forced: Option<&str>,
        topology: &Topology,
        facts: &crate::procfs::LocalFacts,
    ) -> Result<Kind, String> {
        match forced.map(str::trim) {
            Some("local") => return Ok(Kind::Local),
            Some("daemon") => return Ok(Kind::DaemonSide),
            None | Some("" | "auto") => {}
            Some(other) => {
                return Err(format!(
                    "{KIND_ENV}=`{other}`: expected `local`, `daemon` or `auto`"
                ))
            }
        }
        Ok(match topology {
            Topology::Host if facts.pid_namespace.is_none() => Kind::Local,
            Topology::Host if facts.in_initial_pid_namespace() => Kind::Local,
            Topology::Host | Topology::JobContainer { .. } | Topology::Remote => Kind::DaemonSide,
        })
    }
}

/// The channel to this process's reaper: closes when the process dies.
enum Channel {
    Local(local::Pipe),
    DaemonSide(daemon_side::Watcher),
    /// No reaper could be started: normal teardown only.
    None,
}

static CHANNEL: OnceCell<Channel> = OnceCell::const_new();

/// Starts this process's reaper unless it runs already. Call before creating anything.
/// The start runs in a `testdock.reaper` span (`kind`, `elapsed_ms`).
pub(crate) async fn ensure_started() {
    CHANNEL
        .get_or_init(|| async {
            let span = tracing::info_span!(
                "testdock.reaper",
                kind = tracing::field::Empty,
                elapsed_ms = tracing::field::Empty,
            );
            let started = std::time::Instant::now();
            let channel = tracing::Instrument::instrument(start(), span.clone()).await;
            let kind = match channel {
                Channel::Local(_) => "local",
                Channel::DaemonSide(_) => "daemon",
                Channel::None => "none",
            };
            let elapsed_ms = crate::trace::ms(started.elapsed());
            span.record("kind", kind);
            span.record("elapsed_ms", elapsed_ms);
            tracing::info!(parent: &span, kind, elapsed_ms, "reaper started");
            channel
        })
        .await;
}

/// The kind of reaper watching this process, once started.
pub(crate) fn kind() -> Option<Kind> {
    match CHANNEL.get()? {
        Channel::Local(_) => Some(Kind::Local),
        Channel::DaemonSide(_) => Some(Kind::DaemonSide),
        Channel::None => None,
    }
}

async fn start() -> Channel {
    let daemon = match crate::docker::daemon().await {
        Ok(daemon) => daemon,
        Err(_) => return Channel::None,
    };
    let forced = std::env::var(KIND_ENV).ok();
    let kind = match Kind::choose(
        forced.as_deref(),
        daemon.topology(),
        crate::procfs::LocalFacts::system(),
    ) {
        Ok(kind) => kind,
        Err(message) => {
            // Kept on stderr: a setting is being ignored, and only the user can fix it.
            tracing::warn!(%message, "choosing the reaper by itself");
            eprintln!("testdock: {message}; choosing the reaper by itself");
            Kind::choose(None, daemon.topology(), crate::procfs::LocalFacts::system())
                .unwrap_or(Kind::Local)
        }
    };
    if kind == Kind::DaemonSide {
        match daemon_side::attach(daemon).await {
            Ok(watcher) => return Channel::DaemonSide(watcher),
            Err(e) => {
                // Kept on stderr: a weaker fallback the user should know about.
                tracing::warn!(error = %e, "cannot start the daemon-side reaper: falling back to a local watchdog");
                eprintln!(
                    "testdock: cannot start the daemon-side reaper ({e}); falling back to a local \
                     watchdog, which dies with this process's container or pid namespace"
                )
            }
        }
    }
    start_local(daemon)
}

fn start_local(daemon: &Daemon) -> Channel {
    match local::spawn(&daemon.endpoint().endpoint) {
        Ok(pipe) => Channel::Local(pipe),
        Err(e) => {
            // Kept on stderr: without a reaper, a killed run leaves its containers.
            tracing::warn!(error = %e, "cannot start the reaper: normal teardown only");
            eprintln!(
                "testdock: cannot start the reaper ({e}); containers of this process are \
                 removed by normal teardown only, not if it is killed"
            );
            Channel::None
        }
    }
}

/// Tells the reaper to remove image `reference` once this process ends.
pub(crate) async fn remove_image_at_exit(reference: &str) {
    // Boxed: starting the reaper may import its image, which comes back here.
    Box::pin(ensure_started()).await;
    let line = format!("image {reference}");
    match CHANNEL.get() {
        Some(Channel::Local(pipe)) => pipe.send(&line),
        Some(Channel::DaemonSide(watcher)) => watcher.send(&line),
        _ => {}
    }
}

/// What the owner tells its reaper before it dies, one line each.
#[derive(Debug, Default)]
pub(crate) struct Instructions {
    /// Images to remove (`image <reference>`).
    pub(crate) images: Vec<String>,
}

impl Instructions {
    /// Reads lines until the owner's end closes (it died).
    pub(crate) fn read_until_closed(input: impl std::io::BufRead) -> Self {
        let mut out = Instructions::default();
        for line in input.lines() {
            match line {
                Ok(line) => {
                    if let Some(reference) = line.strip_prefix("image ") {
                        out.images.push(reference.trim().to_owned());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        out
    }
}

#[allow(unsafe_code)]
mod entry {
    // SAFETY (of running before main): the constructor only installs the image
    // remover (a `OnceLock` store) and reads environment variables; when none is set (every process but a reaper) it returns at once and
    // the program starts as usual. A reaper never returns from it: it exits.
    #[ctor::ctor(unsafe)]
    fn become_reaper_if_asked() {
        // A store into a `OnceLock`: safe before main too.
        crate::at_exit::install_image_remover(|reference| {
            Box::pin(async move { super::remove_image_at_exit(&reference).await })
        });
        if let Ok(owner) = std::env::var(super::local::OWNER_ENV) {
            super::local::run(&owner);
        }
        if let Ok(owner) = std::env::var(super::daemon_side::WATCH_ENV) {
            super::container::watch(&owner);
        }
        if std::env::var_os(super::daemon_side::SERVE_ENV).is_some() {
            super::container::serve();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::LocalFacts;
    use crate::procfs::INITIAL_PID_NAMESPACE;

    fn facts(namespace: Option<u64>) -> LocalFacts {
        LocalFacts {
            boot_id: None,
            pid_namespace: namespace,
            proc: None,
        }
    }

    #[test]
    fn the_host_keeps_the_local_watchdog() {
        let host = facts(Some(INITIAL_PID_NAMESPACE));
        assert_eq!(Kind::choose(None, &Topology::Host, &host), Ok(Kind::Local));
    }

    #[test]
    fn without_proc_the_local_watchdog_is_all_there_is() {
        assert_eq!(
            Kind::choose(None, &Topology::Host, &facts(None)),
            Ok(Kind::Local)
        );
    }

    #[test]
    fn another_pid_namespace_a_job_container_and_a_remote_daemon_reap_daemon_side() {
        let other = facts(Some(4026532999));
        assert_eq!(
            Kind::choose(None, &Topology::Host, &other),
            Ok(Kind::DaemonSide)
        );
        let host = facts(Some(INITIAL_PID_NAMESPACE));
        let job = Topology::JobContainer {
            id: "abc".into(),
            network: Some("bridge".into()),
        };
        assert_eq!(Kind::choose(None, &job, &host), Ok(Kind::DaemonSide));
        assert_eq!(
            Kind::choose(None, &Topology::Remote, &host),
            Ok(Kind::DaemonSide)
        );
    }

    #[test]
    fn the_environment_forces_a_kind_and_rejects_others() {
        let host = facts(Some(INITIAL_PID_NAMESPACE));
        assert_eq!(
            Kind::choose(Some("daemon"), &Topology::Host, &host),
            Ok(Kind::DaemonSide)
        );
        assert_eq!(
            Kind::choose(Some("local"), &Topology::Remote, &host),
            Ok(Kind::Local)
        );
        assert!(Kind::choose(Some("ryuk"), &Topology::Host, &host)
            .unwrap_err()
            .contains("expected `local`, `daemon` or `auto`"));
    }

    #[test]
    fn instructions_are_read_until_the_pipe_closes() {
        let input = "image testdock/host:1\nnoise\nimage testdock/build:2\n";
        let read = Instructions::read_until_closed(input.as_bytes());
        assert_eq!(read.images, ["testdock/host:1", "testdock/build:2"]);
    }
}
