//! The local watchdog: a copy of the test executable that outlives its owner on the host.
//!
//! No image, registry or docker CLI is involved: on first use a process re-executes its
//! own executable with `TESTDOCK_REAPER_OWNER` set. testdock's constructor (run before
//! `main`, so before the test harness) sees the variable and turns that process into
//! the watchdog: it waits for its stdin, a pipe whose other end only the owner holds, to
//! close, which the kernel does when the owner dies. It then removes everything
//! labelled with the owner and exits. It runs in its own process group, so a Ctrl-C or
//! a CI job's SIGTERM to the test's group reaches the owner but not the watchdog. It
//! writes nothing to the test's output; its failures go to `$TMPDIR/testdock-reaper.log`.
//!
//! It is given the endpoint the owner resolved (as `DOCKER_HOST` and friends, with any
//! docker context cleared), so it reaches the same daemon whatever the owner's
//! environment says by then.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::{reap, Instructions};
use crate::docker::Endpoint;
use crate::labels;

/// Environment variable that makes a process linking testdock the watchdog of an owner.
pub(crate) const OWNER_ENV: &str = "TESTDOCK_REAPER_OWNER";

/// Environment variable naming the session's root process, whose end the watchdog also
/// awaits when the session has shared fixtures (nextest: a process per test).
const SESSION_OWNER_ENV: &str = "TESTDOCK_REAPER_SESSION_OWNER";

/// The owner's end of the pipe; never dropped, so it closes exactly when the owner dies.
pub(crate) struct Pipe(Mutex<ChildStdin>);

impl Pipe {
    /// Sends one instruction line.
    pub(crate) fn send(&self, line: &str) {
        let mut pipe = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(pipe, "{line}");
        let _ = pipe.flush();
    }
}

/// The environment that points a child at `endpoint` and nowhere else.
pub(crate) fn endpoint_env(endpoint: &Endpoint) -> Vec<(&'static str, String)> {
    match endpoint {
        Endpoint::Unix { path } => vec![("DOCKER_HOST", format!("unix://{}", path.display()))],
        Endpoint::Tcp { addr, tls: None } => vec![("DOCKER_HOST", format!("tcp://{addr}"))],
        Endpoint::Tcp {
            addr,
            tls: Some(tls),
        } => {
            let dir = tls.ca.parent().map(|d| d.display().to_string());
            let mut env = vec![
                ("DOCKER_HOST", format!("tcp://{addr}")),
                ("DOCKER_TLS_VERIFY", "1".to_owned()),
            ];
            env.extend(dir.map(|dir| ("DOCKER_CERT_PATH", dir)));
            env
        }
    }
}

/// Starts the watchdog of this process, talking to `endpoint`.
pub(crate) fn spawn(endpoint: &Endpoint) -> std::io::Result<Pipe> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    if let Some(session_owner) = labels::session_owner_id() {
        command.env(SESSION_OWNER_ENV, session_owner);
    }
    command
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");
    for (key, value) in endpoint_env(endpoint) {
        command.env(key, value);
    }
    let mut child = command
        .env(OWNER_ENV, labels::owner_id())
        .stdin(Stdio::piped())
        // Not the test's stdout/stderr: a runner such as nextest would wait for them to
        // close (and call the test leaky) while the watchdog outlives the test.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the reaper has no stdin"))?;
    Ok(Pipe(Mutex::new(stdin)))
}

/// The watchdog's whole life: wait for the owner to die, remove its resources, exit.
pub(crate) fn run(owner: &str) -> ! {
    let instructions = Instructions::read_until_closed(std::io::stdin().lock());
    let code = reap::run_to_completion(owner, async {
        let daemon = crate::docker::daemon().await?;
        let mut removed = reap::reap(daemon.client(), owner, &instructions).await?;
        if let Ok(session_owner) = std::env::var(SESSION_OWNER_ENV) {
            removed += reap_session(daemon.client(), &session_owner).await?;
        }
        Ok(removed)
    });
    std::process::exit(code)
}

/// Shared fixtures of the session outlive the test processes that use them: if there
/// are any, wait (cheaply, on `/proc`) for the session's root process to end, then
/// remove them. Several watchdogs may do this at once; the losers find nothing left.
async fn reap_session(docker: &bollard::Docker, session_owner: &str) -> crate::Result<usize> {
    let filter = format!("{}={session_owner}", labels::OWNER);
    if crate::cleanup::sweep::list(docker, std::slice::from_ref(&filter))
        .await?
        .is_empty()
    {
        return Ok(0);
    }
    let Some((pid, start)) = crate::procfs::parse_owner(session_owner) else {
        return Ok(0);
    };
    let proc = crate::procfs::Procfs::system();
    while proc.is_alive(pid, start) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(crate::cleanup::sweep::remove_labelled(docker, &filter)
        .await?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::TlsFiles;

    #[test]
    fn the_watchdog_is_pointed_at_the_resolved_endpoint() {
        let unix = Endpoint::Unix {
            path: "/run/x.sock".into(),
        };
        assert_eq!(
            endpoint_env(&unix),
            [("DOCKER_HOST", "unix:///run/x.sock".to_owned())]
        );
        let tls = Endpoint::Tcp {
            addr: "10.0.0.2:2376".into(),
            tls: Some(TlsFiles::in_dir(std::path::Path::new("/certs"))),
        };
        assert_eq!(
            endpoint_env(&tls),
            [
                ("DOCKER_HOST", "tcp://10.0.0.2:2376".to_owned()),
                ("DOCKER_TLS_VERIFY", "1".to_owned()),
                ("DOCKER_CERT_PATH", "/certs".to_owned()),
            ]
        );
    }
}
