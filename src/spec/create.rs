//! Turning a [`ContainerSpec`] into the daemon's create request.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, MountVolumeOptions,
    NetworkingConfig, PortBinding,
};

use super::{ContainerSpec, Healthcheck, Holder, MountSpec};
use crate::labels;
use crate::ports::Port;

impl ContainerSpec {
    /// The create request for this spec, for container `name` of image `image`.
    pub(crate) fn create_body(
        &self,
        name: &str,
        image: &str,
        test_id: &str,
        bind: std::net::IpAddr,
    ) -> ContainerCreateBody {
        let mut all_labels = labels::with_standard(&self.labels, test_id);
        self.relabel_shared(&mut all_labels);

        let exposed: Vec<String> = self.ports.iter().map(Port::key).collect();
        let bindings: HashMap<String, Option<Vec<PortBinding>>> = self
            .ports
            .iter()
            .map(|p| {
                let binding = PortBinding {
                    host_ip: Some(p.host_ip.unwrap_or(bind).to_string()),
                    host_port: Some(p.host_port.map(|n| n.to_string()).unwrap_or_default()),
                };
                (p.key(), Some(vec![binding]))
            })
            .collect();

        let volume_labels = self.volume_labels(name, test_id);
        let mounts: Vec<Mount> = self
            .mounts
            .iter()
            .map(|m| match m {
                MountSpec::Bind {
                    host,
                    target,
                    read_only,
                } => Mount {
                    typ: Some(MountType::BIND),
                    source: Some(host.to_string_lossy().into_owned()),
                    target: Some(target.clone()),
                    read_only: Some(*read_only),
                    ..Default::default()
                },
                MountSpec::Volume {
                    name,
                    target,
                    read_only,
                } => Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(name.clone()),
                    target: Some(target.clone()),
                    read_only: Some(*read_only),
                    volume_options: Some(MountVolumeOptions {
                        labels: Some(volume_labels.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                MountSpec::Anonymous { target } => Mount {
                    typ: Some(MountType::VOLUME),
                    target: Some(target.clone()),
                    volume_options: Some(MountVolumeOptions {
                        labels: Some(volume_labels.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                MountSpec::Tmpfs { target, size_bytes } => Mount {
                    typ: Some(MountType::TMPFS),
                    target: Some(target.clone()),
                    tmpfs_options: size_bytes.map(|size| bollard::models::MountTmpfsOptions {
                        size_bytes: Some(size),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            })
            .collect();

        let host_config = HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            memory: self.memory_bytes,
            nano_cpus: self.nano_cpus,
            network_mode: self.network.clone(),
            readonly_rootfs: self.read_only_rootfs.then_some(true),
            privileged: Some(false),
            ..Default::default()
        };
        let networking_config = self.network.as_ref().map(|net| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    aliases: (!self.aliases.is_empty()).then(|| self.aliases.clone()),
                    ..Default::default()
                },
            )])),
        });

        ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: self.cmd.clone(),
            entrypoint: self.entrypoint.clone(),
            env: (!self.env.is_empty())
                .then(|| self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(all_labels),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            user: self.user.clone(),
            working_dir: self.workdir.clone(),
            hostname: self.hostname.clone(),
            stop_signal: self.stop_signal.clone(),
            healthcheck: self.healthcheck.as_ref().map(Healthcheck::to_config),
            host_config: Some(host_config),
            networking_config,
            ..Default::default()
        }
    }

    /// Turns `body` into the create request of a container joining the network
    /// namespace of pause container `pause`: nothing published or exposed (the daemon
    /// refuses both there), no hostname of its own, labelled with the pause.
    pub(crate) fn join_pod(body: &mut ContainerCreateBody, pause: &str) {
        let host_config = body.host_config.get_or_insert_with(Default::default);
        host_config.network_mode = Some(format!("container:{pause}"));
        host_config.port_bindings = None;
        body.exposed_ports = None;
        body.hostname = None;
        body.networking_config = None;
        body.labels
            .get_or_insert_with(Default::default)
            .insert(labels::POD.to_owned(), pause.to_owned());
    }

    /// A shared fixture's container (and the volumes it makes) names the fixture and
    /// its holder instead of this process: the owner that removes it, or, for a
    /// container reused across runs, no owner at all (and the spec hash).
    fn relabel_shared(&self, all_labels: &mut HashMap<String, String>) {
        let Some(sharing) = &self.sharing else {
            return;
        };
        all_labels.insert(labels::SHARED.to_owned(), sharing.key.clone());
        match &sharing.holder {
            Holder::Owner(owner) => {
                all_labels.insert(labels::OWNER.to_owned(), owner.clone());
            }
            Holder::Reuse(hash) => {
                all_labels.remove(labels::OWNER);
                all_labels.remove(labels::PID);
                all_labels.insert(labels::REUSE.to_owned(), hash.clone());
            }
        }
    }

    /// The labels of the volumes container `name` makes (named ones created for it, and
    /// anonymous ones).
    pub(crate) fn volume_labels(&self, name: &str, test_id: &str) -> HashMap<String, String> {
        let mut volume_labels = labels::standard(test_id);
        volume_labels.insert(labels::CONTAINER.to_owned(), name.to_owned());
        self.relabel_shared(&mut volume_labels);
        volume_labels
    }

    /// The volume names this spec may cause the daemon to create.
    pub(crate) fn named_volumes(&self) -> Vec<String> {
        self.mounts
            .iter()
            .filter_map(|m| match m {
                MountSpec::Volume { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    }
}
