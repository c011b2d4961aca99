//! Where a Docker daemon listens, and why it was tried: [`Endpoint`], [`TlsFiles`],
//! [`Origin`] and [`Candidate`].
//!
//! Plain data with no I/O and no dependency on the rest of the crate, so both the daemon
//! connection (`crate::docker`, which finds and tries candidates) and the error type
//! (`crate::error`, whose `NoDaemon` lists the failed attempts) can use it without
//! depending on each other. `crate::docker` re-exports it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a Docker daemon may listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket.
    Unix {
        /// Path of the socket file.
        path: PathBuf,
    },
    /// TCP, plain or TLS.
    Tcp {
        /// `host:port` with no scheme; IPv6 hosts keep their brackets.
        addr: String,
        /// Client TLS files, when the connection uses TLS.
        tls: Option<TlsFiles>,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix { path } => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { addr, tls: None } => write!(f, "tcp://{addr}"),
            Endpoint::Tcp {
                addr,
                tls: Some(tls),
            } => match tls.common_dir() {
                Some(dir) => write!(f, "tcp://{addr} (TLS, certs in {})", dir.display()),
                None => write!(
                    f,
                    "tcp://{addr} (TLS, ca {}, cert {}, key {})",
                    tls.ca.display(),
                    tls.cert.display(),
                    tls.key.display()
                ),
            },
        }
    }
}

/// The files used for a TLS connection to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate authority that signed the daemon's certificate.
    pub ca: PathBuf,
    /// The client certificate.
    pub cert: PathBuf,
    /// The client certificate's private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`.
    pub(crate) fn in_dir(dir: &Path) -> Self {
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }

    fn common_dir(&self) -> Option<&Path> {
        let dir = self.ca.parent()?;
        (self.cert.parent() == Some(dir) && self.key.parent() == Some(dir)).then_some(dir)
    }
}

/// Why an endpoint is a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The `DOCKER_HOST` environment variable.
    DockerHost,
    /// The named Docker CLI context.
    Context(String),
    /// The standard `/var/run/docker.sock`.
    DefaultSocket,
    /// Rootless Docker's per-user socket.
    Rootless,
    /// A Docker Desktop socket under the home directory.
    DockerDesktop,
    /// A Podman API socket (rootless under `$XDG_RUNTIME_DIR`, or rootful
    /// `/run/podman/podman.sock`), tried after Docker's.
    Podman,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::DockerHost => f.write_str("DOCKER_HOST"),
            Origin::Context(name) => write!(f, "docker context `{name}`"),
            Origin::DefaultSocket => f.write_str("default socket"),
            Origin::Rootless => f.write_str("rootless socket"),
            Origin::DockerDesktop => f.write_str("Docker Desktop socket"),
            Origin::Podman => f.write_str("Podman socket"),
        }
    }
}

/// An endpoint to try, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Which rule produced it.
    pub origin: Origin,
}
