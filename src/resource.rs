//! What networks and volumes share: a name testdock chooses, the standard labels, a
//! create request sent only once a [`RemovalGuard`] holds that name, and removal through
//! the guard (by `remove()`, on drop, by the runner or by the reaper).

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bollard::Docker;

use crate::cleanup::{RemovalGuard, RemoveError, ResourceKind, ResourceTarget};
use crate::error::{Error, Result, Step};
use crate::labels;

/// Limit for one create request of a network or volume.
const CREATE_LIMIT: Duration = Duration::from_secs(60);

/// A created network or volume, removed when dropped.
#[derive(Debug)]
pub(crate) struct Handle {
    docker: Docker,
    kind: ResourceKind,
    guard: RemovalGuard,
}

impl Handle {
    pub(crate) fn name(&self) -> &str {
        self.guard.name()
    }

    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The error for daemon call `step` on this resource, begun at `started`.
    pub(crate) fn error(
        &self,
        step: Step,
        started: Instant,
        source: bollard::errors::Error,
    ) -> Error {
        resource_error(self.kind, self.name(), step, started, source)
    }

    /// Removes it now; 404 counts as done (see [`RemovalGuard::remove`]).
    pub(crate) async fn remove(self) -> Result<()> {
        let Handle {
            docker,
            kind,
            guard,
        } = self;
        let name = guard.name().to_owned();
        let started = Instant::now();
        let source = match guard.remove(&docker).await {
            Ok(_) => return Ok(()),
            Err(RemoveError::Docker { source }) => source,
            Err(RemoveError::Timeout { .. }) => bollard::errors::Error::RequestTimeoutError,
        };
        Err(resource_error(kind, &name, Step::Remove, started, source))
    }
}

fn resource_error(
    kind: ResourceKind,
    name: &str,
    step: Step,
    started: Instant,
    source: bollard::errors::Error,
) -> Error {
    Error::Resource {
        step,
        kind,
        name: name.to_owned(),
        elapsed: started.elapsed(),
        source: Box::new(source),
    }
}

/// A fresh name: `prefix`, a dash and 12 random hex digits.
pub(crate) fn fresh_name(prefix: &str) -> String {
    format!("{prefix}-{}", labels::random_hex(12))
}

/// Creates the `kind` called `name` for test `test_id`, labelled with `user_labels` and
/// the standard labels. `request` sends the create request (given the client and the
/// labels) and returns the new resource's id.
///
/// The removal is registered before the request is sent, and the request runs on the
/// teardown runtime: a failure, a timeout or the caller dropping this future mid-way
/// all end in removal.
pub(crate) async fn create<F, Fut>(
    kind: ResourceKind,
    name: String,
    test_id: &str,
    user_labels: &HashMap<String, String>,
    request: F,
) -> Result<(Handle, String)>
where
    F: FnOnce(Docker, HashMap<String, String>) -> Fut,
    Fut: Future<Output = Result<String, bollard::errors::Error>> + Send + 'static,
{
    labels::refuse_reserved(user_labels).map_err(|message| Error::InvalidInput {
        container: format!("(not created) {kind} {name}"),
        message,
    })?;
    let docker = crate::docker::daemon().await?.client().clone();
    crate::cleanup::before_first_resource().await;
    let target = ResourceTarget {
        kind,
        name: name.clone(),
        created: None,
    };
    let mut guard = RemovalGuard::resource(target, test_id);
    let created_tx = guard.create_pending();
    let started = Instant::now();
    let sent = request(docker.clone(), labels::with_standard(user_labels, test_id));
    let create = async move {
        let result = sent.await;
        let _ = created_tx.send(true);
        result
    };
    let task = crate::cleanup::spawn_detached(create).map_err(|error| Error::HostIo {
        action: "start the teardown thread for",
        path: name.clone().into(),
        target: None,
        error,
    })?;
    let limit = crate::timeouts::scaled(CREATE_LIMIT);
    let outcome = match tokio::time::timeout(limit, task).await {
        Ok(joined) => joined.expect("the create request does not panic"),
        Err(_) => Err(bollard::errors::Error::RequestTimeoutError),
    };
    match outcome {
        Ok(id) => Ok((
            Handle {
                docker,
                kind,
                guard,
            },
            id,
        )),
        Err(source) => {
            if let Err(e) = guard.remove(&docker).await {
                eprintln!(
                    "testdock: cleanup after a failed create of {kind} {name} also failed: {e:?}"
                );
            }
            Err(Error::Resource {
                step: Step::Create,
                kind,
                name,
                elapsed: started.elapsed(),
                source: Box::new(source),
            })
        }
    }
}
