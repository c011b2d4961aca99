//! Where this process runs relative to the daemon, and so how it reaches containers and
//! which reaper watches it.
//!
//! | topology | how it is detected | containers are reached at |
//! |---|---|---|
//! | [`Topology::Host`] | a unix socket, and this process is not a container of that daemon | published ports on `127.0.0.1` |
//! | [`Topology::JobContainer`] | a unix socket, and this process's container id (from the mounts of `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, then the cgroup, then the hostname) names a container the daemon has | the container's IP on a network the job container is on, and the container port: nothing is published wider |
//! | [`Topology::Remote`] | `DOCKER_HOST=tcp://…` (DinD, a remote or TLS daemon) | published ports on the daemon's host, bound to the address the daemon is reached at |
//!
//! `TESTDOCK_HOST` overrides the address of published ports in every topology.

use std::net::IpAddr;

use bollard::Docker;
use once_cell::sync::Lazy;
use regex::Regex;

use crate::endpoint::Endpoint;

/// Where this process runs relative to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Topology {
    /// On the daemon's host, sharing its network namespace.
    Host,
    /// Inside a container of the same daemon (a CI job container with the daemon's
    /// socket mounted).
    JobContainer {
        /// The job container's id.
        id: String,
        /// The network on which the job container meets service containers; `None` when
        /// it uses the host's network (published ports on `127.0.0.1` then work).
        network: Option<String>,
    },
    /// The daemon is reached over TCP: Docker-in-Docker, a remote or TLS daemon.
    Remote,
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Topology::Host => f.write_str("on the daemon's host"),
            Topology::JobContainer { id, network } => {
                let short = &id[..id.len().min(12)];
                match network {
                    Some(net) => write!(f, "in container {short} of the daemon, network `{net}`"),
                    None => write!(f, "in container {short} of the daemon, host network"),
                }
            }
            Topology::Remote => f.write_str("remote daemon (tcp)"),
        }
    }
}

/// A 64-hex container id inside `text`, after `containers/` (docker's and podman's
/// per-container directories) or as a cgroup path component.
fn container_id_in(text: &str) -> Option<String> {
    static ID: Lazy<Regex> = Lazy::new(|| {
        Regex::new(r"(?:containers/|docker[/-]|libpod[/-]|crio-|cri-containerd-)([0-9a-f]{64})")
            .expect("valid regex")
    });
    ID.captures(text).map(|c| c[1].to_owned())
}

/// Candidate ids of the container this process runs in, best first, from
/// `/proc/self/mountinfo`, `/proc/self/cgroup` and the hostname. Only the mounts of
/// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` count: on the daemon's own host,
/// other containers' mounts are visible too.
pub(crate) fn container_id_candidates(
    mountinfo: &str,
    cgroup: &str,
    hostname: &str,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |id: String| {
        if !out.contains(&id) {
            out.push(id);
        }
    };
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(root), Some(mount_point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        if matches!(
            *mount_point,
            "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf"
        ) {
            if let Some(id) = container_id_in(root) {
                push(id);
            }
        }
    }
    for line in cgroup.lines() {
        if let Some(id) = container_id_in(line) {
            push(id);
        }
    }
    let hostname = hostname.trim();
    if hostname.len() >= 12 && hostname.bytes().all(|b| b.is_ascii_hexdigit()) {
        push(hostname.to_owned());
    }
    out
}

/// Which network a job container with `networks` (name -> gateway) and `network_mode`
/// meets services on: `None` for the host's network; else its network mode if that is
/// one of its networks, else the first by name.
pub(crate) fn meeting_network(network_mode: Option<&str>, networks: &[String]) -> Option<String> {
    if network_mode == Some("host") {
        return None;
    }
    if let Some(mode) = network_mode {
        if networks.iter().any(|n| n == mode) {
            return Some(mode.to_owned());
        }
    }
    let mut sorted: Vec<&String> = networks.iter().collect();
    sorted.sort();
    sorted.first().map(|n| (*n).clone())
}

/// Finds out where this process runs relative to the daemon behind `endpoint`.
pub(crate) async fn detect(docker: &Docker, endpoint: &Endpoint) -> Topology {
    if matches!(endpoint, Endpoint::Tcp { .. }) {
        return Topology::Remote;
    }
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let in_a_container = std::path::Path::new("/.dockerenv").exists()
        || std::path::Path::new("/run/.containerenv").exists();
    let candidates = container_id_candidates(
        &read("/proc/self/mountinfo"),
        &read("/proc/self/cgroup"),
        &if in_a_container {
            read("/etc/hostname")
        } else {
            String::new()
        },
    );
    for id in candidates {
        let Ok(info) = crate::docker::compat::inspect_container(docker, &id).await else {
            continue;
        };
        if info.state.as_ref().and_then(|s| s.running) != Some(true) {
            continue;
        }
        let mode = info
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone());
        let networks: Vec<String> = info
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect())
            .unwrap_or_default();
        return Topology::JobContainer {
            id: info.id.unwrap_or(id),
            network: meeting_network(mode.as_deref(), &networks),
        };
    }
    Topology::Host
}

