//! `ps` and `prune`: what testdock has on the daemon, and removing what nobody owns.
//!
//! Every resource carries its owner (`testdock.owner=<pid>-<start time>`) and its host's
//! boot id, so testdock can tell a resource of a live test run (on this host: the owner
//! process still runs, with the same start time) from a stale one left by a run that
//! died before its reaper could act. Resources owned on another host are never judged
//! stale.
//!
//! ```no_run
//! # async fn demo() -> testdock::Result<()> {
//! for r in testdock::prune::ps().await? {
//!     println!("{:?} {} test={} alive={:?}", r.kind, r.name, r.test, r.alive);
//! }
//! let removed = testdock::prune::prune(false).await?; // stale ones only
//! # let _ = removed; Ok(()) }
//! ```

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveVolumeOptions,
};
use bollard::Docker;

use crate::cleanup::{remove_container, Target};
use crate::error::{status_of, Error, Result};
use crate::labels;

/// What kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A container.
    Container,
    /// A network.
    Network,
    /// A volume.
    Volume,
}

/// One resource testdock created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// What it is.
    pub kind: ResourceKind,
    /// Its name.
    pub name: String,
    /// The test that created it.
    pub test: String,
    /// The session it belongs to.
    pub session: String,
    /// Its owner, `<pid>-<start time>`.
    pub owner: String,
    /// Whether the owner still runs: `Some` on this host, `None` for another host's.
    pub alive: Option<bool>,
    /// Creation time, seconds since the epoch (0 if unknown).
    pub created: i64,
    /// For containers: the state (`running`, `exited`, ...).
    pub state: String,
    /// For containers: published ports as `host:port->port/proto`.
    pub ports: Vec<String>,
}

impl Resource {
    fn from_labels(kind: ResourceKind, name: String, labels: &HashMap<String, String>) -> Self {
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let owner = get(labels::OWNER);
        let local = labels.get(labels::HOST).map(String::as_str) == Some(labels::host_id());
        let alive = local.then(|| {
            crate::procfs::parse_owner(&owner)
                .is_some_and(|(pid, start)| crate::procfs::is_alive(pid, start))
        });
        Resource {
            kind,
            name,
            test: get(labels::TEST),
            session: get(labels::SESSION),
            owner,
            alive,
            created: 0,
            state: String::new(),
            ports: Vec::new(),
        }
    }

    /// Whether the resource's owner is known to be gone.
    pub fn is_stale(&self) -> bool {
        self.alive == Some(false)
    }
}

fn docker_error(what: &str, source: bollard::errors::Error) -> Error {
    Error::Docker {
        step: crate::Step::Inspect,
        container: what.to_owned(),
        image: String::new(),
        elapsed: Duration::ZERO,
        logs: None,
        source: Box::new(source),
    }
}

/// Lists the resources labelled with `filter` (a `key=value` label filter).
async fn list(docker: &Docker, filter: &str) -> Result<Vec<Resource>> {
    let filters = HashMap::from([("label".to_owned(), vec![filter.to_owned()])]);
    let mut out = Vec::new();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| docker_error("(listing containers)", e))?;
    for c in containers {
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default();
        let mut r =
            Resource::from_labels(ResourceKind::Container, name, &c.labels.unwrap_or_default());
        r.created = c.created.unwrap_or(0);
        r.state = c.state.map(|s| s.to_string()).unwrap_or_default();
        r.ports = c
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let public = p.public_port?;
                let proto = p.typ.map(|t| t.to_string()).unwrap_or_default();
                Some(format!(
                    "{}:{public}->{}/{proto}",
                    p.ip.unwrap_or_default(),
                    p.private_port
                ))
            })
            .collect();
        out.push(r);
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| docker_error("(listing networks)", e))?;
    for n in networks {
        out.push(Resource::from_labels(
            ResourceKind::Network,
            n.name.unwrap_or_default(),
            &n.labels.unwrap_or_default(),
        ));
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| docker_error("(listing volumes)", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        out.push(Resource::from_labels(
            ResourceKind::Volume,
            v.name,
            &v.labels,
        ));
    }
    Ok(out)
}

/// Every resource testdock created on the daemon, with its owner and whether it lives.
pub async fn ps() -> Result<Vec<Resource>> {
    let daemon = crate::docker::daemon().await?;
    let filter = format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE);
    list(daemon.client(), &filter).await
}

/// Removes stale resources (owner gone, on this host), or all of testdock's with
/// `all`. Returns what was removed.
pub async fn prune(all: bool) -> Result<Vec<Resource>> {
    let daemon = crate::docker::daemon().await?;
    let filter = format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE);
    let chosen: Vec<Resource> = list(daemon.client(), &filter)
        .await?
        .into_iter()
        .filter(|r| all || r.is_stale())
        .collect();
    remove(daemon.client(), &chosen).await?;
    Ok(chosen)
}

/// Lists what `filter` selects.
pub(crate) async fn list_labelled(docker: &Docker, filter: &str) -> Result<Vec<Resource>> {
    list(docker, filter).await
}

/// Removes what `filter` selects: containers first, then networks and volumes.
pub(crate) async fn remove_labelled(docker: &Docker, filter: &str) -> Result<Vec<Resource>> {
    remove_labelled_except(docker, filter, &Default::default()).await
}

/// Like [`remove_labelled`], sparing the containers named in `spared` (and any volume
/// or network still in use by them, which the daemon refuses to remove anyway).
pub(crate) async fn remove_labelled_except(
    docker: &Docker,
    filter: &str,
    spared: &std::collections::HashSet<String>,
) -> Result<Vec<Resource>> {
    let found: Vec<Resource> = list(docker, filter)
        .await?
        .into_iter()
        .filter(|r| !(r.kind == ResourceKind::Container && spared.contains(&r.name)))
        .collect();
    remove(docker, &found).await?;
    Ok(found)
}

async fn remove(docker: &Docker, resources: &[Resource]) -> Result<()> {
    let containers = resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Container)
        .map(|r| async move {
            let target = Target {
                name: r.name.clone(),
                volumes: Vec::new(),
                created: None,
            };
            remove_container(docker, &target)
                .await
                .map_err(|e| docker_error(&r.name, e))
        });
    futures::future::try_join_all(containers).await?;
    for r in resources {
        let result = match r.kind {
            ResourceKind::Container => continue,
            ResourceKind::Network => docker.remove_network(&r.name).await,
            ResourceKind::Volume => {
                docker
                    .remove_volume(&r.name, None::<RemoveVolumeOptions>)
                    .await
            }
        };
        match result {
            Ok(()) => {}
            // Gone already, or still in use by something that is not ours to remove
            // (403: a network with endpoints; 409: a volume in use).
            Err(e) if matches!(status_of(&e), Some(403 | 404 | 409)) => {}
            Err(e) => return Err(docker_error(&r.name, e)),
        }
    }
    Ok(())
}

/// Removes stale resources in the background, once per process, bounded in time. Run
/// at first use, so a run that was killed before its reaper acted leaves nothing for
/// long; live sessions of parallel runs are untouched.
pub(crate) fn sweep_stale_once() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let sweep = async {
            match tokio::time::timeout(Duration::from_secs(20), prune(false)).await {
                Ok(Ok(removed)) if !removed.is_empty() => eprintln!(
                    "testdock: removed {} stale resource(s) of runs that died: {}",
                    removed.len(),
                    removed
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Ok(Err(e)) => eprintln!("testdock: the stale sweep failed: {e}"),
                _ => {}
            }
        };
        let _ = crate::cleanup::spawn_detached(sweep);
    });
}
