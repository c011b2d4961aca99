//! The removal itself: kill and remove a container with its volumes.

use std::time::Duration;

use bollard::query_parameters::{
    RemoveContainerOptionsBuilder, RemoveVolumeOptions, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::watch;

use crate::error::status_of;

/// What to remove: a container and the named volumes it may have created.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The container's name (chosen before create, so known even if create never returned).
    pub(crate) name: String,
    /// Named volumes that carry this container's label if the daemon created them for it.
    pub(crate) volumes: Vec<String>,
    /// Becomes `true` when the create request has been answered (either way). Until
    /// then a 404 does not mean "gone": the daemon may still be creating it.
    pub(crate) created: Option<watch::Receiver<bool>>,
}

/// How long a create request may take before teardown stops waiting for its answer.
const CREATE_ANSWER_LIMIT: Duration = Duration::from_secs(120);

/// Kills and removes the container with its anonymous volumes, then removes named volumes
/// that were created for it. Waits first for an outstanding create request to be
/// answered. "No such container" (404) counts as done; "removal already in progress"
/// (409) waits until it is removed. Runs in a `testdock.remove` span.
pub(crate) async fn remove_container(
    docker: &Docker,
    target: &Target,
) -> Result<(), bollard::errors::Error> {
    let span = tracing::info_span!(
        "testdock.remove",
        container = %target.name,
        elapsed_ms = tracing::field::Empty,
    );
    crate::trace::timed(span, remove_now(docker, target))
        .await
        .0
}

async fn remove_now(docker: &Docker, target: &Target) -> Result<(), bollard::errors::Error> {
    if let Some(created) = &target.created {
        let mut created = created.clone();
        // A closed channel means the create task is gone: nothing more to wait for.
        let _ = tokio::time::timeout(CREATE_ANSWER_LIMIT, created.wait_for(|done| *done)).await;
    }
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(&target.name, Some(options)).await {
        Ok(()) => {}
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) if status_of(&e) == Some(409) => wait_until_removed(docker, &target.name).await?,
        Err(e) => return Err(e),
    }
    for volume in &target.volumes {
        remove_volume_if_ours(docker, volume, &target.name).await?;
    }
    Ok(())
}

/// Waits for a removal someone else started to finish.
async fn wait_until_removed(docker: &Docker, name: &str) -> Result<(), bollard::errors::Error> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("removed")
        .build();
    let mut wait = std::pin::pin!(docker.wait_container(name, Some(options)));
    while let Some(event) = wait.next().await {
        match event {
            Ok(_) => {}
            Err(e) if status_of(&e) == Some(404) => return Ok(()),
            // The wait endpoint reports a non-zero exit code as an error; the container
            // is gone all the same when the stream ends.
            Err(bollard::errors::Error::DockerContainerWaitError { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes a named volume only if it was created for `container` (by its label).
async fn remove_volume_if_ours(
    docker: &Docker,
    volume: &str,
    container: &str,
) -> Result<(), bollard::errors::Error> {
    let info = match docker.inspect_volume(volume).await {
        Ok(info) => info,
        Err(e) if status_of(&e) == Some(404) => return Ok(()),
        Err(e) => return Err(e),
    };
    if info
        .labels
        .get(crate::labels::CONTAINER)
        .map(String::as_str)
        != Some(container)
    {
        return Ok(());
    }
    match docker
        .remove_volume(volume, None::<RemoveVolumeOptions>)
        .await
    {
        Ok(()) => Ok(()),
        // Gone already, or still used by another container: not ours to force.
        Err(e) if matches!(status_of(&e), Some(404 | 409)) => Ok(()),
        Err(e) => Err(e),
    }
}
