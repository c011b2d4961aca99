//! [`NetworkSpec`] and [`Network`]: a user-defined network as a fixture, labelled and
//! removed like a container.

use std::collections::HashMap;

use bollard::models::NetworkCreateRequest;

use crate::cleanup::ResourceKind;
use crate::error::Result;
use crate::labels;
use crate::resource::{self, Handle};
use crate::runner::{Fixture, TestContext};

/// A network to create: build it, then call [`create`](NetworkSpec::create).
///
/// Containers join it with [`ContainerSpec::network`](crate::ContainerSpec::network)
/// and reach each other there by container name and by
/// [`alias`](crate::ContainerSpec::alias).
///
/// ```no_run
/// use testdock::{ContainerSpec, NetworkSpec};
///
/// # async fn demo() -> testdock::Result<()> {
/// let net = NetworkSpec::new().internal().create().await?;
/// let db = ContainerSpec::new("postgres:16")
///     .network(&net)
///     .alias("db")
///     .start()
///     .await?;
/// // ... containers on `net` reach it as `db:5432` ...
/// db.remove().await?; // containers first,
/// net.remove().await?; // then their network (or drop both)
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct NetworkSpec {
    driver: Option<String>,
    internal: bool,
    options: HashMap<String, String>,
    labels: HashMap<String, String>,
    test_id: String,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec::new()
    }
}

impl NetworkSpec {
    /// A bridge network named `testdock-net-<random>`.
    pub fn new() -> Self {
        NetworkSpec {
            driver: None,
            internal: false,
            options: HashMap::new(),
            labels: HashMap::new(),
            test_id: labels::current_test_id(),
        }
    }

    /// The network driver (default: the daemon's, `bridge`).
    pub fn driver(mut self, driver: impl Into<String>) -> Self {
        self.driver = Some(driver.into());
        self
    }

    /// Cuts the network off from the outside: its containers reach only each other.
    pub fn internal(mut self) -> Self {
        self.internal = true;
        self
    }

    /// Sets a driver option (e.g. `com.docker.network.driver.mtu`).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(key.into(), value.into());
        self
    }

    /// Adds a label. testdock's own labels (`testdock.*`) cannot be set.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The test this network belongs to (label `testdock.test`). Default: as for
    /// [`ContainerSpec::test_id`](crate::ContainerSpec::test_id), the name of the
    /// thread that made the spec.
    pub fn test_id(mut self, id: impl Into<String>) -> Self {
        self.test_id = id.into();
        self
    }

    /// Creates the network, labelled like a container (see [`labels`]). Its removal is
    /// registered before the request is sent: nothing is left behind if creation
    /// fails or this future is dropped.
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// let net = testdock::NetworkSpec::new().create().await?;
    /// assert!(net.name().starts_with("testdock-net-"));
    /// # Ok(()) }
    /// ```
    pub async fn create(self) -> Result<Network> {
        let name = resource::fresh_name("testdock-net");
        let (handle, id) = resource::create(
            ResourceKind::Network,
            name.clone(),
            &self.test_id,
            &self.labels,
            |docker, labels| {
                let request = self.request(name, labels);
                async move { Ok(docker.create_network(request).await?.id) }
            },
        )
        .await?;
        Ok(Network { handle, id })
    }

    /// The create request for network `name` with all its `labels`.
    fn request(&self, name: String, labels: HashMap<String, String>) -> NetworkCreateRequest {
        NetworkCreateRequest {
            name,
            driver: self.driver.clone(),
            internal: self.internal.then_some(true),
            options: (!self.options.is_empty()).then(|| self.options.clone()),
            labels: Some(labels),
            ..Default::default()
        }
    }
}

/// A network testdock created. Removed by [`remove`](Self::remove), or when dropped.
///
/// Removal waits for the containers that still use the network: a network dropped
/// before its containers is removed right after them, in the background (the drop does
/// not wait for them). Inside a [runner](crate::runner) test, a dropped network is left
/// to the runner, which removes the test's containers first, then its networks.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{ContainerSpec, NetworkSpec};
/// let net = NetworkSpec::new().create().await?;
/// let c = ContainerSpec::new("redis:7").network(&net).start().await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Network {
    handle: Handle,
    id: String,
}

impl Network {
    /// The network's name (`testdock-net-<random>`): what
    /// [`ContainerSpec::network`](crate::ContainerSpec::network) takes.
    pub fn name(&self) -> &str {
        self.handle.name()
    }

    /// The network's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The daemon's full description of the network (containers attached, IPAM, ...).
    pub async fn inspect(&self) -> Result<bollard::models::NetworkInspect> {
        let started = std::time::Instant::now();
        self.handle
            .docker()
            .inspect_network(&self.id, None)
            .await
            .map_err(|source| self.handle.error(crate::Step::Inspect, started, source))
    }

    /// Removes the network now; a network already gone counts as removed. Remove its
    /// containers first: while some still use it, this waits up to 2 s, then fails
    /// (and the removal goes on in the background once they are gone).
    pub async fn remove(self) -> Result<()> {
        self.handle.remove().await
    }
}

/// The network's name, for [`ContainerSpec::network`](crate::ContainerSpec::network)
/// (`.network(&net)`).
impl From<&Network> for String {
    fn from(network: &Network) -> String {
        network.name().to_owned()
    }
}

/// A fresh network for each argument of this type, labelled with the test.
impl Fixture for Network {
    async fn setup(ctx: &TestContext) -> Result<Self> {
        NetworkSpec::new().test_id(ctx.test_id()).create().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_driver_options_and_labels() {
        let spec = NetworkSpec::new()
            .driver("bridge")
            .internal()
            .option("com.docker.network.driver.mtu", "1400");
        let labels = labels::with_standard(&HashMap::from([("a".into(), "b".into())]), "t");
        let request = spec.request("n".into(), labels);
        assert_eq!(request.name, "n");
        assert_eq!(request.driver.as_deref(), Some("bridge"));
        assert_eq!(request.internal, Some(true));
        assert_eq!(
            request.options.unwrap()["com.docker.network.driver.mtu"],
            "1400"
        );
        let labels = request.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels[labels::TEST], "t");
        assert_eq!(labels[labels::OWNER], labels::owner_id());
    }

    #[test]
    fn a_plain_spec_asks_for_nothing_special() {
        let request = NetworkSpec::new().request("n".into(), HashMap::new());
        assert_eq!(
            (request.driver, request.internal, request.options),
            (None, None, None)
        );
    }

    #[test]
    fn the_test_id_defaults_to_the_thread_name() {
        assert_eq!(
            NetworkSpec::new().test_id,
            "network::tests::the_test_id_defaults_to_the_thread_name"
        );
    }
}
