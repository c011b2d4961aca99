//! The background teardown thread used by `Drop`.
//!
//! `Drop` cannot `.await`, and may run with no runtime, inside a current-thread runtime
//! (where blocking on that runtime would deadlock) or inside a multi-thread one. So it
//! hands the removal to one long-lived thread that owns a small runtime of its own, and
//! waits for the answer with a bounded, plain blocking wait.

use std::sync::mpsc;
use std::time::Duration;

use once_cell::sync::OnceCell;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::{remove_container, Target};

struct Job {
    target: Target,
    done: mpsc::SyncSender<()>,
}

static WORKER: OnceCell<UnboundedSender<Job>> = OnceCell::new();

fn worker() -> Option<&'static UnboundedSender<Job>> {
    WORKER
        .get_or_try_init(|| {
            let (tx, mut rx) = unbounded_channel::<Job>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name("testdock-teardown".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        while let Some(job) = rx.recv().await {
                            tokio::spawn(async move {
                                if let Ok(daemon) = crate::docker::daemon().await {
                                    if let Err(e) =
                                        remove_container(daemon.client(), &job.target).await
                                    {
                                        eprintln!(
                                            "testdock: could not remove container `{}`: {e}",
                                            job.target.name
                                        );
                                    }
                                }
                                let _ = job.done.send(());
                            });
                        }
                    })
                })?;
            Ok::<_, std::io::Error>(tx)
        })
        .map_err(|e| eprintln!("testdock: cannot start the teardown thread: {e}"))
        .ok()
}

/// Removes `target` on the teardown thread and waits up to `limit` for it.
pub(super) fn remove_blocking(target: Target, limit: Duration) {
    let Some(tx) = worker() else { return };
    let name = target.name.clone();
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    if tx
        .send(Job {
            target,
            done: done_tx,
        })
        .is_err()
    {
        eprintln!("testdock: teardown thread is gone; container `{name}` may be left behind");
        return;
    }
    if done_rx.recv_timeout(limit).is_err() {
        eprintln!("testdock: removing container `{name}` took longer than {limit:?}");
    }
}
