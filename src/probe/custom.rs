//! User-defined probes: an async check given what it needs to reach the container.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use bollard::Docker;

use crate::ports::{PortMap, Protocol};

type CheckFn = dyn Fn(ProbeTarget) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

/// A named user-defined check, made with [`Probe::custom`](crate::Probe::custom).
#[derive(Clone)]
pub(crate) struct CustomCheck {
    name: String,
    check: Arc<CheckFn>,
}

impl CustomCheck {
    pub(crate) fn new<F, Fut>(name: String, check: F) -> Self
    where
        F: Fn(ProbeTarget) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        CustomCheck {
            name,
            check: Arc::new(move |target| Box::pin(check(target))),
        }
    }

    /// The check's name, used in error messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn run(&self, target: ProbeTarget) -> Pin<Box<dyn Future<Output = bool> + Send>> {
        (self.check)(target)
    }
}

impl fmt::Debug for CustomCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a custom check may use to reach the container being started.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub(crate) docker: Docker,
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) ports: PortMap,
}

impl ProbeTarget {
    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The shared bollard client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The host published ports are reached on.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host port published for TCP `port`, if it is published.
    pub fn host_port(&self, port: u16) -> Option<u16> {
        self.ports.get(&(port, Protocol::Tcp)).copied()
    }

    /// The host address of TCP `port`; an error text if it is not published.
    pub fn addr(&self, port: u16) -> Result<SocketAddr, String> {
        let host_port = self
            .host_port(port)
            .ok_or_else(|| format!("port {port}/tcp is not published; add `.expose({port})`"))?;
        // The host was resolved when the daemon was reached: no DNS here.
        let ip: IpAddr = self
            .host
            .parse()
            .map_err(|_| format!("cannot resolve `{}`", self.host))?;
        Ok(SocketAddr::new(ip, host_port))
    }
}
