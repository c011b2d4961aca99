//! [`VolumeSpec`] and [`Volume`]: a named volume as a fixture, labelled and removed like
//! a container, that outlives the containers mounting it.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;

use crate::cleanup::ResourceKind;
use crate::error::Result;
use crate::labels;
use crate::resource::{self, Handle};
use crate::runner::{Fixture, TestContext};

/// A volume to create: build it, then call [`create`](VolumeSpec::create).
///
/// Containers mount it with [`ContainerSpec::volume`](crate::ContainerSpec::volume) or
/// [`volume_read_only`](crate::ContainerSpec::volume_read_only); it stays when they go,
/// so one container can leave data for the next.
///
/// ```no_run
/// use testdock::{ContainerSpec, VolumeSpec};
///
/// # async fn demo() -> testdock::Result<()> {
/// let data = VolumeSpec::new().create().await?;
/// ContainerSpec::new("busybox")
///     .volume(&data, "/data")
///     .cmd(["sh", "-c", "echo seeded > /data/state"])
///     .run()
///     .await?;
/// let out = ContainerSpec::new("busybox")
///     .volume_read_only(&data, "/data")
///     .cmd(["cat", "/data/state"])
///     .run()
///     .await?;
/// assert_eq!(out.logs.stdout, "seeded\n");
/// data.remove().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct VolumeSpec {
    driver: Option<String>,
    options: HashMap<String, String>,
    labels: HashMap<String, String>,
    test_id: String,
}

impl Default for VolumeSpec {
    fn default() -> Self {
        VolumeSpec::new()
    }
}

impl VolumeSpec {
    /// A local volume named `testdock-vol-<random>`.
    pub fn new() -> Self {
        VolumeSpec {
            driver: None,
            options: HashMap::new(),
            labels: HashMap::new(),
            test_id: labels::current_test_id(),
        }
    }

    /// The volume driver (default: `local`).
    pub fn driver(mut self, driver: impl Into<String>) -> Self {
        self.driver = Some(driver.into());
        self
    }

    /// Sets a driver option (for `local`: `type`, `device`, `o`, e.g. a tmpfs volume
    /// with `type=tmpfs`, `device=tmpfs`, `o=size=64m`).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(key.into(), value.into());
        self
    }

    /// Adds a label. testdock's own labels (`testdock.*`) cannot be set.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The test this volume belongs to (label `testdock.test`). Default: as for
    /// [`ContainerSpec::test_id`](crate::ContainerSpec::test_id), the name of the
    /// thread that made the spec.
    pub fn test_id(mut self, id: impl Into<String>) -> Self {
        self.test_id = id.into();
        self
    }

    /// Creates the volume, labelled like a container (see [`labels`]). Its removal is
    /// registered before the request is sent: nothing is left behind if creation
    /// fails or this future is dropped.
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// let data = testdock::VolumeSpec::new().create().await?;
    /// assert!(data.name().starts_with("testdock-vol-"));
    /// # Ok(()) }
    /// ```
    pub async fn create(self) -> Result<Volume> {
        let name = resource::fresh_name("testdock-vol");
        let (handle, _) = resource::create(
            ResourceKind::Volume,
            name.clone(),
            &self.test_id,
            &self.labels,
            |docker, labels| {
                let request = self.request(name, labels);
                async move { Ok(docker.create_volume(request).await?.name) }
            },
        )
        .await?;
        Ok(Volume { handle })
    }

    /// The create request for volume `name` with all its `labels`.
    fn request(&self, name: String, labels: HashMap<String, String>) -> VolumeCreateRequest {
        VolumeCreateRequest {
            name: Some(name),
            driver: self.driver.clone(),
            driver_opts: (!self.options.is_empty()).then(|| self.options.clone()),
            labels: Some(labels),
            ..Default::default()
        }
    }
}

/// A volume testdock created. Removed by [`remove`](Self::remove), or when dropped;
/// not by the containers that mount it. (A volume's name is its id.)
///
/// Removal waits for the containers that still use the volume: a volume dropped before
/// its containers is removed right after them, in the background (the drop does not
/// wait for them). Inside a [runner](crate::runner) test, a dropped volume is left to the
/// runner, which removes the test's containers first, then its volumes.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{ContainerSpec, VolumeSpec};
/// let data = VolumeSpec::new().create().await?;
/// let c = ContainerSpec::new("redis:7").volume(&data, "/data").start().await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Volume {
    handle: Handle,
}

impl Volume {
    /// The volume's name (`testdock-vol-<random>`), which is also its id: what
    /// [`ContainerSpec::volume`](crate::ContainerSpec::volume) takes.
    pub fn name(&self) -> &str {
        self.handle.name()
    }

    /// The daemon's description of the volume (driver, mount point, labels, ...).
    pub async fn inspect(&self) -> Result<bollard::models::Volume> {
        let started = std::time::Instant::now();
        self.handle
            .docker()
            .inspect_volume(self.name())
            .await
            .map_err(|source| self.handle.error(crate::Step::Inspect, started, source))
    }

    /// Removes the volume and its data now; a volume already gone counts as removed.
    /// Remove the containers that mount it first: while some still do, this waits up
    /// to 2 s, then fails (and the removal goes on in the background once they are gone).
    pub async fn remove(self) -> Result<()> {
        self.handle.remove().await
    }
}

/// The volume's name, for [`ContainerSpec::volume`](crate::ContainerSpec::volume)
/// (`.volume(&data, "/data")`).
impl From<&Volume> for String {
    fn from(volume: &Volume) -> String {
        volume.name().to_owned()
    }
}

/// A fresh volume for each argument of this type, labelled with the test.
impl Fixture for Volume {
    async fn setup(ctx: &TestContext) -> Result<Self> {
        VolumeSpec::new().test_id(ctx.test_id()).create().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_driver_options_and_labels() {
        let spec = VolumeSpec::new()
            .driver("local")
            .option("type", "tmpfs")
            .label("team", "db");
        let labels = labels::with_standard(&spec.labels, "t");
        let request = spec.request("v".into(), labels);
        assert_eq!(request.name.as_deref(), Some("v"));
        assert_eq!(request.driver.as_deref(), Some("local"));
        assert_eq!(request.driver_opts.unwrap()["type"], "tmpfs");
        let labels = request.labels.unwrap();
        assert_eq!(labels["team"], "db");
        assert_eq!(labels[labels::TEST], "t");
        assert_eq!(labels[labels::SESSION], labels::session_id());
    }

    #[test]
    fn reserved_labels_are_refused_before_anything_is_created() {
        let spec = VolumeSpec::new().label("testdock.owner", "me");
        let refused = labels::refuse_reserved(&spec.labels).unwrap_err();
        assert!(
            refused.contains("`testdock.owner` is reserved"),
            "{refused}"
        );
    }
}
