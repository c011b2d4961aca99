//! [`LocalImage`]: an image already on the daemon, used as it is.

use std::time::Instant;

use bollard::Docker;

use super::PreparedImage;
use crate::error::{Error, Result};

/// An image the daemon already has (built by an earlier CI step, loaded by hand, or
/// made by another test): never pulled, never built. A missing one is an error saying
/// so and how to make it.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{ContainerSpec, LocalImage};
/// // `docker build -t myapp:dev .` ran before the tests.
/// let c = ContainerSpec::new(LocalImage::new("myapp:dev")).start().await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct LocalImage {
    name: String,
}

impl LocalImage {
    /// The image `name` (`repo:tag`, or an id).
    pub fn new(name: impl Into<String>) -> Self {
        LocalImage { name: name.into() }
    }

    /// The image's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the daemon has it.
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        super::traced("local", self.prepare_with(docker)).await
    }

    pub(crate) async fn prepare_with(&self, docker: &Docker) -> Result<PreparedImage> {
        let started = Instant::now();
        if super::present(docker, &self.name).await? {
            return Ok(PreparedImage::new(self.name.clone(), true));
        }
        Err(Error::Image {
            image: self.name.clone(),
            message: format!(
                "it is not on the daemon, and a local image is never pulled: make it first \
                 (`docker build -t {0} .`, `docker load`), or start from \
                 `RegistryImage::new(\"{0}\")` to pull it, or from a `BuildContext` or \
                 `HostImage` to make it in the test",
                self.name
            ),
            elapsed: started.elapsed(),
            source: None,
        })
    }
}

impl From<LocalImage> for super::ImageSource {
    fn from(image: LocalImage) -> Self {
        super::ImageSource::Local(image)
    }
}
