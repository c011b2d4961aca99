//! [`ContainerSpec`]: everything about a container to start, as pure data.
//!
//! Nothing here talks to the daemon: the spec turns into the create request in
//! [`ContainerSpec::create_body`], which unit tests check without Docker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::image::ImageSource;
use crate::inject::InjectFile;
use crate::labels;
use crate::ports::Port;
use crate::probe::Probe;

/// Default limit for create + inject + start + readiness.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A mount of a host path or a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MountSpec {
    Bind {
        host: PathBuf,
        target: String,
        read_only: bool,
    },
    Volume {
        name: String,
        target: String,
        read_only: bool,
    },
    Anonymous {
        target: String,
    },
    Tmpfs {
        target: String,
        size_bytes: Option<i64>,
    },
}

/// Everything about a container to start. Build it, then call
/// [`start`](ContainerSpec::start) (or [`run`](ContainerSpec::run) for a one-shot).
///
/// ```no_run
/// use testdock::{ContainerSpec, InjectFile, Probe};
///
/// # async fn demo() -> testdock::Result<()> {
/// let redis = ContainerSpec::new("redis:7")
///     .expose(6379)
///     .file(InjectFile::from_bytes("/usr/local/etc/redis/redis.conf", "save \"\"\n"))
///     .cmd(["redis-server", "/usr/local/etc/redis/redis.conf"])
///     .wait_for(Probe::log("Ready to accept connections"))
///     .start()
///     .await?;
/// let addr = redis.addr(6379)?;
/// # let _ = addr; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ContainerSpec {
    pub(crate) image: ImageSource,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: Vec<(String, String)>,
    labels: HashMap<String, String>,
    pub(crate) ports: Vec<Port>,
    user: Option<String>,
    workdir: Option<String>,
    hostname: Option<String>,
    memory_bytes: Option<i64>,
    nano_cpus: Option<i64>,
    mounts: Vec<MountSpec>,
    network: Option<String>,
    aliases: Vec<String>,
    /// More networks to join after create, before start, each with its aliases.
    more_networks: Vec<(String, Vec<String>)>,
    name_prefix: String,
    pub(crate) stop_signal: Option<String>,
    read_only_rootfs: bool,
    pub(crate) startup_timeout: Duration,
    pub(crate) files: Vec<InjectFile>,
    pub(crate) probe: Probe,
    healthcheck: Option<Healthcheck>,
    test_id: String,
    /// Set for a shared fixture's container: its fixed name and owner.
    pub(crate) sharing: Option<Sharing>,
}

/// How a shared fixture's container differs: a fixed name (so processes of one session
/// find it, and only one of them creates it) and an owner wider than the process, or
/// none at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sharing {
    pub(crate) name: String,
    pub(crate) key: String,
    pub(crate) holder: Holder,
}

/// Who a shared fixture's container belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holder {
    /// The owner (`<pid>-<start time>-<pid namespace>`) whose reaper removes it.
    Owner(String),
    /// No one: a container reused across runs (label `testdock.reuse`, the hash of its
    /// spec), which only `testdock prune --all` or `--reused` removes.
    Reuse(String),
}

impl ContainerSpec {
    /// A container of `image`: a registry reference like `"redis:7"` or any
    /// [`ImageSource`] (such as a [`HostImage`](crate::HostImage) made from host binaries).
    pub fn new(image: impl Into<ImageSource>) -> Self {
        ContainerSpec {
            image: image.into(),
            cmd: None,
            entrypoint: None,
            env: Vec::new(),
            labels: HashMap::new(),
            ports: Vec::new(),
            user: None,
            workdir: None,
            hostname: None,
            memory_bytes: None,
            nano_cpus: None,
            mounts: Vec::new(),
            network: None,
            aliases: Vec::new(),
            more_networks: Vec::new(),
            name_prefix: "testdock".to_owned(),
            stop_signal: None,
            read_only_rootfs: false,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            files: Vec::new(),
            probe: Probe::none(),
            healthcheck: None,
            sharing: None,
            test_id: labels::current_test_id(),
        }
    }

