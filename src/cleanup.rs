//! Teardown: removing what testdock created, on every path.
//!
//! A [`RemovalGuard`] is made *before* a container, network or volume is created (its
//! name is chosen by testdock), so a failure or a cancellation anywhere in create,
//! inject, start or readiness still removes it. Normal teardown is async ([`RemovalGuard::remove`]);
//! dropping an armed guard is the safety net: it hands the removal to a background
//! thread with its own runtime and returns at once (it never blocks the dropping
//! thread), which works under a current-thread runtime, a multi-thread runtime, or no
//! runtime at all; the runner's teardown is handed off the same way. Under all of that is the
//! reaper ([`reaper`]), and beside it the proof of who may remove what ([`ownership`]).

mod background;
mod first_in_session;
mod guard;
pub(crate) mod ownership;
pub(crate) mod reaper;
mod remove;
mod remove_resource;
mod scope;
pub(crate) mod sweep;

pub(crate) use background::removal_permit;
pub(crate) use background::spawn as spawn_detached;
pub(crate) use guard::{RemovalGuard, RemoveError};
pub use ownership::{Ownership, Unproven};
pub(crate) use remove::{remove_container, Target};
pub(crate) use remove_resource::{remove_resource, ResourceTarget};
pub(crate) use scope::Scope;
pub use sweep::{Resource, ResourceKind};

use std::time::Duration;

/// How long a removal may take before teardown gives up on it.
pub(crate) const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Call before creating anything on the daemon: starts this process's reaper and, once
/// per process, the sweep of stale resources left by runs that died.
pub(crate) async fn before_first_resource() {
    reaper::ensure_started().await;
    sweep::sweep_stale_once();
}
