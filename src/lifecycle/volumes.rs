//! Named volumes are created, labelled, before the container that mounts them.
//!
//! Docker labels a volume it creates for a container's mount with the mount's
//! `VolumeOptions.Labels`; Podman 4 ignores those labels, so the volume would carry none
//! and nothing (the removal guard, the reaper, a sweep) would know it is testdock's.
//! Creating the volume first with the same labels gives the same result on both
//! engines: a volume that already exists is left as it is (its labels included), as a
//! mount would leave it.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::Docker;

use crate::error::status_of;

/// Creates each of `names` with `labels` unless it exists.
pub(super) async fn create_named(
    docker: &Docker,
    names: &[String],
    labels: HashMap<String, String>,
) -> Result<(), bollard::errors::Error> {
    for name in names {
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(labels.clone()),
            ..VolumeCreateRequest::default()
        };
        match docker.create_volume(request).await {
            Ok(_) => {}
            // Made by someone else since: theirs, as a mount would find it.
            Err(e) if status_of(&e) == Some(409) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
