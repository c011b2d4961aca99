//! The daemon-side reaper: one container per session, on the daemon's side, made from
//! the test executable itself (no registry, no Dockerfile).
//!
//! - **The container** (`testdock-reaper-<session hash>`, label `testdock.role=reaper`)
//!   runs the test executable packed with its shared libraries into a `FROM scratch`
//!   image tagged with testdock's version (imported once per daemon), with the daemon's
//!   socket bind-mounted (`/var/run/docker.sock` on the daemon's side, or
//!   `TESTDOCK_REAPER_SOCKET`). testdock's constructor turns it into [`serve`](super::container::serve): it
//!   waits while watchers run, and exits (and is auto-removed) once it has had none for
//!   `IDLE`, removing the session's shared fixtures as it goes.
//! - **One watcher per test process**: the owner execs the same executable in that
//!   container ([`watch`](super::container::watch)) with its stdin attached through the daemon API and keeps the
//!   connection open for the rest of its life. When the owner dies, however it dies
//!   (its container killed, its pid namespace's pid 1 killed, the CI job cancelled), the
//!   kernel closes the connection, the daemon closes the watcher's stdin, and the
//!   watcher removes everything labelled with the owner. The liveness channel is the
//!   daemon connection itself, so it works wherever the owner can talk to the daemon:
//!   a job container, Docker-in-Docker, a remote TLS daemon. No port is published.

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::docker::{Daemon, Endpoint, Topology};
use crate::error::status_of;
use crate::labels;

/// Environment variable that makes a process the reaper container's main process.
pub(crate) const SERVE_ENV: &str = "TESTDOCK_REAPER_SERVE";
/// Environment variable that makes a process the watcher of an owner.
pub(crate) const WATCH_ENV: &str = "TESTDOCK_REAPER_WATCH";
/// Environment variable: the daemon's socket as the daemon's host sees it.
pub(crate) const SOCKET_ENV: &str = "TESTDOCK_REAPER_SOCKET";
/// The session's root process, whose shared fixtures the container removes at its end.
pub(super) const SESSION_OWNER_ENV: &str = "TESTDOCK_REAPER_SESSION_OWNER";
/// What a watcher prints once it watches.
pub(super) const WATCHING: &str = "WATCHING";
/// How long the owner waits for its watcher's first words.
const WATCHER_ANSWER_LIMIT: Duration = Duration::from_secs(15);

/// Where the executable is in the reaper image.
const EXECUTABLE: &str = "/testdock-reaper";
/// Where the daemon's socket is mounted in the reaper container.
pub(super) const SOCKET_IN_CONTAINER: &str = "/var/run/docker.sock";
/// The reaper image's repository; the tag is testdock's version and source hash.
const REPOSITORY: &str = "testdock/reaper";
/// A hash of testdock's sources (see `build.rs`): builds that differ never share a
/// reaper image or container.
const SOURCE_HASH: &str = env!("TESTDOCK_SOURCE_HASH");

/// How long the reaper container stays up without watchers.
pub(crate) const IDLE: Duration = Duration::from_secs(5);
/// How long the owner tries to get a watcher before falling back.
const ATTACH_LIMIT: Duration = Duration::from_secs(60);

/// The owner's end of its watcher: lines sent to it; dropped never, so the connection
/// closes exactly when the owner dies.
pub(crate) struct Watcher {
    lines: mpsc::UnboundedSender<String>,
}

impl Watcher {
    /// Sends one instruction line.
    pub(crate) fn send(&self, line: &str) {
        let _ = self.lines.send(format!("{line}\n"));
    }
}

/// The reaper image's tag.
pub(crate) fn image_tag() -> String {
    format!("{}-{}", env!("CARGO_PKG_VERSION"), &SOURCE_HASH[..12])
}

