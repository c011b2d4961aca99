//! The removal itself: kill and remove a container with its volumes.

use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveVolumeOptions};
use bollard::Docker;

use crate::error::status_of;

/// What to remove: a container and the named volumes it may have created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The container's name (chosen before create, so known even if create never returned).
    pub(crate) name: String,
    /// Named volumes that carry this container's label if the daemon created them for it.
    pub(crate) volumes: Vec<String>,
}

/// Kills and removes the container with its anonymous volumes, then removes named volumes
/// that were created for it. "No such container" (404) and "removal already in progress"
/// (409) count as done.
pub(crate) async fn remove_container(
    docker: &Docker,
    target: &Target,
) -> Result<(), bollard::errors::Error> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(&target.name, Some(options)).await {
        Ok(()) => {}
        Err(e) if matches!(status_of(&e), Some(404 | 409)) => {}
        Err(e) => return Err(e),
    }
    for volume in &target.volumes {
        remove_volume_if_ours(docker, volume, &target.name).await?;
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