/// The host part of a TCP endpoint (`docker` in `tcp://docker:2375`).
pub(crate) fn tcp_host(endpoint: &Endpoint) -> Option<&str> {
    let Endpoint::Tcp { addr, .. } = endpoint else {
        return None;
    };
    Some(match addr.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
        None => addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h),
    })
}

/// Resolves a host name without blocking a runtime worker (IPv4 first, as published
/// ports are); `None` when it does not resolve.
pub(crate) async fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
        .await
        .ok()?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(addrs.first())
        .copied()
}

/// The host address published ports bind to: `TESTDOCK_BIND` if set (an explicit
/// opt-in, e.g. `0.0.0.0`); for a TCP daemon the address it is reached at (`tcp_ip`,
/// its host resolved by [`resolve`]), so ports are exactly as reachable as the daemon;
/// else `127.0.0.1`.
pub(crate) fn bind_address(
    env_override: Option<&str>,
    endpoint: &Endpoint,
    tcp_ip: Option<IpAddr>,
) -> IpAddr {
    if let Some(ip) = env_override.and_then(|v| v.trim().parse::<IpAddr>().ok()) {
        return ip;
    }
    match (endpoint, tcp_ip) {
        (Endpoint::Tcp { .. }, Some(ip)) if !ip.is_unspecified() => ip,
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c0ad0e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b";

    #[test]
    fn the_job_container_id_comes_from_its_etc_mounts() {
        let mountinfo = format!(
            "1 0 0:1 / / rw - overlay overlay rw\n\
             2 1 8:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n\
             3 1 8:1 /var/lib/docker/containers/{other}/mounts/shm /dev/shm rw - tmpfs shm rw\n",
            other = "a".repeat(64)
        );
        assert_eq!(container_id_candidates(&mountinfo, "", ""), [ID]);
    }

    #[test]
    fn other_containers_mounts_on_the_host_do_not_count() {
        let mountinfo = format!(
            "3 1 8:1 /var/lib/docker/containers/{ID}/mounts/shm /var/lib/docker/containers/{ID}/mounts/shm rw - tmpfs shm rw\n"
        );
        assert!(container_id_candidates(&mountinfo, "0::/init.scope\n", "myhost").is_empty());
    }

    #[test]
    fn cgroups_and_the_hostname_are_fallbacks() {
        let cgroup_v1 = format!("12:memory:/docker/{ID}\n");
        assert_eq!(container_id_candidates("", &cgroup_v1, ""), [ID]);
        let cgroup_v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(container_id_candidates("", &cgroup_v2, ""), [ID]);
        let podman = format!("0::/machine.slice/libpod-{ID}.scope\n");
        assert_eq!(container_id_candidates("", &podman, ""), [ID]);
        assert_eq!(
            container_id_candidates("", "0::/\n", "3f1c0ad0e0a1\n"),
            ["3f1c0ad0e0a1"]
        );
        assert!(container_id_candidates("", "", "build-host-7").is_empty());
    }

    #[test]
    fn a_job_meets_services_on_its_own_network() {
        let nets = vec!["zeta".to_owned(), "bridge".to_owned()];
        assert_eq!(meeting_network(Some("host"), &[]), None);
        assert_eq!(
            meeting_network(Some("zeta"), &nets),
            Some("zeta".to_owned())
        );
        assert_eq!(
            meeting_network(Some("default"), &nets),
            Some("bridge".to_owned())
        );
        assert_eq!(meeting_network(Some("none"), &[]), None);
    }

    #[test]
    fn ports_bind_to_loopback_unless_the_daemon_is_reached_elsewhere() {
        let unix = Endpoint::Unix {
            path: "/var/run/docker.sock".into(),
        };
        assert_eq!(bind_address(None, &unix, None).to_string(), "127.0.0.1");
        let tcp = |addr: &str| Endpoint::Tcp {
            addr: addr.into(),
            tls: None,
        };
        assert_eq!(
            bind_address(
                None,
                &tcp("10.1.2.3:2375"),
                tcp_host(&tcp("10.1.2.3:2375")).and_then(|h| h.parse().ok())
            )
            .to_string(),
            "10.1.2.3"
        );
        assert_eq!(
            bind_address(
                None,
                &tcp("[::1]:2375"),
                tcp_host(&tcp("[::1]:2375")).and_then(|h| h.parse().ok())
            )
            .to_string(),
            "::1"
        );
        assert_eq!(
            bind_address(
                None,
                &tcp("0.0.0.0:2375"),
                tcp_host(&tcp("0.0.0.0:2375")).and_then(|h| h.parse().ok())
            )
            .to_string(),
            "127.0.0.1"
        );
        assert_eq!(
            bind_address(Some("0.0.0.0"), &unix, None).to_string(),
            "0.0.0.0",
            "TESTDOCK_BIND is the explicit opt-in"
        );
    }
}