/// The session's reaper container name.
pub(crate) fn container_name(session: &str) -> String {
    let digest = Sha256::digest(format!("{session}\0{}", image_tag()).as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("testdock-reaper-{hash}")
}

/// The daemon's socket as seen from the daemon's host: `TESTDOCK_REAPER_SOCKET`, else
/// the socket this process uses when it runs on that host, else the standard one.
pub(crate) fn daemon_socket(
    env_override: Option<&str>,
    endpoint: &Endpoint,
    topology: &Topology,
) -> String {
    if let Some(path) = env_override.map(str::trim).filter(|p| !p.is_empty()) {
        return path.to_owned();
    }
    match (endpoint, topology) {
        (Endpoint::Unix { path }, Topology::Host) => path.display().to_string(),
        _ => SOCKET_IN_CONTAINER.to_owned(),
    }
}

/// Gets this process a watcher in the session's reaper container, starting the
/// container if needed.
pub(crate) async fn attach(daemon: &'static Daemon) -> crate::Result<Watcher> {
    let name = container_name(labels::session_id());
    match tokio::time::timeout(ATTACH_LIMIT, attach_to(daemon, &name)).await {
        Ok(result) => result,
        Err(_) => Err(crate::Error::Config {
            message: format!("no watcher in `{name}` within {ATTACH_LIMIT:?}"),
        }),
    }
}

async fn attach_to(daemon: &'static Daemon, name: &str) -> crate::Result<Watcher> {
    let mut backoff = crate::probe::Backoff::new();
    loop {
        // The connection must outlive any test's runtime: it is made and held on the
        // teardown runtime, which lives as long as the process.
        let exec =
            crate::cleanup::spawn_detached(exec_watcher(daemon.client().clone(), name.to_owned()))
                .map_err(|e| crate::Error::Config {
                    message: format!("no teardown thread: {e}"),
                })?
                .await
                .map_err(|e| crate::Error::Config {
                    message: format!("the watcher's exec task failed: {e}"),
                })?;
        match exec {
            Ok(watcher) => return Ok(watcher),
            // No such container, or one that is exiting: (re)create it.
            Err(AttachError::Docker(e)) if matches!(status_of(&e), Some(404 | 409)) => {}
            Err(AttachError::Docker(e)) => return Err(docker_error(name, e)),
            Err(AttachError::Refused(why)) => {
                return Err(crate::Error::Config {
                    message: format!(
                        "the reaper container `{name}` cannot do its job: {why} (it mounts the \
                         daemon's socket from the daemon's host; set {SOCKET_ENV} to that \
                         socket's path on the daemon's host)"
                    ),
                })
            }
        }
        match create_container(daemon, name).await {
            Ok(()) => {}
            // Another process of the session made it first, or the old one is still
            // being removed: try again.
            Err(crate::Error::Docker { source, .. }) if status_of(&source) == Some(409) => {
                backoff.wait().await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Why no watcher could be attached.
enum AttachError {
    /// The daemon refused (no such container, not running, ...).
    Docker(bollard::errors::Error),
    /// The watcher started but cannot reach this process's daemon.
    Refused(String),
}

impl From<bollard::errors::Error> for AttachError {
    fn from(e: bollard::errors::Error) -> Self {
        AttachError::Docker(e)
    }
}

fn docker_error(name: &str, source: bollard::errors::Error) -> crate::Error {
    crate::Error::Docker {
        step: crate::Step::Start,
        container: name.to_owned(),
        image: format!("{REPOSITORY}:{}", image_tag()),
        elapsed: Duration::ZERO,
        logs: None,
        source: Box::new(source),
    }
}

async fn create_container(daemon: &Daemon, name: &str) -> crate::Result<()> {
    let docker = daemon.client();
    let exe = std::env::current_exe().map_err(|source| crate::Error::HostIo {
        action: "find",
        path: "the test executable".into(),
        target: None,
        error: source,
    })?;
    let image = crate::image::HostImage::new()
        .binary_at(exe, EXECUTABLE)
        .ensure_tagged(docker, REPOSITORY, &image_tag())
        .await?;
    let _ = crate::cleanup::spawn_detached(remove_other_reaper_images(docker.clone()));
    let socket = daemon_socket(
        std::env::var(SOCKET_ENV).ok().as_deref(),
        &daemon.endpoint().endpoint,
        daemon.topology(),
    );
    let mut env = vec![
        format!("{SERVE_ENV}=1"),
        format!("DOCKER_HOST=unix://{SOCKET_IN_CONTAINER}"),
        format!("{}={}", labels::SESSION_ENV, labels::session_id()),
    ];
    if let Some(owner) = labels::session_owner_id() {
        env.push(format!("{SESSION_OWNER_ENV}={owner}"));
    }
    let body = ContainerCreateBody {
        image: Some(image),
        entrypoint: Some(vec![EXECUTABLE.to_owned()]),
        env: Some(env),
        labels: Some(HashMap::from([
            (
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            ),
            (labels::SESSION.to_owned(), labels::session_id().to_owned()),
            (labels::ROLE.to_owned(), "reaper".to_owned()),
            (labels::CREATED.to_owned(), labels::now_secs().to_string()),
        ])),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{socket}:{SOCKET_IN_CONTAINER}")]),
            auto_remove: Some(true),
            network_mode: Some("none".to_owned()),
            privileged: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| docker_error(name, e))?;
    match docker.start_container(name, None).await {
        Ok(()) => Ok(()),
        // Someone else started it.
        Err(e) if status_of(&e) == Some(304) => Ok(()),
        Err(e) => Err(docker_error(name, e)),
    }
}

/// How old an image must be before it counts as garbage: a build in progress has
/// untagged, labelled intermediate images, and another build's reaper image lives a
/// moment between its import and its container; both are young.
const GARBAGE_AGE_SECS: i64 = 3600;

/// Removes reaper images of other testdock builds, and testdock's untagged images (an
/// import that lost a race for its tag): garbage no one can name, once older than
/// [`GARBAGE_AGE_SECS`]. Images in use by a container stay (the daemon answers 409).
async fn remove_other_reaper_images(docker: Docker) {
    let list = |filters: HashMap<String, Vec<String>>| {
        let docker = docker.clone();
        async move {
            let options = bollard::query_parameters::ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build();
            docker.list_images(Some(options)).await.unwrap_or_default()
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let old = move |image: &bollard::models::ImageSummary| image.created < now - GARBAGE_AGE_SECS;
    let current = format!("{REPOSITORY}:{}", image_tag());
    let mut doomed: Vec<String> = list(HashMap::from([(
        "reference".to_owned(),
        vec![REPOSITORY.to_owned()],
    )]))
    .await
    .into_iter()
    .filter(old)
    .flat_map(|image| image.repo_tags)
    .filter(|tag| *tag != current)
    .collect();
    let managed = labels::managed_filter();
    doomed.extend(
        list(HashMap::from([
            ("dangling".to_owned(), vec!["true".to_owned()]),
            ("label".to_owned(), vec![managed]),
        ]))
        .await
        .into_iter()
        .filter(old)
        .map(|image| image.id),
    );
    for image in doomed {
        let _ = docker
            .remove_image(
                &image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
    }
}

/// Starts a watcher of this process in container `name`, waits until it says it reaches
/// the daemon (the one it runs on), and keeps its stdin open.
async fn exec_watcher(docker: Docker, name: String) -> Result<Watcher, AttachError> {
    let config = ExecConfig {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(vec![EXECUTABLE.to_owned()]),
        env: Some(vec![format!("{WATCH_ENV}={}", labels::owner_id())]),
        ..Default::default()
    };
    let exec = docker.create_exec(&name, config).await?;
    let options = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: None,
    };
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker.start_exec(&exec.id, Some(options)).await?
    else {
        return Err(AttachError::Refused("its exec did not attach".to_owned()));
    };
    // The watcher's first words: it watches, or why it cannot.
    let mut said = String::new();
    let heard = tokio::time::timeout(WATCHER_ANSWER_LIMIT, async {
        while let Some(chunk) = output.next().await {
            said.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
            if said.contains('\n') {
                break;
            }
        }
        Ok::<(), bollard::errors::Error>(())
    })
    .await;
    match heard {
        Ok(Ok(())) if said.starts_with(WATCHING) => {}
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok(())) => return Err(AttachError::Refused(said.trim().to_owned())),
        Err(_) => {
            return Err(AttachError::Refused(format!(
                "its watcher said nothing within {WATCHER_ANSWER_LIMIT:?}"
            )))
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    // Holds both halves of the connection for as long as this process lives: the
    // sender sits in a static that is never dropped, so `recv` never returns `None`.
    tokio::spawn(async move {
        let _output = output;
        while let Some(line) = rx.recv().await {
            if input.write_all(line.as_bytes()).await.is_err() {
                break;
            }
            let _ = input.flush().await;
        }
        std::future::pending::<()>().await;
    });
    Ok(Watcher { lines: tx })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reaper_container_per_session() {
        assert_eq!(container_name("s1"), container_name("s1"));
        assert_ne!(container_name("s1"), container_name("s2"));
        assert!(container_name("s1").starts_with("testdock-reaper-"));
    }

    #[test]
    fn the_socket_is_the_daemon_sides() {
        let unix = Endpoint::Unix {
            path: "/run/other/docker.sock".into(),
        };
        let tcp = Endpoint::Tcp {
            addr: "dind:2375".into(),
            tls: None,
        };
        let job = Topology::JobContainer {
            id: "x".into(),
            network: None,
        };
        // On the host, the socket this process uses is the daemon host's path.
        assert_eq!(
            daemon_socket(None, &unix, &Topology::Host),
            "/run/other/docker.sock"
        );
        // In a job container or for a remote daemon, the path on the host is unknown:
        // the standard one, unless told.
        assert_eq!(daemon_socket(None, &unix, &job), "/var/run/docker.sock");
        assert_eq!(
            daemon_socket(None, &tcp, &Topology::Remote),
            "/var/run/docker.sock"
        );
        assert_eq!(
            daemon_socket(Some("/run/podman/podman.sock"), &tcp, &Topology::Remote),
            "/run/podman/podman.sock"
        );
    }
}
