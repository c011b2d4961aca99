//! The background teardown runtime: one long-lived thread with a small runtime of its own.
//!
//! `Drop` cannot `.await`, and may run with no runtime, inside a current-thread runtime
//! (where blocking on that runtime would deadlock) or inside a multi-thread one (where
//! blocking stalls a worker). So it hands the removal to this thread and returns at
//! once: the removal goes on here, and if the process ends first its reaper removes
//! what is left (everything carries the owner's label). Removals in flight are bounded
//! process-wide ([`MAX_IN_FLIGHT`]), so a suite dropping hundreds of handles does not
//! send hundreds of requests at once.
//!
//! The create request of every container also runs here, so that it is never abandoned
//! half-way when the caller's future is dropped or its runtime shuts down: the daemon
//! finishes a create whose client went away, and the removal must wait for that answer
//! instead of finding nothing yet.

use std::future::Future;
use std::time::{Duration, Instant};

use once_cell::sync::{Lazy, OnceCell};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::remove_resource::{in_use, remove_resource, ResourceTarget};
use super::{remove_container, Target};

static RUNTIME: OnceCell<Handle> = OnceCell::new();

/// How many removals may be in flight at once, across the process.
pub(crate) const MAX_IN_FLIGHT: usize = 8;

static IN_FLIGHT: Lazy<Semaphore> = Lazy::new(|| Semaphore::new(MAX_IN_FLIGHT));

/// A turn to talk to the daemon about a removal: at most [`MAX_IN_FLIGHT`] at once.
pub(crate) async fn removal_permit() -> SemaphorePermit<'static> {
    IN_FLIGHT
        .acquire()
        .await
        .expect("the removal semaphore is never closed")
}

/// The teardown runtime's handle, started on first use.
fn runtime() -> std::io::Result<&'static Handle> {
    RUNTIME.get_or_try_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("testdock-teardown".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
        Ok(handle)
    })
}

/// Runs `future` to completion on the teardown runtime, whatever happens to the caller.
pub(crate) fn spawn<F>(future: F) -> std::io::Result<tokio::task::JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(runtime()?.spawn(future))
}

/// Hands the removal of container `target` to the teardown runtime and returns at once;
/// the removal gives up after `limit`.
pub(super) fn remove_detached(target: Target, limit: Duration) {
    let name = target.name.clone();
    let job = async move {
        let removal = async {
            let daemon = crate::docker::daemon().await.map_err(|e| e.to_string())?;
            let _permit = removal_permit().await;
            remove_container(daemon.client(), &target)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(limit, removal).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(container = %target.name, error = %e, "could not remove the container")
            }
            Err(_) => {
                tracing::warn!(container = %target.name, ?limit, "removing the container took longer than the limit")
            }
        }
    };
    if let Err(e) = spawn(job) {
        tracing::warn!(
            container = %name,
            error = %e,
            "cannot start the teardown thread: the container is left to the reaper"
        );
    }
}

/// Hands the removal of a network or volume to the teardown runtime and returns at
/// once. While containers still use it, it is retried for up to `limit` (holding no
/// removal permit between attempts, so the containers' own removals go first): a
/// network dropped before its containers goes right after them. (If the process ends
/// first, its reaper removes it.)
pub(super) fn remove_resource_detached(target: ResourceTarget, limit: Duration) {
    let what = format!("{} `{}`", target.kind, target.name);
    let job = {
        let what = what.clone();
        async move {
            let daemon = match crate::docker::daemon().await {
                Ok(daemon) => daemon,
                Err(e) => {
                    eprintln!("testdock: could not remove {what}: {e}");
                    return;
                }
            };
            if let Err(e) = retry_while_in_use(daemon.client(), &target, limit).await {
                eprintln!("testdock: could not remove {what}: {e}");
            }
        }
    };
    if let Err(e) = spawn(job) {
        eprintln!("testdock: cannot start the teardown thread ({e}); {what} may be left behind");
    }
}

/// Removes `target`, one attempt per removal permit, retrying with backoff while
/// containers still use it, for up to `limit`.
async fn retry_while_in_use(
    docker: &bollard::Docker,
    target: &ResourceTarget,
    limit: Duration,
) -> Result<(), bollard::errors::Error> {
    let deadline = Instant::now() + limit;
    let mut backoff = crate::probe::Backoff::new();
    loop {
        let attempt = {
            let _permit = removal_permit().await;
            remove_resource(docker, target, Duration::ZERO).await
        };
        match attempt {
            Err(e) if in_use(&e) && Instant::now() < deadline => backoff.wait().await,
            other => return other,
        }
    }
}