    /// The command (arguments to the entrypoint), replacing the image's `CMD`.
    pub fn cmd<I, S>(mut self, cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    /// The entrypoint, replacing the image's `ENTRYPOINT`.
    pub fn entrypoint<I, S>(mut self, entrypoint: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entrypoint = Some(entrypoint.into_iter().map(Into::into).collect());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds a label. testdock's own labels (`testdock.*`) cannot be overridden.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Publishes a TCP port on `127.0.0.1`, on a host port the daemon chooses.
    pub fn expose(self, port: u16) -> Self {
        self.port(Port::tcp(port))
    }

    /// Publishes a UDP port on `127.0.0.1`, on a host port the daemon chooses.
    pub fn expose_udp(self, port: u16) -> Self {
        self.port(Port::udp(port))
    }

    /// Publishes a port with explicit options.
    pub fn port(mut self, port: Port) -> Self {
        self.ports.retain(|p| p.key() != port.key());
        self.ports.push(port);
        self
    }

    /// Runs as this user (`name`, `uid` or `uid:gid`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Working directory of the main process.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// The container's hostname.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// Memory limit in bytes.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes.min(i64::MAX as u64) as i64);
        self
    }

    /// CPU limit, in CPUs (e.g. `0.5`).
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.nano_cpus = Some((cpus * 1e9).round() as i64);
        self
    }

    /// Mounts a tmpfs at `target`, optionally limited in size.
    pub fn tmpfs(mut self, target: impl Into<String>, size_bytes: Option<u64>) -> Self {
        self.mounts.push(MountSpec::Tmpfs {
            target: target.into(),
            size_bytes: size_bytes.map(|s| s.min(i64::MAX as u64) as i64),
        });
        self
    }

    /// Bind-mounts the host path `host` at `target`, writable.
    pub fn bind(self, host: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        self.mount_bind(host.into(), target.into(), false)
    }

    /// Bind-mounts the host path `host` at `target`, read-only.
    pub fn bind_read_only(self, host: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        self.mount_bind(host.into(), target.into(), true)
    }

    fn mount_bind(mut self, host: PathBuf, target: String, read_only: bool) -> Self {
        self.mounts.push(MountSpec::Bind {
            host,
            target,
            read_only,
        });
        self
    }

    /// Mounts the named volume `name` at `target`, writable: a [`Volume`](crate::Volume)
    /// (`.volume(&data, "/data")`) or any volume's name. If the daemon creates the
    /// volume for this container, it is labelled and removed with the container; a
    /// volume that already existed (a `Volume` included) is left alone.
    pub fn volume(self, name: impl Into<String>, target: impl Into<String>) -> Self {
        self.mount_volume(name.into(), target.into(), false)
    }

    /// Mounts the named volume `name` at `target`, read-only (see [`volume`](Self::volume)).
    pub fn volume_read_only(self, name: impl Into<String>, target: impl Into<String>) -> Self {
        self.mount_volume(name.into(), target.into(), true)
    }

    fn mount_volume(mut self, name: String, target: String, read_only: bool) -> Self {
        self.mounts.push(MountSpec::Volume {
            name,
            target,
            read_only,
        });
        self
    }

    /// Mounts a fresh anonymous volume at `target`, removed with the container.
    pub fn anonymous_volume(mut self, target: impl Into<String>) -> Self {
        self.mounts.push(MountSpec::Anonymous {
            target: target.into(),
        });
        self
    }

    /// Joins the network `name` instead of the default bridge: a
    /// [`Network`](crate::Network) (`.network(&net)`) or the name of a network that
    /// exists.
    pub fn network(mut self, name: impl Into<String>) -> Self {
        self.network = Some(name.into());
        self
    }

