//! Which Docker daemon endpoints to try, and where published ports are reachable.
//!
//! Nothing here talks to a daemon: the decision is made from a snapshot of the
//! environment and the Docker CLI's configuration files only.
//!
//! # Resolution order
//!
//! 1. **`DOCKER_HOST`**, if set and non-empty. Accepted forms are
//!    `unix:///path/to/socket`, `tcp://host[:port]`, `http://host[:port]`
//!    (plain TCP) and `https://host[:port]` (TCP with TLS); IPv6 hosts are
//!    written in brackets (`tcp://[::1]:2375`). For TCP, TLS is on when
//!    `DOCKER_TLS_VERIFY` is set to anything but empty or `0`, or when the
//!    scheme is `https`; the files `ca.pem`, `cert.pem` and `key.pem` are taken
//!    from `DOCKER_CERT_PATH`, by default from the Docker config directory
//!    (`DOCKER_CONFIG`, else `$HOME/.docker`). Without a port, 2376 is used
//!    with TLS and 2375 without. When `DOCKER_HOST` is set it is the only
//!    candidate: explicit configuration is never silently bypassed. Any other
//!    scheme (`ssh://`, `npipe://`, ...) is a configuration error.
//! 2. **The active Docker context**: `DOCKER_CONTEXT` if set, else
//!    `currentContext` in `<config dir>/config.json` (a missing, unreadable or
//!    unparsable file means no context). The context `default` means no
//!    context. The context is found by scanning
//!    `<config dir>/contexts/meta/*/meta.json` for its `Name`; its endpoint is
//!    `Endpoints.docker.Host`. If `ca.pem`, `cert.pem` and `key.pem` exist in
//!    `<config dir>/contexts/tls/<same dir>/docker/` and the host is TCP, TLS
//!    is on (`SkipTLSVerify` is not honoured). A context that cannot be found
//!    is a configuration error. An active context is the only candidate.
//! 3. **Well-known local sockets**, in this order: `/var/run/docker.sock`;
//!    rootless Docker's `$XDG_RUNTIME_DIR/docker.sock` (without
//!    `XDG_RUNTIME_DIR`: `/run/user/<uid>/docker.sock`); Docker Desktop's
//!    `$HOME/.docker/run/docker.sock`, then `$HOME/.docker/desktop/docker.sock`.
//!    then Podman's: rootless `$XDG_RUNTIME_DIR/podman/podman.sock` (without
//!    `XDG_RUNTIME_DIR`: `/run/user/<uid>/podman/podman.sock`), then rootful
//!    `/run/podman/podman.sock` (`podman system service` serves a Docker-compatible
//!    API there; see the README's "Podman" section). Docker's sockets come first, so a
//!    host with both talks to Docker unless `DOCKER_HOST` names Podman's socket.
//!    Each is listed whether or not the file exists, duplicates removed.
//!
//! # Host for published ports
//!
//! Ports published by containers are reached on `TESTDOCK_HOST` if it is set
//! and non-empty; otherwise on `127.0.0.1` for a unix-socket daemon, or on the
//! host part of the TCP address (`[::1]:2375` gives `::1`).

use std::path::{Path, PathBuf};

mod context;

use crate::endpoint::{Candidate, Endpoint, Origin, TlsFiles};

