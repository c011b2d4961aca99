//! Where a container's image comes from, and making sure it is present.
//!
//! - [`ImageSource::Reference`]: an image reference such as `redis:7`, used if present and
//!   pulled if missing.
//! - [`ImageSource::Host`]: a [`HostImage`], host executables with their shared-library
//!   closure packed into a single-layer image: no Dockerfile, no registry.

pub(crate) mod elf;
mod host;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::TryStreamExt;
use once_cell::sync::Lazy;

pub use host::HostImage;

use crate::error::{status_of, Error, Result};

/// The image a container starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageSource {
    /// An image reference (`name[:tag]` or `name@digest`), pulled if missing.
    Reference(String),
    /// An image made from host executables.
    Host(HostImage),
}

impl From<&str> for ImageSource {
    fn from(reference: &str) -> Self {
        ImageSource::Reference(reference.to_owned())
    }
}

impl From<String> for ImageSource {
    fn from(reference: String) -> Self {
        ImageSource::Reference(reference)
    }
}

impl From<&String> for ImageSource {
    fn from(reference: &String) -> Self {
        ImageSource::Reference(reference.clone())
    }
}

impl From<HostImage> for ImageSource {
    fn from(image: HostImage) -> Self {
        ImageSource::Host(image)
    }
}

/// Makes sure the image is present on the daemon and returns the reference to create
/// containers from.
pub(crate) async fn ensure(docker: &Docker, source: &ImageSource) -> Result<String> {
    match source {
        ImageSource::Reference(reference) => ensure_reference(docker, reference).await,
        ImageSource::Host(image) => image.ensure(docker).await,
    }
}

/// Per-process de-duplication: concurrent requests for the same image share one
/// preparation instead of racing.
static IN_FLIGHT: Lazy<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    Lazy::new(Default::default);

/// Runs `prepare` for `key` unless `present` says the image exists; at most one
/// preparation per key runs at a time in this process.
pub(crate) async fn once_per_key<P, F>(key: &str, present: P, prepare: F) -> Result<()>
where
    P: AsyncFnOnce() -> Result<bool>,
    F: AsyncFnOnce() -> Result<()>,
{
    let lock = IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_owned())
        .or_default()
        .clone();
    let _held = lock.lock().await;
    if present().await? {
        return Ok(());
    }
    prepare().await
}

/// Whether the daemon has `reference`.
pub(crate) async fn exists(docker: &Docker, reference: &str) -> Result<bool> {
    let started = Instant::now();
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(e) if status_of(&e) == Some(404) => Ok(false),
        Err(e) => Err(Error::Image {
            image: reference.to_owned(),
            message: "inspecting the image failed".to_owned(),
            elapsed: started.elapsed(),
            source: Some(Box::new(e)),
        }),
    }
}

async fn ensure_reference(docker: &Docker, reference: &str) -> Result<String> {
    let started = Instant::now();
    once_per_key(
        reference,
        || exists(docker, reference),
        || async {
            let options = CreateImageOptionsBuilder::default()
                .from_image(reference)
                .build();
            docker
                .create_image(Some(options), None, None)
                .try_for_each(|_| futures::future::ready(Ok(())))
                .await
                .map_err(|e| Error::Image {
                    image: reference.to_owned(),
                    message: "it is not on the daemon and pulling it failed (is the name right, \
                              and is the registry reachable?)"
                        .to_owned(),
                    elapsed: started.elapsed(),
                    source: Some(Box::new(e)),
                })
        },
    )
    .await?;
    Ok(reference.to_owned())
}
