//! Watching running containers: a container that stops with a failure while a test uses
//! it, as an error with its exit code and last log lines, the moment it happens.
//!
//! An exit with code 0 is a completion, not a failure (a one-shot service that did its
//! job); a stop the test asked for ([`Container::stop`](crate::Container::stop),
//! [`kill`](crate::Container::kill), [`restart`](crate::Container::restart)) is not
//! reported either.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bollard::Docker;

use crate::error::{Error, Step};

/// Waits until container `id` is not running and returns its exit code (`None`: the
/// daemon gave no answer).
pub(crate) async fn exit_code(
    docker: &Docker,
    id: &str,
) -> Result<Option<i64>, bollard::errors::Error> {
    use futures::StreamExt;
    let options = bollard::query_parameters::WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut wait = std::pin::pin!(docker.wait_container(id, Some(options)));
    let mut code = None;
    while let Some(event) = wait.next().await {
        match event {
            Ok(answer) => code = Some(answer.status_code),
            // The wait endpoint reports a non-zero exit as an error.
            Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = Some(c),
            Err(e) => return Err(e),
        }
    }
    Ok(code)
}

/// A container as a watcher sees it: see [`Container::watched`](crate::Container).
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    pub(crate) docker: Docker,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) image: String,
    /// Whether the test stopped, killed or restarted it itself.
    pub(crate) stopped_on_purpose: Arc<AtomicBool>,
}

impl Watched {
    /// Resolves with [`Error::Exited`] when the container stops with a non-zero exit
    /// code that the test did not ask for; never resolves otherwise.
    pub(crate) async fn failure(self) -> Error {
        let since = Instant::now();
        let code = match exit_code(&self.docker, &self.id).await {
            Ok(Some(code)) => code,
            // The container is gone (removed by its teardown) or the daemon went away:
            // nothing this watcher can tell.
            Ok(None) | Err(_) => return std::future::pending().await,
        };
        if code == 0 || self.stopped_on_purpose.load(Ordering::Relaxed) {
            return std::future::pending().await;
        }
        let logs = crate::logs::tail(&self.docker, &self.id).await;
        let oom_killed =
            match crate::docker::compat::inspect_container(&self.docker, &self.id).await {
                Ok(info) => info.state.and_then(|s| s.oom_killed).unwrap_or(false),
                Err(_) => false,
            };
        Error::Exited {
            step: Step::Watch,
            container: self.name,
            image: self.image,
            exit_code: code,
            oom_killed,
            elapsed: since.elapsed(),
            logs,
        }
    }
}