    /// A DNS alias on the joined [`network`](Self::network).
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// Also joins the network `name`, with `aliases` there: connected after the
    /// container is created and before it starts, so it boots on every network it joins.
    /// [`network`](Self::network) is the one it is created on.
    ///
    /// ```no_run
    /// # async fn demo(front: &testdock::Network, back: &testdock::Network) -> testdock::Result<()> {
    /// let proxy = testdock::ContainerSpec::new("nginx:1.27")
    ///     .network(front)
    ///     .join_network(back, ["proxy"])
    ///     .start()
    ///     .await?;
    /// # let _ = proxy; Ok(()) }
    /// ```
    pub fn join_network<A: Into<String>>(
        mut self,
        name: impl Into<String>,
        aliases: impl IntoIterator<Item = A>,
    ) -> Self {
        let aliases = aliases.into_iter().map(Into::into).collect();
        self.more_networks.push((name.into(), aliases));
        self
    }

    /// Prefix of the container's name; a random suffix keeps parallel tests apart.
    /// Characters Docker does not allow in names are replaced by `-`.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }

    /// Signal used by [`Container::stop`](crate::Container::stop) (default: the image's, usually `SIGTERM`).
    pub fn stop_signal(mut self, signal: impl Into<String>) -> Self {
        self.stop_signal = Some(signal.into());
        self
    }

    /// Makes the container's root filesystem read-only.
    pub fn read_only_rootfs(mut self, read_only: bool) -> Self {
        self.read_only_rootfs = read_only;
        self
    }

    /// Limit for create + inject + start + readiness (default 60 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Injects a file before the container starts.
    pub fn file(mut self, file: InjectFile) -> Self {
        self.files.push(file);
        self
    }

    /// Injects several files before the container starts.
    pub fn files(mut self, files: impl IntoIterator<Item = InjectFile>) -> Self {
        self.files.extend(files);
        self
    }

    /// How to know the container is ready (default: as soon as it started).
    pub fn wait_for(mut self, probe: impl Into<Probe>) -> Self {
        self.probe = probe.into();
        self
    }

    /// A Docker healthcheck for the container (replacing the image's), to wait for
    /// with [`Probe::healthy`].
    pub fn healthcheck(mut self, check: Healthcheck) -> Self {
        self.healthcheck = Some(check);
        self
    }

    /// The test this container belongs to (label `testdock.test`). Default: the name of
    /// the thread that made the spec, which `cargo test` and nextest set to the test's
    /// path.
    pub fn test_id(mut self, id: impl Into<String>) -> Self {
        self.test_id = id.into();
        self
    }

    /// The image this spec starts from.
    pub fn image(&self) -> &ImageSource {
        &self.image
    }

    /// Whether a container of this spec may join a pooled namespace (see
    /// [`crate::pool`]): no network, alias, hostname or fixed host address of its own,
    /// and not a shared fixture's.
    pub(crate) fn pool_eligible(&self) -> bool {
        self.network.is_none()
            && self.aliases.is_empty()
            && self.more_networks.is_empty()
            && self.hostname.is_none()
            && self.sharing.is_none()
            && self
                .ports
                .iter()
                .all(|p| p.host_port.is_none() && p.host_ip.is_none())
    }

    pub(crate) fn has_network(&self) -> bool {
        self.network.is_some()
    }

    /// Labels under `testdock.` are testdock's own: setting one is a mistake, not
    /// something to drop silently.
    pub(crate) fn check_labels(&self) -> Result<(), String> {
        labels::refuse_reserved(&self.labels)
    }

    /// The network mode the container is created with (`None`: the default bridge).
    pub(crate) fn network_mode(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// The networks joined after create ([`join_network`](Self::join_network)).
    pub(crate) fn more_networks(&self) -> &[(String, Vec<String>)] {
        &self.more_networks
    }

    pub(crate) fn resolved_test_id(&self) -> &str {
        &self.test_id
    }

    /// A fresh container name: the sanitised prefix and 10 random hex digits.
    pub(crate) fn fresh_name(&self) -> String {
        if let Some(sharing) = &self.sharing {
            return sharing.name.clone();
        }
        let mut prefix: String = self
            .name_prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        if !prefix.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            prefix.insert_str(0, "testdock");
        }
        format!("{prefix}-{}", labels::random_hex(10))
    }
}

mod create;
mod fingerprint;
mod healthcheck;

pub use healthcheck::Healthcheck;
#[cfg(test)]
mod tests;
