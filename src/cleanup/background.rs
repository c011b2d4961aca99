//! The background teardown runtime: one long-lived thread with a small runtime of its own.
//!
//! `Drop` cannot `.await`, and may run with no runtime, inside a current-thread runtime
//! (where blocking on that runtime would deadlock) or inside a multi-thread one. So it
//! hands the removal to this thread and waits for the answer with a bounded, plain
//! blocking wait. The create request of every container also runs here, so that it is
//! never abandoned half-way when the caller's future is dropped or its runtime shuts
//! down: the daemon finishes a create whose client went away, and the removal must wait
//! for that answer instead of finding nothing yet.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use once_cell::sync::OnceCell;
use tokio::runtime::Handle;

use super::remove_resource::{in_use, remove_resource, ResourceTarget};
use super::{remove_container, Target};

static RUNTIME: OnceCell<Handle> = OnceCell::new();

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

/// Removes `target` on the teardown runtime and waits up to `limit` for it.
pub(super) fn remove_blocking(target: Target, limit: Duration) {
    let name = target.name.clone();
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let job = async move {
        match crate::docker::daemon().await {
            Ok(daemon) => {
                if let Err(e) = remove_container(daemon.client(), &target).await {
                    tracing::warn!(container = %target.name, error = %e, "could not remove the container");
                }
            }
            Err(e) => {
                tracing::warn!(container = %target.name, error = %e, "could not remove the container")
            }
        }
        let _ = done_tx.send(());
    };
    if let Err(e) = spawn(job) {
        tracing::warn!(
            container = %name,
            error = %e,
            "cannot start the teardown thread: the container is left to the reaper"
        );
        return;
    }
    if done_rx.recv_timeout(limit).is_err() {
        tracing::warn!(container = %name, ?limit, "removing the container took longer than the limit");
    }
}

/// Removes a network or volume on the teardown runtime, waiting up to `limit` for the
/// first attempt. If containers still use it, the caller goes on and the teardown
/// runtime keeps trying for up to `limit` more: a network dropped before its
/// containers goes right after them. (If the process ends first, its reaper removes it.)
pub(super) fn remove_resource_blocking(target: ResourceTarget, limit: Duration) {
    let what = format!("{} `{}`", target.kind, target.name);
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let job = {
        let what = what.clone();
        async move {
            let daemon = match crate::docker::daemon().await {
                Ok(daemon) => daemon,
                Err(e) => {
                    eprintln!("testdock: could not remove {what}: {e}");
                    let _ = done_tx.send(());
                    return;
                }
            };
            let docker = daemon.client();
            let first = remove_resource(docker, &target, Duration::ZERO).await;
            let _ = done_tx.send(());
            let result = match first {
                Err(e) if in_use(&e) => remove_resource(docker, &target, limit).await,
                other => other,
            };
            if let Err(e) = result {
                eprintln!("testdock: could not remove {what}: {e}");
            }
        }
    };
    if let Err(e) = spawn(job) {
        eprintln!("testdock: cannot start the teardown thread ({e}); {what} may be left behind");
        return;
    }
    if done_rx.recv_timeout(limit).is_err() {
        eprintln!("testdock: removing {what} took longer than {limit:?}");
    }
}
