//! How this process reaches a container's ports: published ports on the daemon's host,
//! or, from a job container of the same daemon, the container's own IP on a network
//! both share (nothing is published wider than loopback for that).

use bollard::models::{ContainerInspectResponse, NetworkConnectRequest};
use bollard::Docker;

use crate::docker::Daemon;
use crate::ports::{parse_key, port_map, PortMap};

/// Connects container `id` (created, not started) to the network this process meets
/// services on, if it runs in a job container and the container is not on it yet.
/// Containers with their own network stack (`host`, `none`, `container:…`) are left.
pub(crate) async fn join_meeting_network(
    docker: &Docker,
    daemon: &Daemon,
    id: &str,
    network_mode: Option<&str>,
) -> Result<(), bollard::errors::Error> {
    let Some(net) = daemon.meeting_network() else {
        return Ok(());
    };
    let already_on = match network_mode {
        None | Some("" | "default") => net == "bridge",
        Some("host" | "none") => return Ok(()),
        Some(mode) if mode.starts_with("container:") => return Ok(()),
        Some(mode) => mode == net,
    };
    if already_on {
        return Ok(());
    }
    let request = NetworkConnectRequest {
        container: id.to_owned(),
        ..Default::default()
    };
    docker.connect_network(net, request).await
}

/// The host and port map for a started container described by `info`.
pub(crate) fn address(daemon: &Daemon, info: &ContainerInspectResponse) -> (String, PortMap) {
    let settings = info.network_settings.as_ref();
    let published = port_map(settings.and_then(|n| n.ports.clone()).unwrap_or_default());
    let ip = daemon.meeting_network().and_then(|net| {
        let endpoint = settings?.networks.as_ref()?.get(net)?;
        endpoint.ip_address.clone().filter(|ip| !ip.is_empty())
    });
    match ip {
        Some(ip) => {
            let exposed = info
                .config
                .as_ref()
                .and_then(|c| c.exposed_ports.clone())
                .unwrap_or_default();
            (
                ip,
                same_ports(exposed.iter().map(String::as_str), &published),
            )
        }
        None => (daemon.host().to_owned(), published),
    }
}

/// Each exposed port (`"80/tcp"`) and published one, mapped to itself: on the
/// container's own IP, port 80 is port 80.
fn same_ports<'a>(exposed: impl Iterator<Item = &'a str>, published: &PortMap) -> PortMap {
    let mut map: PortMap = published.keys().map(|&(n, p)| ((n, p), n)).collect();
    for key in exposed {
        if let Some((number, protocol)) = parse_key(key) {
            map.insert((number, protocol), number);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Protocol;

    #[test]
    fn on_the_containers_own_ip_every_exposed_port_is_itself() {
        let published = PortMap::from([((6379, Protocol::Tcp), 32768)]);
        let map = same_ports(["8080/tcp", "53/udp", "x/sctp"].into_iter(), &published);
        assert_eq!(map.get(&(6379, Protocol::Tcp)), Some(&6379));
        assert_eq!(map.get(&(8080, Protocol::Tcp)), Some(&8080));
        assert_eq!(map.get(&(53, Protocol::Udp)), Some(&53));
        assert_eq!(map.len(), 3);
    }
}
