//! The plan a compose file turns into: per service, a [`ContainerSpec`] plus what only
//! the stack can resolve (named volumes, the network, dependencies). Pure data.

use std::collections::BTreeMap;

use crate::probe::Probe;
use crate::spec::ContainerSpec;

/// What a dependent waits for before it starts (`depends_on.<service>.condition`).
/// Ordered from the weakest to the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Condition {
    /// `service_started` (the default of the short syntax).
    Started,
    /// `service_healthy`: its healthcheck reports `healthy`.
    Healthy,
    /// `service_completed_successfully`: it exited with code 0.
    Completed,
}

impl Condition {
    /// The condition named `name` in a compose file.
    pub(crate) fn parse(name: &str) -> Option<Condition> {
        match name {
            "service_started" => Some(Condition::Started),
            "service_healthy" => Some(Condition::Healthy),
            "service_completed_successfully" => Some(Condition::Completed),
            _ => None,
        }
    }
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    pub(crate) service: String,
    pub(crate) condition: Condition,
    /// `required: false`: dropped when the service is not active (profiles).
    pub(crate) required: bool,
}

/// A named volume a service mounts (resolved to a testdock `Volume` of the stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedMount {
    pub(crate) volume: String,
    pub(crate) target: String,
    pub(crate) read_only: bool,
}

/// One service of the file.
#[derive(Debug, Clone)]
pub(crate) struct ServicePlan {
    pub(crate) name: String,
    /// Everything but the stack's resources (network, named volumes) and the probe.
    pub(crate) spec: ContainerSpec,
    pub(crate) named_mounts: Vec<NamedMount>,
    /// The compose networks it joins, each with its extra aliases (the service's name
    /// is always one): `default` unless the file says otherwise. Never empty; the first
    /// is the one the container is created on, the others are joined before it starts.
    pub(crate) networks: Vec<(String, Vec<String>)>,
    /// Whether the file gives it a `healthcheck`.
    pub(crate) healthcheck: bool,
    pub(crate) depends_on: Vec<Dependency>,
    pub(crate) profiles: Vec<String>,
    /// A readiness probe added by [`Compose::wait_for`](crate::compose::Compose::wait_for).
    pub(crate) probe: Option<Probe>,
}

/// A top-level `volumes:` or `networks:` entry: driver and options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResourcePlan {
    pub(crate) driver: Option<String>,
    pub(crate) options: BTreeMap<String, String>,
    /// Networks only: `internal: true`.
    pub(crate) internal: bool,
}

/// A whole file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// The file's `name:`, if any.
    pub(crate) name: Option<String>,
    /// In the file's order.
    pub(crate) services: Vec<ServicePlan>,
    pub(crate) volumes: BTreeMap<String, ResourcePlan>,
    pub(crate) networks: BTreeMap<String, ResourcePlan>,
}
