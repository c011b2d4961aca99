//! `ps` and `prune`: what testdock has on the daemon, and removing what nobody owns.
//!
//! Every resource carries its owner (`testdock.owner=<pid>-<start time>`), its host's boot
//! id and its pid namespace, so testdock can tell a resource of a live test run from a
//! stale one left by a run that died before its reaper could act. Only a *proven* death
//! makes a resource stale (see [`Ownership`]): resources of another host, another pid
//! namespace (a CI job container, `unshare --pid`) or seen from a machine without
//! `/proc` are [`Ownership::Unknown`] and left alone unless you ask for
//! [`Prune::All`]. Containers kept by `TESTDOCK_KEEP_FAILED` are [`Ownership::Kept`]:
//! removed only by [`Prune::Kept`] or [`Prune::All`].
//!
//! ```no_run
//! # async fn demo() -> testdock::Result<()> {
//! use testdock::prune::Prune;
//! for r in testdock::prune::ps().await? {
//!     println!("{:?} {} test={} {}", r.kind, r.name, r.test, r.ownership);
//! }
//! let removed = testdock::prune::prune(Prune::Stale).await?;
//! # let _ = removed; Ok(()) }
//! ```

use std::time::Duration;

use crate::cleanup::sweep;
use crate::error::Result;
use crate::labels;

pub use crate::cleanup::reaper::Kind as Reaper;
pub use crate::cleanup::{Ownership, Resource, ResourceKind, Unproven};

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

/// What [`prune`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prune {
    /// Resources whose owner is proven dead (never this process's session).
    Stale,
    /// Containers kept for debugging by `TESTDOCK_KEEP_FAILED`.
    Kept,
    /// Everything testdock labelled on the daemon, whoever owns it: live runs included.
    All,
}

fn managed() -> String {
    format!("{}={}", labels::MANAGED_BY, labels::MANAGED_BY_VALUE)
}

/// Every resource testdock created on the daemon, with its owner and whether it lives.
pub async fn ps() -> Result<Vec<Resource>> {
    let daemon = crate::docker::daemon().await?;
    sweep::list(daemon.client(), &[managed()]).await
}

/// Removes what `what` selects. Returns what was removed.
pub async fn prune(what: Prune) -> Result<Vec<Resource>> {
    let daemon = crate::docker::daemon().await?;
    let own_session = labels::session_id();
    let chosen: Vec<Resource> = sweep::list(daemon.client(), &[managed()])
        .await?
        .into_iter()
        .filter(|r| match what {
            // A process never sweeps its own session: its reapers own that.
            Prune::Stale => r.is_stale() && r.session != own_session,
            Prune::Kept => r.ownership == Ownership::Kept,
            Prune::All => true,
        })
        .collect();
    sweep::remove(daemon.client(), &chosen).await?;
    Ok(chosen)
}

/// Removes stale resources in the background, once per process, bounded in time. Run
/// at first use, so a run that was killed before its reaper acted leaves nothing for
/// long; live runs, other namespaces' and other hosts' runs, and kept containers are
/// untouched.
pub(crate) fn sweep_stale_once() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let sweep = async {
            let started = std::time::Instant::now();
            match tokio::time::timeout(Duration::from_secs(20), prune(Prune::Stale)).await {
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
        let _ = crate::cleanup::spawn_detached(tracing::Instrument::instrument(sweep, span));
    });
}
