//! One pause container: made, checked alive, proven clean, removed or kept.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, ListContainersOptionsBuilder};
use bollard::Docker;

use crate::cleanup::{remove_container, Target};
use crate::error::{Error, Result, Step};
use crate::image::{HostImage, ImageSource};
use crate::labels;

/// The `testdock.test` label of pauses: they belong to the process, not to a test.
pub(crate) const POOL_TEST_ID: &str = "testdock::pool";

/// The binary a pause runs, as `sleep infinity`.
const SLEEP: &str = "/bin/sleep";

/// A running pause container whose network namespace test containers join.
#[derive(Debug, Clone)]
pub(crate) struct Pause {
    /// Its name (what `NetworkMode=container:<name>` and the `testdock.pod` label use).
    pub(crate) name: String,
    /// Its IP on the default bridge: where its pod's ports are reached.
    pub(crate) ip: String,
}

impl Pause {
    /// Makes a pause (image from the host's `sleep`, owner labels), started.
    pub(crate) async fn create(docker: &Docker) -> Result<Pause> {
        crate::cleanup::before_first_resource().await;
        let image = ImageSource::from(HostImage::new().binary(SLEEP));
        let image = crate::image::ensure(docker, &image).await?;
        let name = format!("testdock-pause-{}", labels::random_hex(10));
        let mut all_labels = labels::standard(POOL_TEST_ID);
        all_labels.insert(labels::ROLE.to_owned(), "pause".to_owned());
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            cmd: Some(vec![SLEEP.to_owned(), "infinity".to_owned()]),
            labels: Some(all_labels),
            host_config: Some(HostConfig {
                privileged: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let fail = |step: Step, source: bollard::errors::Error| Error::Docker {
            step,
            container: name.clone(),
            image: image.clone(),
            elapsed: std::time::Duration::ZERO,
            logs: None,
            source: Box::new(source),
        };
        let made = async {
            docker
                .create_container(Some(options), body)
                .await
                .map_err(|e| fail(Step::Create, e))?;
            docker
                .start_container(&name, None)
                .await
                .map_err(|e| fail(Step::Start, e))?;
            let info = crate::docker::compat::inspect_container(docker, &name)
                .await
                .map_err(|e| fail(Step::Inspect, e))?;
            Ok(info
                .network_settings
                .and_then(|n| default_network_ip(n.networks?))
                .unwrap_or_default())
        };
        match made.await {
            Ok(ip) if !ip.is_empty() => Ok(Pause { name, ip }),
            outcome => {
                let pause = Pause {
                    name: name.clone(),
                    ip: String::new(),
                };
                pause.discard(docker).await;
                Err(outcome.err().unwrap_or_else(|| Error::InvalidInput {
                    container: name.clone(),
                    message: "the pause container got no IP on the default bridge".into(),
                }))
            }
        }
    }

    /// Whether it still runs (a pause killed by hand does not).
    pub(crate) async fn running(&self, docker: &Docker) -> bool {
        crate::docker::compat::inspect_container(docker, &self.name)
            .await
            .ok()
            .and_then(|i| i.state?.running)
            .unwrap_or(false)
    }

    /// Proves the namespace clean: no container joined to it is left, the pause runs,
    /// and no TCP socket listens and no UDP socket is bound in it (read from the host's
    /// `/proc/<pause pid>/net/`). TIME_WAIT sockets of a previous server may stay.
    pub(crate) async fn clean(&self, docker: &Docker) -> std::result::Result<(), String> {
        let filter = HashMap::from([(
            "label".to_owned(),
            vec![format!("{}={}", labels::POD, self.name)],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filter)
            .build();
        let joined = crate::docker::compat::list_containers(docker, options)
            .await
            .map_err(|e| format!("list its containers: {e}"))?;
        if !joined.is_empty() {
            return Err(format!("{} container(s) still joined", joined.len()));
        }
        let state = crate::docker::compat::inspect_container(docker, &self.name)
            .await
            .map_err(|e| format!("inspect: {e}"))?
            .state
            .unwrap_or_default();
        let pid = match (state.running, state.pid) {
            (Some(true), Some(pid)) if pid > 0 => pid,
            _ => return Err("not running".into()),
        };
        for table in ["tcp", "tcp6", "udp", "udp6"] {
            let path = format!("/proc/{pid}/net/{table}");
            let text = tokio::fs::read_to_string(&path)
                .await
                .map_err(|e| format!("read {path}: {e}"))?;
            if let Some(line) = listening(&text, table.starts_with("tcp")) {
                return Err(format!("{path}: still in use: {line}"));
            }
        }
        Ok(())
    }

    /// Removes it (kill, remove).
    pub(crate) async fn discard(&self, docker: &Docker) {
        let target = Target {
            name: self.name.clone(),
            volumes: Vec::new(),
            created: None,
        };
        if let Err(e) = remove_container(docker, &target).await {
            tracing::warn!(pause = %self.name, error = %e, "removing a pause failed: left to the reaper");
        }
    }

    /// Renames it like a kept container (no reaper or sweep removes it); its new name.
    pub(crate) async fn keep(&self, docker: &Docker) -> Option<String> {
        let new_name = labels::kept_name(&self.name);
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::default()
            .name(&new_name)
            .build();
        docker.rename_container(&self.name, options).await.ok()?;
        Some(new_name)
    }
}

/// The first socket line of a `/proc/net/{tcp,udp}*` table that shows the namespace in
/// use: a listening TCP socket (state `0A`), or any UDP socket.
pub(crate) fn listening(table: &str, tcp: bool) -> Option<&str> {
    table.lines().skip(1).find(|line| {
        let state = line.split_whitespace().nth(3);
        !tcp || state == Some("0A")
    })
}

/// The IP of a container started without a network, on the engine's default network:
/// Docker's `bridge`, or the only network it joined (Podman's is `podman`).
fn default_network_ip(
    mut networks: std::collections::HashMap<String, bollard::models::EndpointSettings>,
) -> Option<String> {
    let settings = match networks.remove("bridge") {
        Some(settings) => settings,
        None if networks.len() == 1 => networks.into_values().next()?,
        None => return None,
    };
    settings.ip_address.filter(|ip| !ip.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{default_network_ip, listening};

    #[test]
    fn the_default_network_is_dockers_bridge_or_podmans_only_one() {
        let on = |names: &[&str]| {
            let settings = |ip: &str| bollard::models::EndpointSettings {
                ip_address: Some(ip.to_owned()),
                ..Default::default()
            };
            let networks = names.iter().map(|n| ((*n).to_owned(), settings(n)));
            default_network_ip(networks.collect())
        };
        assert_eq!(on(&["bridge", "other"]).as_deref(), Some("bridge"));
        assert_eq!(on(&["podman"]).as_deref(), Some("podman"));
        assert_eq!(on(&["a", "b"]), None);
    }

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1605 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:9C40 06 00000000:00000000 03:00000F2B 00000000     0        0 0 3 0";

    #[test]
    fn a_listening_tcp_socket_is_in_use() {
        assert!(listening(TCP, true).is_some_and(|l| l.contains(" 0A ")));
    }

    #[test]
    fn time_wait_alone_is_clean() {
        let time_wait: String = TCP
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert_eq!(listening(&time_wait, true), None);
    }

    #[test]
    fn any_udp_socket_is_in_use_and_an_empty_table_is_clean() {
        let header = TCP.lines().next().unwrap_or_default();
        assert_eq!(listening(header, false), None);
        assert!(listening(TCP, false).is_some());
    }
}
