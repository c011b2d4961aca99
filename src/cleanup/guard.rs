//! [`RemovalGuard`]: the registration that makes a container's removal certain.

use std::time::Duration;

use bollard::Docker;
use tokio::sync::watch;

use super::{background, remove_container, Target, TEARDOWN_TIMEOUT};

/// Removes its container when told to, or when dropped while still armed.
///
/// It stays armed until a removal has succeeded, so a removal that is itself cancelled
/// (an outer timeout around `remove()`) or fails is retried when the guard drops.
#[derive(Debug)]
pub(crate) struct RemovalGuard {
    name: String,
    target: Option<Target>,
    /// The test the container belongs to.
    test_id: String,
}

impl RemovalGuard {
    /// Registers `target` for removal. Call this before the container is created.
    pub(crate) fn new(target: Target, test_id: &str) -> Self {
        RemovalGuard {
            name: target.name.clone(),
            target: Some(target),
            test_id: test_id.to_owned(),
        }
    }

    /// The container's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Gives up the removal: someone else (a shared fixture's scope) owns it now.
    pub(crate) fn disarm(&mut self) {
        self.target = None;
    }

    /// Tells the guard that a create request is on its way: removal waits for its
    /// answer. Returns the sender to signal when it is answered.
    pub(crate) fn create_pending(&mut self) -> watch::Sender<bool> {
        let (tx, rx) = watch::channel(false);
        if let Some(target) = &mut self.target {
            target.created = Some(rx);
        }
        tx
    }

    /// Removes the container now, in async code, and disarms the guard once it is gone.
    pub(crate) async fn remove(mut self, docker: &Docker) -> Result<Duration, RemoveError> {
        let Some(target) = self.target.as_ref() else {
            return Ok(Duration::ZERO);
        };
        let started = std::time::Instant::now();
        match tokio::time::timeout(
            crate::timeouts::scaled(TEARDOWN_TIMEOUT),
            remove_container(docker, target),
        )
        .await
        {
            Ok(Ok(())) => {
                self.target = None;
                Ok(started.elapsed())
            }
            // Still armed: dropping `self` retries on the teardown thread.
            Ok(Err(source)) => Err(RemoveError::Docker { source }),
            Err(_) => Err(RemoveError::Timeout {
                limit: crate::timeouts::scaled(TEARDOWN_TIMEOUT),
            }),
        }
    }
}

impl Drop for RemovalGuard {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            if super::scope::runner_decides(&self.test_id) {
                return;
            }
            background::remove_blocking(target, crate::timeouts::scaled(TEARDOWN_TIMEOUT));
        }
    }
}

/// Why a removal failed.
#[derive(Debug)]
pub(crate) enum RemoveError {
    /// The daemon refused.
    Docker { source: bollard::errors::Error },
    /// It took longer than the teardown limit.
    Timeout { limit: Duration },
}
