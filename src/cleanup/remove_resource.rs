//! The removal of a network or a volume: what containers still use waits for them.
//!
//! The daemon refuses to remove a network with endpoints (403 in Docker 20.10, 409
//! later) or a volume mounted by a container (409). Containers go first, so that
//! refusal is temporary: a network or volume dropped before its containers is retried
//! until they are gone (see `background::remove_resource_detached`).

use std::time::{Duration, Instant};

use bollard::query_parameters::RemoveVolumeOptions;
use bollard::Docker;
use tokio::sync::watch;

use super::ResourceKind;
use crate::error::status_of;

/// A network or volume to remove.
#[derive(Debug, Clone)]
pub(crate) struct ResourceTarget {
    /// What it is: a network or a volume.
    pub(crate) kind: ResourceKind,
    /// Its name (chosen before create, so known even if create never returned).
    pub(crate) name: String,
    /// Becomes `true` when the create request has been answered (either way): until
    /// then a 404 does not mean "gone".
    pub(crate) created: Option<watch::Receiver<bool>>,
}

/// How long a create request may take before removal stops waiting for its answer.
const CREATE_ANSWER_LIMIT: Duration = Duration::from_secs(120);

/// Whether the daemon refused a removal because containers still use the resource.
pub(crate) fn in_use(error: &bollard::errors::Error) -> bool {
    matches!(status_of(error), Some(403 | 409))
}

/// Removes `target`, first waiting for an outstanding create request to be answered.
/// "No such network/volume" (404) counts as done. While containers still use it, the
/// removal is retried for up to `patience`; after that the refusal is returned (see
/// [`in_use`]).
pub(crate) async fn remove_resource(
    docker: &Docker,
    target: &ResourceTarget,
    patience: Duration,
) -> Result<(), bollard::errors::Error> {
    if let Some(created) = &target.created {
        let mut created = created.clone();
        // A closed channel means the create task is gone: nothing more to wait for.
        let _ = tokio::time::timeout(CREATE_ANSWER_LIMIT, created.wait_for(|done| *done)).await;
    }
    let deadline = Instant::now() + patience;
    let mut backoff = crate::probe::Backoff::new();
    loop {
        match remove_once(docker, target).await {
            Err(e) if in_use(&e) && Instant::now() < deadline => backoff.wait().await,
            Err(e) if status_of(&e) == Some(404) => return Ok(()),
            other => return other,
        }
    }
}

async fn remove_once(
    docker: &Docker,
    target: &ResourceTarget,
) -> Result<(), bollard::errors::Error> {
    match target.kind {
        ResourceKind::Network => docker.remove_network(&target.name).await,
        ResourceKind::Volume => {
            docker
                .remove_volume(&target.name, None::<RemoveVolumeOptions>)
                .await
        }
        // Not made by the network and volume handles; removed the container way.
        ResourceKind::Container => {
            let container = super::Target {
                name: target.name.clone(),
                volumes: Vec::new(),
                created: None,
            };
            super::remove_container(docker, &container).await
        }
    }
}
