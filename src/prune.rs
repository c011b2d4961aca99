//! `ps` and `prune`: what testdock has on the daemon, and removing what nobody owns.
//!
//! Every resource carries its owner (`testdock.owner=<pid>-<start time>`), its host's boot
//! id and its pid namespace, so testdock can tell a resource of a live test run from a
//! stale one left by a run that died before its reaper could act. Only a *proven* death
//! makes a resource stale (see [`Ownership`]): resources of another host, another pid
//! namespace (a CI job container, `unshare --pid`) or seen from a machine without
//! `/proc` are [`Ownership::Unknown`] and left alone unless you ask for
//! [`Selection::all`]. Containers kept by `TESTDOCK_KEEP_FAILED` are [`Ownership::Kept`]:
//! removed only by [`Selection::kept`] or [`Selection::all`]. Shared containers reused
//! across runs (`TESTDOCK_REUSE`, see [`crate::shared`]) have no owner at all: they are
//! [`Ownership::Reused`], removed only by [`Selection::reused`] or [`Selection::all`]. A
//! [`Selection`] narrows any of these to one test or one session.
//!
//! The `testdock` command (`cargo install testdock --locked`) does the same from a
//! shell: `testdock ps`, `testdock prune`, see `testdock --help`.
//!
//! ```no_run
//! # async fn demo() -> testdock::Result<()> {
//! use testdock::prune::Selection;
//! for r in testdock::prune::ps(Selection::all()).await? {
//!     println!("{} {} test={} {}", r.kind, r.name, r.test, r.ownership);
//! }
//! let removed = testdock::prune::prune(Selection::stale()).await?;
//! let of_one_test = testdock::prune::prune(Selection::all().test("db::migrates")).await?;
//! # let _ = (removed, of_one_test); Ok(()) }
//! ```

use crate::cleanup::sweep;
use crate::error::Result;

mod selection;

pub use crate::cleanup::reaper::Kind as Reaper;
pub use crate::cleanup::{Ownership, Resource, ResourceKind, Unproven};
pub use selection::Selection;

/// The reaper watching this process: `None` until its first container, network or
/// imported image, or if none could be started. See the crate docs, "Teardown".
pub fn reaper() -> Option<Reaper> {
    crate::cleanup::reaper::kind()
}

/// Starts this process's reaper now, if it has none yet (it otherwise starts with the
/// first container, network or imported image), and says which kind runs.
pub async fn start_reaper() -> Option<Reaper> {
    crate::cleanup::reaper::ensure_started().await;
    reaper()
}

/// The resources `selection` picks, with their owner and whether it lives.
/// [`Selection::all`] lists everything testdock created on the daemon.
pub async fn ps(selection: Selection) -> Result<Vec<Resource>> {
    let daemon = crate::docker::daemon().await?;
    select(daemon.client(), &selection).await
}

/// Removes the resources `selection` picks: containers first, then networks and volumes
/// (one still in use by a container that is not removed stays). Returns what was
/// selected for removal.
pub async fn prune(selection: Selection) -> Result<Vec<Resource>> {
    let daemon = crate::docker::daemon().await?;
    let chosen = select(daemon.client(), &selection).await?;
    sweep::remove(daemon.client(), &chosen).await?;
    Ok(chosen)
}

async fn select(docker: &bollard::Docker, selection: &Selection) -> Result<Vec<Resource>> {
    Ok(sweep::list(docker, &selection.label_filters())
        .await?
        .into_iter()
        .filter(|r| selection.selects(r))
        .collect())
}
