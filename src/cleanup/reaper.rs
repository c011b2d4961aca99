//! The reaper: a watchdog process that removes what its owner created once the owner
//! dies, however it dies (normal exit, panic, SIGINT, SIGTERM, SIGKILL, OOM kill).
//!
//! No image, registry or docker CLI is involved: on first use a process re-executes its
//! own executable with `TESTDOCK_REAPER_OWNER` set. testdock's constructor (run before
//! `main`, so before the test harness) sees the variable and turns that process into
//! the reaper: it waits for its stdin, a pipe whose other end only the owner holds, to
//! close, which the kernel does when the owner dies. It then removes every container,
//! network and volume labelled with the owner (`testdock.owner=<pid>-<start time>`) and
//! exits. It runs in its own process group, so a Ctrl-C or a CI job's SIGTERM to the
//! test's group reaches the owner but not the reaper. It writes nothing to the test's
//! output; its failures go to `$TMPDIR/testdock-reaper.log`.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use once_cell::sync::OnceCell;

use crate::labels;

/// Environment variable that makes a process linking testdock the reaper of an owner.
pub(crate) const OWNER_ENV: &str = "TESTDOCK_REAPER_OWNER";

/// Environment variable naming the session's root process, whose end the reaper also
/// awaits when the session has shared fixtures (nextest: a process per test).
const SESSION_OWNER_ENV: &str = "TESTDOCK_REAPER_SESSION_OWNER";

/// How long the reaper may spend removing an owner's resources (and waiting for the
/// end of a session whose shared fixtures it removes: a day at most).
const REAP_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The owner's end of the pipe; never dropped, so it closes exactly when we die.
static PIPE: OnceCell<Option<Mutex<ChildStdin>>> = OnceCell::new();

/// Starts this process's reaper unless it runs already. Call before creating anything.
pub(crate) fn ensure_started() {
    PIPE.get_or_init(|| match spawn() {
        Ok(pipe) => Some(Mutex::new(pipe)),
        Err(e) => {
            eprintln!(
                "testdock: cannot start the reaper ({e}); containers of this process are \
                 removed by normal teardown only, not if it is killed"
            );
            None
        }
    });
}

/// Tells the reaper to leave container `name` in place (a failed test's container kept
/// for debugging with `TESTDOCK_KEEP_FAILED`; `testdock prune` removes it later).
pub(crate) fn spare(name: &str) {
    if let Some(Some(pipe)) = PIPE.get() {
        let mut pipe = pipe.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(pipe, "keep {name}");
        let _ = pipe.flush();
    }
}

/// Tells the reaper to remove image `reference` once this process ends.
pub(crate) fn remove_image_at_exit(reference: &str) {
    ensure_started();
    if let Some(Some(pipe)) = PIPE.get() {
        let mut pipe = pipe.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(pipe, "image {reference}");
        let _ = pipe.flush();
    }
}

fn spawn() -> std::io::Result<ChildStdin> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    if let Some(session_owner) = labels::session_owner_id() {
        command.env(SESSION_OWNER_ENV, session_owner);
    }
    let mut child = command
        .env(OWNER_ENV, labels::owner_id())
        .stdin(Stdio::piped())
        // Not the test's stdout/stderr: a runner such as nextest would wait for them to
        // close (and call the test leaky) while the reaper outlives the test.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the reaper has no stdin"))
}

/// The reaper's whole life: wait for the owner to die, remove its resources, exit.
pub(crate) fn run(owner: &str) -> ! {
    // The owner only ever writes `keep <name>` lines; the read ends when it dies.
    let mut spared = HashSet::new();
    let mut images = Vec::new();
    for line in std::io::stdin().lock().lines() {
        match line {
            Ok(line) => {
                if let Some(name) = line.strip_prefix("keep ") {
                    spared.insert(name.trim().to_owned());
                } else if let Some(reference) = line.strip_prefix("image ") {
                    images.push(reference.trim().to_owned());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let report = |message: String| {
        use std::io::Write;
        let path = std::env::temp_dir().join("testdock-reaper.log");
        if let Ok(mut log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(log, "testdock reaper of {owner}: {message}");
        }
    };
    let code = match runtime {
        Ok(rt) => {
            match rt.block_on(async {
                tokio::time::timeout(REAP_LIMIT, reap(owner, &spared, &images)).await
            }) {
                Ok(Ok(_)) => 0,
                Ok(Err(e)) => {
                    report(format!("removing its resources failed: {e}"));
                    1
                }
                Err(_) => {
                    report(format!("removing its resources took over {REAP_LIMIT:?}"));
                    1
                }
            }
        }
        Err(e) => {
            report(format!("no runtime: {e}"));
            1
        }
    };
    std::process::exit(code)
}

async fn reap(owner: &str, spared: &HashSet<String>, images: &[String]) -> crate::Result<usize> {
    let daemon = crate::docker::daemon().await?;
    let filter = format!("{}={owner}", labels::OWNER);
    let mut removed = crate::prune::remove_labelled_except(daemon.client(), &filter, spared)
        .await?
        .len();
    if let Ok(session_owner) = std::env::var(SESSION_OWNER_ENV) {
        removed += reap_session(daemon.client(), &session_owner).await?;
    }
    for image in images {
        // An image still used by a container (another run's) stays: 409.
        if daemon
            .client()
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Shared fixtures of the session outlive the test processes that use them: if there
/// are any, wait (cheaply, on `/proc`) for the session's root process to end, then
/// remove them. Several reapers may do this at once; the losers find nothing left.
async fn reap_session(docker: &bollard::Docker, session_owner: &str) -> crate::Result<usize> {
    let filter = format!("{}={session_owner}", labels::OWNER);
    if crate::prune::list_labelled(docker, &filter)
        .await?
        .is_empty()
    {
        return Ok(0);
    }
    let Some((pid, start)) = crate::procfs::parse_owner(session_owner) else {
        return Ok(0);
    };
    while crate::procfs::is_alive(pid, start) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(crate::prune::remove_labelled(docker, &filter).await?.len())
}

#[allow(unsafe_code)]
mod entry {
    // SAFETY (of running before main): the constructor only reads one environment
    // variable; when it is absent (every process but a reaper) it returns at once and
    // the program starts as usual. A reaper never returns from it: it exits.
    #[ctor::ctor(unsafe)]
    fn become_reaper_if_asked() {
        if let Ok(owner) = std::env::var(super::OWNER_ENV) {
            super::run(&owner);
        }
    }
}
