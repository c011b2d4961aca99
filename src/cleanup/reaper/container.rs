//! What runs inside the session's reaper container (see [`super::daemon_side`]): the
//! container's main process ([`serve`]) and one watcher per test process ([`watch`]).
//! Both are the test executable, turned into them by testdock's constructor.

use std::time::{Duration, Instant};

use super::daemon_side::{IDLE, SESSION_OWNER_ENV, SOCKET_IN_CONTAINER, WATCHING};
use super::{reap, Instructions};
use crate::labels;

/// The watcher's whole life: wait for the owner's connection to close, then remove
/// everything the owner labelled.
pub(crate) fn watch(owner: &str) -> ! {
    use std::io::Write;
    let mut out = std::io::stdout();
    if let Err(why) = check_daemon() {
        let _ = writeln!(out, "REFUSED {why}");
        std::process::exit(2);
    }
    let _ = writeln!(out, "{WATCHING}");
    let _ = out.flush();
    let instructions = Instructions::read_until_closed(std::io::stdin().lock());
    let code = reap::run_to_completion(owner, async {
        let daemon = crate::docker::daemon().await?;
        reap::reap(daemon.client(), owner, &instructions).await
    });
    std::process::exit(code)
}

/// Whether the daemon behind the mounted socket is the one this container runs on: it
/// must know this container (its hostname is its short id). A socket of another daemon
/// (a wrong `TESTDOCK_REAPER_SOCKET`, DinD's host socket) would let the watcher wait
/// and then remove nothing.
fn check_daemon() -> Result<(), String> {
    let me = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .map_err(|e| format!("it cannot read its own id: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let daemon = crate::docker::daemon()
            .await
            .map_err(|e| format!("it cannot reach a daemon through {SOCKET_IN_CONTAINER}: {e}"))?;
        match crate::docker::compat::inspect_container(daemon.client(), &me).await {
            Ok(info) if info.id.as_deref().is_some_and(|id| id.starts_with(&me)) => Ok(()),
            _ => Err(format!(
                "{SOCKET_IN_CONTAINER} in it leads to another daemon, one that does not run it"
            )),
        }
    })
}

/// The reaper container's main process: stays while watchers run (other processes in
/// its pid namespace), exits once it has had none for [`IDLE`]. On its way out it
/// removes the session's shared fixtures: the session has ended when no process of it
/// has been watched for that long.
#[allow(clippy::disallowed_methods)] // a plain thread before any runtime exists
pub(crate) fn serve() -> ! {
    let mut last_watched = Instant::now();
    while last_watched.elapsed() < IDLE {
        std::thread::sleep(Duration::from_millis(200));
        if watchers() > 0 {
            last_watched = Instant::now();
        }
    }
    let code = match std::env::var(SESSION_OWNER_ENV) {
        Ok(session_owner) => reap::run_to_completion("the session", async {
            let daemon = crate::docker::daemon().await?;
            let filter = format!("{}={session_owner}", labels::OWNER);
            Ok(
                crate::cleanup::sweep::remove_labelled(daemon.client(), &filter)
                    .await?
                    .len(),
            )
        }),
        Err(_) => 0,
    };
    std::process::exit(code)
}

/// Processes in this pid namespace other than this one.
fn watchers() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.bytes().all(|b| b.is_ascii_digit()) && name != me
                })
                .count()
        })
        .unwrap_or(0)
}
