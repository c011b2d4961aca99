//! Ports: what a spec publishes ([`Port`], [`Protocol`]) and where the daemon put them
//! ([`PortMap`]). Below the spec, the container and the readiness probes, which all
//! need them.

use std::collections::HashMap;
use std::net::IpAddr;

/// Container port (number, protocol) -> the port it is reached at (a host port, or the
/// same number on the container's own IP).
pub(crate) type PortMap = HashMap<(u16, Protocol), u16>;

/// A transport protocol of an exposed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A container port published on the host.
///
/// By default it binds to `127.0.0.1` on a port the daemon chooses, so parallel tests
/// never collide and nothing is reachable from other machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Port {
    pub(crate) number: u16,
    pub(crate) protocol: Protocol,
    /// `None`: the daemon's default bind address ([`crate::Daemon::bind_address`]).
    pub(crate) host_ip: Option<IpAddr>,
    pub(crate) host_port: Option<u16>,
}

impl Port {
    /// A TCP port.
    pub fn tcp(number: u16) -> Self {
        Port {
            number,
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: None,
        }
    }

    /// A UDP port.
    pub fn udp(number: u16) -> Self {
        Port {
            protocol: Protocol::Udp,
            ..Port::tcp(number)
        }
    }

    /// Binds to this host address instead of the default (`127.0.0.1`, or the address a
    /// TCP daemon is reached at; `TESTDOCK_BIND` changes it for all ports). `0.0.0.0`
    /// reaches the port from other machines: think twice.
    pub fn host_ip(mut self, ip: IpAddr) -> Self {
        self.host_ip = Some(ip);
        self
    }

    /// Binds to this fixed host port instead of one the daemon chooses. Fixed ports make
    /// parallel tests collide; prefer the default.
    pub fn host_port(mut self, port: u16) -> Self {
        self.host_port = Some(port);
        self
    }

    pub(crate) fn key(&self) -> String {
        format!("{}/{}", self.number, self.protocol.as_str())
    }
}

/// `"80/tcp"` (or `"80"`) -> (80, TCP).
pub(crate) fn parse_key(key: &str) -> Option<(u16, Protocol)> {
    let (number, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    Some((number.parse().ok()?, protocol))
}

/// Picks each port's IPv4 mapping out of the daemon's port map.
pub(crate) fn port_map(
    ports: HashMap<String, Option<Vec<bollard::models::PortBinding>>>,
) -> PortMap {
    let mut map = PortMap::new();
    for (key, bindings) in ports {
        let Some((number, protocol)) = parse_key(&key) else {
            continue;
        };
        let host_port = bindings.unwrap_or_default().into_iter().find_map(|b| {
            let ip = b.host_ip.unwrap_or_default();
            let is_v4 = ip.is_empty() || ip.parse::<std::net::Ipv4Addr>().is_ok();
            is_v4.then(|| b.host_port?.parse::<u16>().ok()).flatten()
        });
        if let Some(host_port) = host_port {
            map.insert((number, protocol), host_port);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortBinding;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        }
    }

    #[test]
    fn port_map_prefers_the_ipv4_binding() {
        let ports = HashMap::from([
            (
                "80/tcp".to_owned(),
                Some(vec![binding("::", "4000"), binding("127.0.0.1", "4001")]),
            ),
            ("53/udp".to_owned(), Some(vec![binding("0.0.0.0", "4002")])),
            ("9/tcp".to_owned(), None),
        ]);
        let map = port_map(ports);
        assert_eq!(map.get(&(80, Protocol::Tcp)), Some(&4001));
        assert_eq!(map.get(&(53, Protocol::Udp)), Some(&4002));
        assert_eq!(map.get(&(9, Protocol::Tcp)), None);
    }
}
