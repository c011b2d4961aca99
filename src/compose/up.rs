//! Bringing a stack up with testdock's own lifecycle: the stack's networks and volumes,
//! then every service through [`ContainerSpec::start`], each as soon as what it depends
//! on is ready, all concurrently.
//!
//! A service that fails ends the whole `up` at once (the other starts are dropped,
//! which removes what they created); what already started is dropped with the partial
//! stack, so nothing is left behind.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use futures::future::try_join_all;
use tokio::sync::watch;

use super::graph;
use super::model::{Condition, ResourcePlan, ServicePlan};
use super::Stack;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::network::{Network, NetworkSpec};
use crate::probe::Probe;
use crate::volume::{Volume, VolumeSpec};

/// Label naming the compose project on each container, network and volume of a stack.
pub(crate) const PROJECT_LABEL: &str = "io.testdock.compose.project";
/// Label naming the compose service on each container of a stack.
pub(crate) const SERVICE_LABEL: &str = "io.testdock.compose.service";

/// What `up` needs: the active services and the declared resources.
pub(crate) struct Up<'a> {
    pub(crate) project: String,
    pub(crate) test_id: String,
    pub(crate) services: Vec<ServicePlan>,
    pub(crate) volumes: &'a BTreeMap<String, ResourcePlan>,
    pub(crate) networks: &'a BTreeMap<String, ResourcePlan>,
}

impl Up<'_> {
    pub(crate) async fn run(self) -> Result<Stack> {
        let (networks, volumes) = futures::try_join!(self.networks(), self.volumes())?;
        let mut stack = Stack {
            project: self.project.clone(),
            containers: Vec::new(),
            volumes,
            networks,
        };
        let started: Mutex<Vec<(String, Container)>> = Mutex::new(Vec::new());
        let conditions = graph::conditions(&self.services);
        let mut ready = HashMap::new();
        let mut senders = Vec::new();
        for service in &self.services {
            let (tx, rx) = watch::channel(false);
            ready.insert(service.name.clone(), rx);
            senders.push(tx);
        }
        let this = &self;
        let starts = self.services.iter().zip(senders).map(|(service, tx)| {
            let condition = conditions.get(&service.name).copied();
            let (stack, ready, started) = (&stack, &ready, &started);
            async move {
                for dep in &service.depends_on {
                    wait_ready(ready[&dep.service].clone()).await;
                }
                let container = this.start(stack, service, condition).await.map_err(|e| {
                    Error::ComposeService {
                        project: this.project.clone(),
                        service: service.name.clone(),
                        source: Box::new(e),
                    }
                })?;
                lock(started).push((service.name.clone(), container));
                let _ = tx.send(true);
                Ok::<_, Error>(())
            }
        });
        // On the first error the other starts are dropped (each removes what it made)
        // and `stack` with what already started.
        let outcome = try_join_all(starts).await;
        let mut containers = std::mem::take(&mut *lock(&started));
        let order: HashMap<&str, usize> = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        containers.sort_by_key(|(name, _)| order[name.as_str()]);
        stack.containers = containers;
        outcome?;
        Ok(stack)
    }

    async fn start(
        &self,
        stack: &Stack,
        service: &ServicePlan,
        condition: Option<Condition>,
    ) -> Result<Container> {
        let mut spec = service
            .spec
            .clone()
            .test_id(self.test_id.clone())
            .name_prefix(format!("{}-{}", self.project, service.name))
            .label(PROJECT_LABEL, self.project.clone())
            .label(SERVICE_LABEL, service.name.clone())
            .network(stack.networks[&service.networks[0].0].name())
            .alias(service.name.clone());
        for alias in &service.networks[0].1 {
            spec = spec.alias(alias.clone());
        }
        for (network, aliases) in &service.networks[1..] {
            let aliases = std::iter::once(&service.name).chain(aliases).cloned();
            spec = spec.join_network(stack.networks[network].name(), aliases);
        }
        for mount in &service.named_mounts {
            let volume = stack.volumes[&mount.volume].name().to_owned();
            spec = if mount.read_only {
                spec.volume_read_only(volume, mount.target.clone())
            } else {
                spec.volume(volume, mount.target.clone())
            };
        }
        let mut probes: Vec<Probe> = service.probe.iter().cloned().collect();
        match condition {
            Some(Condition::Completed) => probes.push(Probe::exit(0)),
            Some(Condition::Healthy) => probes.push(Probe::healthy()),
            // Like `docker compose up --wait`: a service with a healthcheck is ready
            // when healthy.
            _ if service.healthcheck => probes.push(Probe::healthy()),
            _ => {}
        }
        spec = match probes.len() {
            0 => spec,
            1 => spec.wait_for(probes.remove(0)),
            _ => spec.wait_for(Probe::all(probes)),
        };
        spec.start().await
    }

    async fn networks(&self) -> Result<HashMap<String, Network>> {
        let joined = self.services.iter().flat_map(|s| &s.networks);
        let used = dedup(joined.map(|(name, _)| name.as_str()));
        let creates = used.into_iter().map(|name| async move {
            let plan = self.networks.get(name).cloned().unwrap_or_default();
            let spec = NetworkSpec::new()
                .test_id(self.test_id.clone())
                .label(PROJECT_LABEL, self.project.clone());
            let spec = configure(spec, &plan, NetworkSpec::driver, NetworkSpec::option);
            let spec = if plan.internal { spec.internal() } else { spec };
            Ok::<_, Error>((name.to_owned(), spec.create().await?))
        });
        Ok(try_join_all(creates).await?.into_iter().collect())
    }

    async fn volumes(&self) -> Result<HashMap<String, Volume>> {
        let mounts = self.services.iter().flat_map(|s| &s.named_mounts);
        let used = dedup(mounts.map(|m| m.volume.as_str()));
        let creates = used.into_iter().map(|name| async move {
            let plan = self.volumes.get(name).cloned().unwrap_or_default();
            let spec = VolumeSpec::new()
                .test_id(self.test_id.clone())
                .label(PROJECT_LABEL, self.project.clone());
            let spec = configure(spec, &plan, VolumeSpec::driver, VolumeSpec::option);
            Ok::<_, Error>((name.to_owned(), spec.create().await?))
        });
        Ok(try_join_all(creates).await?.into_iter().collect())
    }
}

fn dedup<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Applies a top-level entry's `driver` and `driver_opts` to a network or volume spec.
fn configure<S>(
    spec: S,
    plan: &ResourcePlan,
    driver: fn(S, String) -> S,
    option: fn(S, String, String) -> S,
) -> S {
    let spec = match &plan.driver {
        Some(d) => driver(spec, d.clone()),
        None => spec,
    };
    plan.options
        .iter()
        .fold(spec, |spec, (k, v)| option(spec, k.clone(), v.clone()))
}

/// Waits until the service behind `rx` is ready. If it never will be (its start failed
/// or was dropped), waits forever: its own error ends the whole `up`.
async fn wait_ready(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|ready| *ready).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
