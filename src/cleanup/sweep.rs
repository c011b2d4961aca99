//! Listing and removing testdock's resources by label: the primitives under teardown of
//! a test, the reapers, the stale sweep and `prune`.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveVolumeOptions,
};
use bollard::Docker;

use super::ownership::{judge, Ownership};
use super::{remove_container, Target};
use crate::error::{status_of, Error, Result};
use crate::labels;
use crate::procfs::LocalFacts;

pub use crate::resource_kind::ResourceKind;

/// One resource testdock created.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resource {
    /// What it is.
    pub kind: ResourceKind,
    /// Its id on the daemon (for a volume, its name).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The test that created it.
    pub test: String,
    /// The session it belongs to.
    pub session: String,
    /// Its owner, `<pid>-<start time>`.
    pub owner: String,
    /// Whether its owner is provably alive, provably dead, or neither (see [`Ownership`]).
    pub ownership: Ownership,
    /// Creation time, seconds since the epoch (0 if unknown).
    pub created: i64,
    /// For containers: the state (`running`, `exited`, ...).
    pub state: String,
    /// For containers: published ports as `host:port->port/proto`.
    pub ports: Vec<String>,
    /// testdock's own helper (`reaper`), or empty for a test's resource.
    pub role: String,
}

impl Resource {
    fn from_labels(
        kind: ResourceKind,
        id: String,
        name: String,
        resource_labels: &HashMap<String, String>,
        created: i64,
    ) -> Self {
        let get = |k: &str| resource_labels.get(k).cloned().unwrap_or_default();
        let created = get(labels::CREATED).parse().unwrap_or(created);
        Resource {
            kind,
            id,
            ownership: judge(
                &name,
                resource_labels,
                created,
                labels::now_secs(),
                LocalFacts::system(),
            ),
            name,
            test: get(labels::TEST),
            session: get(labels::SESSION),
            owner: get(labels::OWNER),
            created,
            state: String::new(),
            ports: Vec::new(),
            role: get(labels::ROLE),
        }
    }

    /// Whether the resource's owner is proven dead (see [`Ownership::Dead`]).
    pub fn is_stale(&self) -> bool {
        self.ownership == Ownership::Dead
    }
}

/// The error of listing `what` (`containers`, ...) labelled with all of `filters`.
fn list_error(what: &str, filters: &[String], source: bollard::errors::Error) -> Error {
    Error::Cleanup {
        action: "list",
        resource: format!("{what} labelled {}", filters.join(", ")),
        source: Box::new(source),
    }
}

/// The error of removing resource `r`.
fn remove_error(r: &Resource, source: bollard::errors::Error) -> Error {
    Error::Cleanup {
        action: "remove",
        resource: format!("{} `{}`", r.kind, r.name),
        source: Box::new(source),
    }
}

/// Lists the resources labelled with every one of `label_filters` (`key=value`).
pub(crate) async fn list(docker: &Docker, label_filters: &[String]) -> Result<Vec<Resource>> {
    let filters = HashMap::from([("label".to_owned(), label_filters.to_vec())]);
    let mut out = Vec::new();
    let containers = crate::docker::compat::list_containers(
        docker,
        ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build(),
    )
    .await
    .map_err(|e| list_error("containers", label_filters, e))?;
    for c in containers {
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default();
        let mut r = Resource::from_labels(
            ResourceKind::Container,
            c.id.unwrap_or_default(),
            name,
            &c.labels.unwrap_or_default(),
            c.created.unwrap_or(0),
        );
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
        .map_err(|e| list_error("networks", label_filters, e))?;
    for n in networks {
        out.push(Resource::from_labels(
            ResourceKind::Network,
            n.id.unwrap_or_default(),
            n.name.unwrap_or_default(),
            &n.labels.unwrap_or_default(),
            0,
        ));
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| list_error("volumes", label_filters, e))?;
    for v in volumes.volumes.unwrap_or_default() {
        out.push(Resource::from_labels(
            ResourceKind::Volume,
            v.name.clone(),
            v.name,
            &v.labels,
            0,
        ));
    }
    Ok(out)
}

/// Removes what `filter` selects, but kept containers: containers first, then networks
/// and volumes (a network or volume a kept container still uses stays).
pub(crate) async fn remove_labelled(docker: &Docker, filter: &str) -> Result<Vec<Resource>> {
    let found: Vec<Resource> = list(docker, &[filter.to_owned()])
        .await?
        .into_iter()
        .filter(|r| r.ownership != Ownership::Kept)
        .collect();
    remove(docker, &found).await?;
    Ok(found)
}

/// Removes `resources`: containers (concurrently) first, then networks and volumes.
pub(crate) async fn remove(docker: &Docker, resources: &[Resource]) -> Result<()> {
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
                .map_err(|e| remove_error(r, e))
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
            Err(e) => return Err(remove_error(r, e)),
        }
    }
    Ok(())
}

