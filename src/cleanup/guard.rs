//! [`RemovalGuard`]: the registration that makes a resource's removal certain.

use std::time::Duration;

use bollard::Docker;
use tokio::sync::watch;

use super::remove_resource::{remove_resource, ResourceTarget};
use super::{background, remove_container, Target, TEARDOWN_TIMEOUT};

/// How long an explicit removal of a network or volume waits for the containers that
/// still use it (e.g. removed concurrently) before it reports them.
const IN_USE_PATIENCE: Duration = Duration::from_secs(2);

/// What a guard removes.
#[derive(Debug)]
enum Removal {
    Container(Target),
    Resource(ResourceTarget),
}

/// Removes its container, network or volume when told to, or when dropped while still
/// armed.
///
/// It stays armed until a removal has succeeded, so a removal that is itself cancelled
/// (an outer timeout around `remove()`) or fails is retried when the guard drops.
#[derive(Debug)]
pub(crate) struct RemovalGuard {
    name: String,
    target: Option<Removal>,
    /// The test the resource belongs to.
    test_id: String,
}

impl RemovalGuard {
    /// Registers container `target` for removal. Call this before the container is created.
    pub(crate) fn new(target: Target, test_id: &str) -> Self {
        RemovalGuard {
            name: target.name.clone(),
            target: Some(Removal::Container(target)),
            test_id: test_id.to_owned(),
        }
    }

    /// Registers a network or volume for removal. Call this before it is created.
    pub(crate) fn resource(target: ResourceTarget, test_id: &str) -> Self {
        RemovalGuard {
            name: target.name.clone(),
            target: Some(Removal::Resource(target)),
            test_id: test_id.to_owned(),
        }
    }

    /// The resource's name.
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
        match &mut self.target {
            Some(Removal::Container(target)) => target.created = Some(rx),
            Some(Removal::Resource(target)) => target.created = Some(rx),
            None => {}
        }
        tx
    }

    /// Removes the resource now, in async code, and disarms the guard once it is gone.
    /// A network or volume still used by containers is waited for briefly, then
    /// reported; its removal goes on in the background once they are gone.
    pub(crate) async fn remove(mut self, docker: &Docker) -> Result<Duration, RemoveError> {
        let Some(target) = self.target.as_ref() else {
            return Ok(Duration::ZERO);
        };
        let started = std::time::Instant::now();
        let limit = crate::timeouts::scaled(TEARDOWN_TIMEOUT);
        let removal = async {
            match target {
                Removal::Container(target) => remove_container(docker, target).await,
                Removal::Resource(target) => {
                    let patience = crate::timeouts::scaled(IN_USE_PATIENCE);
                    remove_resource(docker, target, patience).await
                }
            }
        };
        match tokio::time::timeout(limit, removal).await {
            Ok(Ok(())) => {
                self.target = None;
                Ok(started.elapsed())
            }
            // Still armed: dropping `self` retries on the teardown thread.
            Ok(Err(source)) => Err(RemoveError::Docker { source }),
            Err(_) => Err(RemoveError::Timeout { limit }),
        }
    }
}

impl Drop for RemovalGuard {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            if super::scope::runner_decides(&self.test_id) {
                return;
            }
            let limit = crate::timeouts::scaled(TEARDOWN_TIMEOUT);
            match target {
                Removal::Container(target) => background::remove_detached(target, limit),
                Removal::Resource(target) => background::remove_resource_detached(target, limit),
            }
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
