//! [`RemovalGuard`]: the registration that makes a container's removal certain.

use std::time::Duration;

use bollard::Docker;

use super::{background, remove_container, Target, TEARDOWN_TIMEOUT};

/// Removes its container when told to, or when dropped while still armed.
#[derive(Debug)]
pub(crate) struct RemovalGuard {
    target: Option<Target>,
}

impl RemovalGuard {
    /// Registers `target` for removal. Call this before the container is created.
    pub(crate) fn new(target: Target) -> Self {
        RemovalGuard {
            target: Some(target),
        }
    }

    /// The container's name.
    pub(crate) fn name(&self) -> &str {
        self.target.as_ref().map_or("", |t| t.name.as_str())
    }

    /// Removes the container now, in async code, and disarms the guard (also when the
    /// removal fails: the error says what is left).
    pub(crate) async fn remove(mut self, docker: &Docker) -> Result<Duration, RemoveError> {
        let Some(target) = self.target.take() else {
            return Ok(Duration::ZERO);
        };
        let started = std::time::Instant::now();
        match tokio::time::timeout(TEARDOWN_TIMEOUT, remove_container(docker, &target)).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(source)) => Err(RemoveError::Docker { source }),
            Err(_) => Err(RemoveError::Timeout {
                limit: TEARDOWN_TIMEOUT,
            }),
        }
    }
}

impl Drop for RemovalGuard {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            background::remove_blocking(target, TEARDOWN_TIMEOUT);
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