/// Removes stale resources in the background, once per session on this host (the first
/// process of a session does it: see [`super::first_in_session`]), bounded in time. Run
/// at first use, so a run that was killed before its reaper acted leaves nothing for
/// long; live runs, other namespaces' and other hosts' runs, kept containers and this
/// process's own session (its reapers own that) are untouched.
pub(crate) fn sweep_stale_once() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let sweep = async {
            let started = std::time::Instant::now();
            let removed = tokio::time::timeout(Duration::from_secs(20), async {
                let daemon = crate::docker::daemon().await?;
                let own_session = labels::session_id();
                let endpoint = daemon.endpoint().endpoint.to_string();
                if !super::first_in_session::first_in_session("sweep", own_session, &endpoint) {
                    // Another process of this session swept already (nextest: every test
                    // is a process); the answer would be the same.
                    return Ok(Vec::new());
                }
                let managed = labels::managed_filter();
                let stale: Vec<Resource> = list(daemon.client(), &[managed])
                    .await?
                    .into_iter()
                    .filter(|r| r.is_stale() && r.session != own_session)
                    .collect();
                remove(daemon.client(), &stale).await?;
                Ok::<_, Error>(stale)
            })
            .await;
            match removed {
                Ok(Ok(removed)) => tracing::info!(
                    elapsed_ms = crate::trace::ms(started.elapsed()),
                    removed = removed.len(),
                    names = ?removed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                    "removed stale resources of runs that died"
                ),
                Ok(Err(e)) => tracing::warn!(error = %e, "the stale sweep failed"),
                Err(_) => tracing::warn!("the stale sweep did not finish within 20 s"),
            }
        };
        let span = tracing::info_span!("testdock.sweep");
        let _ = super::spawn_detached(tracing::Instrument::instrument(sweep, span));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status_code: u16) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: "refused".into(),
        }
    }

    #[test]
    fn cleanup_errors_name_the_action_and_the_resource_not_a_container() {
        let filters = ["testdock.managed-by=testdock".to_owned()];
        let err = list_error("volumes", &filters, refused(500));
        assert_eq!(
            err.to_string(),
            "cannot list volumes labelled testdock.managed-by=testdock"
        );
        assert_eq!(err.container(), None);
        assert_eq!(err.status_code(), Some(500));
        assert!(std::error::Error::source(&err).is_some());
        let network = Resource {
            kind: ResourceKind::Network,
            id: "n1".into(),
            name: "testdock-net".into(),
            test: String::new(),
            session: String::new(),
            owner: String::new(),
            ownership: Ownership::Alive,
            created: 0,
            state: String::new(),
            ports: Vec::new(),
            role: String::new(),
        };
        let err = remove_error(&network, refused(500));
        assert_eq!(err.to_string(), "cannot remove network `testdock-net`");
        assert!(matches!(
            err,
            Error::Cleanup {
                action: "remove",
                ..
            }
        ));
    }
}
