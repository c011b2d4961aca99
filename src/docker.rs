//! Finding and connecting to the Docker daemon.
//!
//! One client is shared by the whole process: it is made on first use by trying each
//! candidate endpoint in order (see [`crate`] docs, "Which daemon"), negotiating the API
//! version with the first that answers. bollard's clients keep no pooled connections, so
//! the shared client works from any tokio runtime, including the one each
//! `#[tokio::test]` makes and drops.

pub(crate) mod compat;
mod endpoint;
mod engine;
mod topology;

use std::time::Duration;

use bollard::Docker;
use tokio::sync::OnceCell;

pub use crate::endpoint::{Candidate, Endpoint, Origin, TlsFiles};
pub use crate::error::Attempt;
use endpoint::{candidates, mapped_port_host, EnvSnapshot};
pub use engine::Engine;
pub use topology::Topology;

use crate::error::{Error, Result};

/// Request timeout for ordinary daemon calls, in seconds (bollard applies it to the
/// response head, so streams such as followed logs are not cut by it).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// How long one endpoint may take to answer the version negotiation.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The daemon this process talks to.
#[derive(Debug, Clone)]
pub struct Daemon {
    client: Docker,
    candidate: Candidate,
    engine: Engine,
    host: String,
    topology: Topology,
    bind: std::net::IpAddr,
    host_overridden: bool,
}

impl Daemon {
    /// The bollard client, API version already negotiated.
    pub fn client(&self) -> &Docker {
        &self.client
    }

    /// The endpoint that answered, and why it was chosen.
    pub fn endpoint(&self) -> &Candidate {
        &self.candidate
    }

    /// The engine that serves the API there: Docker, or Podman's compatible service
    /// (see the README's "Podman" section for what differs).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The host on which published container ports are reachable: `127.0.0.1` for a
    /// local socket, the daemon's host for `tcp://`, or `TESTDOCK_HOST` if set; a host
    /// name is resolved once, when the daemon is first reached, and this is its address
    /// (the name stays in [`Daemon::endpoint`]). In a job
    /// container of the same daemon, containers are reached on their own IP instead
    /// (see [`Daemon::topology`]).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where this process runs relative to the daemon: on its host, in one of its
    /// containers (a CI job container), or remote.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The host address ports are published on unless a [`Port`](crate::Port) says
    /// otherwise: `TESTDOCK_BIND` if set, the address of a TCP daemon, else `127.0.0.1`.
    pub fn bind_address(&self) -> std::net::IpAddr {
        self.bind
    }

    /// The network service containers are reached on from this process, when it runs
    /// in a job container on a network (and `TESTDOCK_HOST` does not say otherwise).
    pub(crate) fn meeting_network(&self) -> Option<&str> {
        if self.host_overridden {
            return None;
        }
        match &self.topology {
            Topology::JobContainer {
                network: Some(net), ..
            } => Some(net),
            _ => None,
        }
    }
}

static DAEMON: OnceCell<Daemon> = OnceCell::const_new();

/// The process-wide daemon connection, made on first use.
///
/// Failures are not cached: a later call tries again.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// let daemon = testdock::daemon().await?;
/// println!(
///     "talking to {} at {} via {}",
///     daemon.engine(),
///     daemon.endpoint().endpoint,
///     daemon.endpoint().origin
/// );
/// # Ok(()) }
/// ```
pub async fn daemon() -> Result<&'static Daemon> {
    DAEMON.get_or_try_init(connect_from_env).await
}

async fn connect_from_env() -> Result<Daemon> {
    let env = EnvSnapshot::from_process();
    let candidates = candidates(&env).map_err(|e| Error::Config { message: e.message })?;
    let mut attempts = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        match connect(&candidate.endpoint).await {
            Ok(client) => {
                // Names are resolved here, once and without blocking a worker, so
                // that addresses handed out later (`Container::addr`) need no DNS.
                // One lookup when the ports' host is the TCP daemon's own name.
                let tcp_name = topology::tcp_host(&candidate.endpoint);
                let tcp_ip = match tcp_name {
                    Some(name) => topology::resolve(name).await,
                    None => None,
                };
                let mut host = mapped_port_host(&env, &candidate.endpoint);
                let host_ip = match tcp_ip {
                    Some(ip) if tcp_name == Some(host.as_str()) => Some(ip),
                    _ => topology::resolve(&host).await,
                };
                if let Some(ip) = host_ip {
                    host = ip.to_string();
                }
                let engine = match client.version().await {
                    Ok(version) => Engine::of(&version),
                    Err(_) => Engine::Docker,
                };
                let topology = topology::detect(&client, &candidate.endpoint).await;
                let bind = topology::bind_address(
                    std::env::var("TESTDOCK_BIND").ok().as_deref(),
                    &candidate.endpoint,
                    tcp_ip,
                );
                tracing::debug!(
                    endpoint = %candidate.endpoint,
                    origin = %candidate.origin,
                    %engine,
                    api = %client.client_version(),
                    %topology,
                    "connected to the daemon"
                );
                return Ok(Daemon {
                    client,
                    candidate,
                    engine,
                    host,
                    topology,
                    bind,
                    host_overridden: env.testdock_host.is_some(),
                });
            }
            Err(failure) => attempts.push(Attempt { candidate, failure }),
        }
    }
    Err(Error::NoDaemon { attempts })
}

/// Connects to one endpoint and negotiates the API version.
async fn connect(endpoint: &Endpoint) -> std::result::Result<Docker, String> {
    let version = bollard::API_DEFAULT_VERSION;
    let client = match endpoint {
        Endpoint::Unix { path } => {
            if !path.exists() {
                return Err("no socket at this path".to_owned());
            }
            Docker::connect_with_unix(&path.to_string_lossy(), REQUEST_TIMEOUT_SECS, version)
        }
        Endpoint::Tcp { addr, tls: None } => {
            Docker::connect_with_http(addr, REQUEST_TIMEOUT_SECS, version)
        }
        Endpoint::Tcp {
            addr,
            tls: Some(tls),
        } => Docker::connect_with_ssl(
            addr,
            &tls.key,
            &tls.cert,
            &tls.ca,
            REQUEST_TIMEOUT_SECS,
            version,
        ),
    }
    .map_err(|e| e.to_string())?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.negotiate_version()).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}