/// Everything resolution reads from the process environment, captured once.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvSnapshot {
    /// `DOCKER_HOST`.
    pub(crate) docker_host: Option<String>,
    /// `DOCKER_TLS_VERIFY`.
    pub(crate) docker_tls_verify: Option<String>,
    /// `DOCKER_CERT_PATH`.
    pub(crate) docker_cert_path: Option<PathBuf>,
    /// `DOCKER_CONTEXT`.
    pub(crate) docker_context: Option<String>,
    /// `DOCKER_CONFIG`.
    pub(crate) docker_config: Option<PathBuf>,
    /// `HOME`.
    pub(crate) home: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`.
    pub(crate) xdg_runtime_dir: Option<PathBuf>,
    /// The user id of this process.
    pub(crate) uid: Option<u32>,
    /// `TESTDOCK_HOST`.
    pub(crate) testdock_host: Option<String>,
}

impl EnvSnapshot {
    /// Reads the real environment; empty variables are recorded as unset.
    pub(crate) fn from_process() -> Self {
        let path = |name: &str| text_var(name).map(PathBuf::from);
        Self {
            docker_host: text_var("DOCKER_HOST"),
            docker_tls_verify: text_var("DOCKER_TLS_VERIFY"),
            docker_cert_path: path("DOCKER_CERT_PATH"),
            docker_context: text_var("DOCKER_CONTEXT"),
            docker_config: path("DOCKER_CONFIG"),
            home: path("HOME"),
            xdg_runtime_dir: path("XDG_RUNTIME_DIR"),
            uid: process_uid(),
            testdock_host: text_var("TESTDOCK_HOST"),
        }
    }

    /// The docker config dir (`DOCKER_CONFIG`, else `$HOME/.docker`), if known.
    pub(crate) fn config_dir(&self) -> Option<PathBuf> {
        non_empty_path(&self.docker_config)
            .map(Path::to_path_buf)
            .or_else(|| non_empty_path(&self.home).map(|home| home.join(".docker")))
    }
}

fn text_var(name: &str) -> Option<String> {
    let value = std::env::var_os(name)?;
    (!value.is_empty()).then(|| value.to_string_lossy().into_owned())
}

#[cfg(unix)]
fn process_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|meta| meta.uid())
}

#[cfg(not(unix))]
fn process_uid() -> Option<u32> {
    None
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn non_empty_path(value: &Option<PathBuf>) -> Option<&Path> {
    value.as_deref().filter(|p| !p.as_os_str().is_empty())
}

/// A configuration problem found before any connection attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ConfigError {
    /// What is wrong and how to fix it.
    pub(crate) message: String,
}

impl ConfigError {
    /// An error with this message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The endpoints to try, in order (see the module docs for the rules).
pub(crate) fn candidates(env: &EnvSnapshot) -> Result<Vec<Candidate>, ConfigError> {
    if let Some(host) = non_empty(env.docker_host.as_deref()) {
        let endpoint = docker_host_endpoint(env, host)
            .map_err(|e| ConfigError::new(format!("DOCKER_HOST: {e}")))?;
        let origin = Origin::DockerHost;
        return Ok(vec![Candidate { endpoint, origin }]);
    }
    if let Some(name) = context::active_context_name(env) {
        return Ok(vec![context::resolve_context(env, &name)?]);
    }
    Ok(local_sockets(env))
}

fn docker_host_endpoint(env: &EnvSnapshot, host: &str) -> Result<Endpoint, ConfigError> {
    let scheme = host.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let scheme = scheme.as_deref();
    let verify = non_empty(env.docker_tls_verify.as_deref()).is_some_and(|v| v != "0");
    let wants_tls = scheme == Some("https") || (verify && matches!(scheme, Some("tcp" | "http")));
    let tls = if wants_tls {
        let dir = non_empty_path(&env.docker_cert_path)
            .map(Path::to_path_buf)
            .or_else(|| env.config_dir())
            .ok_or_else(|| {
                ConfigError::new(format!(
                    "TLS is enabled for `{host}` but DOCKER_CERT_PATH, DOCKER_CONFIG and HOME \
                     are all unset, so ca.pem, cert.pem and key.pem cannot be located"
                ))
            })?;
        Some(TlsFiles::in_dir(&dir))
    } else {
        None
    };
    parse_docker_host(host, tls)
}

fn local_sockets(env: &EnvSnapshot) -> Vec<Candidate> {
    let mut sockets = vec![(PathBuf::from("/var/run/docker.sock"), Origin::DefaultSocket)];
    let runtime_dir = non_empty_path(&env.xdg_runtime_dir)
        .map(Path::to_path_buf)
        .or_else(|| env.uid.map(|uid| PathBuf::from(format!("/run/user/{uid}"))));
    if let Some(dir) = &runtime_dir {
        sockets.push((dir.join("docker.sock"), Origin::Rootless));
    }
    if let Some(home) = non_empty_path(&env.home) {
        for sub in ["run", "desktop"] {
            let path = home.join(".docker").join(sub).join("docker.sock");
            sockets.push((path, Origin::DockerDesktop));
        }
    }
    if let Some(dir) = &runtime_dir {
        sockets.push((dir.join("podman").join("podman.sock"), Origin::Podman));
    }
    sockets.push((PathBuf::from("/run/podman/podman.sock"), Origin::Podman));
    let mut out: Vec<Candidate> = Vec::new();
    for (path, origin) in sockets {
        if !out
            .iter()
            .any(|c| c.endpoint == Endpoint::Unix { path: path.clone() })
        {
            let endpoint = Endpoint::Unix { path };
            out.push(Candidate { endpoint, origin });
        }
    }
    out
}

/// The host on which ports published by containers of `endpoint`'s daemon are reachable.
pub(crate) fn mapped_port_host(env: &EnvSnapshot, endpoint: &Endpoint) -> String {
    if let Some(host) = non_empty(env.testdock_host.as_deref()) {
        return host.to_owned();
    }
    match endpoint {
        Endpoint::Unix { .. } => "127.0.0.1".to_owned(),
        Endpoint::Tcp { addr, .. } => match addr.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or(rest, |(host, _)| host),
            None => addr
                .rsplit_once(':')
                .map_or(addr.as_str(), |(host, _)| host),
        }
        .to_owned(),
    }
}

/// Parses a `DOCKER_HOST`-style value. `tls` is used for `tcp://` and
/// `http://` as given, is required for `https://`, and is ignored for `unix://`.
pub(crate) fn parse_docker_host(
    value: &str,
    tls: Option<TlsFiles>,
) -> Result<Endpoint, ConfigError> {
    let value = value.trim();
    let unsupported = || {
        let hint = if value.to_ascii_lowercase().starts_with("ssh://") {
            "; for a remote daemon over SSH, forward its socket \
             (`ssh -L /tmp/docker.sock:/var/run/docker.sock host`) and use unix:///tmp/docker.sock"
        } else {
            ""
        };
        ConfigError::new(format!(
            "unsupported Docker host `{value}`: supported schemes are unix:// (socket path), \
             tcp:// and http:// (plain TCP), https:// (TCP with TLS){hint}"
        ))
    };
    let (scheme, rest) = value.split_once("://").ok_or_else(unsupported)?;
    match scheme.to_ascii_lowercase().as_str() {
        "unix" if rest.is_empty() => Err(ConfigError::new(format!(
            "Docker host `{value}` names no socket path (expected unix:///path/to/docker.sock)"
        ))),
        "unix" => Ok(Endpoint::Unix {
            path: PathBuf::from(rest),
        }),
        "tcp" | "http" => tcp_endpoint(value, rest, tls),
        "https" => match tls {
            Some(tls) => tcp_endpoint(value, rest, Some(tls)),
            None => Err(ConfigError::new(format!(
                "Docker host `{value}` uses https:// but no TLS files (ca.pem, cert.pem, key.pem) \
                 are configured for it"
            ))),
        },
        _ => Err(unsupported()),
    }
}

fn tcp_endpoint(value: &str, rest: &str, tls: Option<TlsFiles>) -> Result<Endpoint, ConfigError> {
    let invalid = |why: &str| ConfigError::new(format!("invalid Docker host `{value}`: {why}"));
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') {
        return Err(invalid("a URL path is not supported"));
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| invalid("missing `]` after the IPv6 address"))?;
        let port = match &authority[end + 1..] {
            "" => None,
            tail => Some(
                tail.strip_prefix(':')
                    .ok_or_else(|| invalid("unexpected text after `]`"))?,
            ),
        };
        (if end == 1 { "" } else { &authority[..=end] }, port)
    } else if authority.matches(':').count() > 1 {
        return Err(invalid(
            "write IPv6 addresses in brackets, e.g. tcp://[::1]:2375",
        ));
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("no host name"));
    }
    let port = match port {
        None if tls.is_some() => 2376,
        None => 2375,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
    };
    let addr = format!("{host}:{port}");
    Ok(Endpoint::Tcp { addr, tls })
}

#[cfg(test)]
mod tests;
