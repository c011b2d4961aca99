//! One test's lifetime: network, fixtures and body under the timeout, the failure
//! report, then the hand-off of the teardown of everything labelled with the test
//! (containers first, then volumes and networks) to the background teardown runtime.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use bollard::Docker;

use super::diagnostics;
use super::outcome::{panic_text, Verdict};
use super::{TestContext, TestMeta, TestOutcome};
use crate::cleanup::{
    self, remove_container, remove_resource, ResourceKind, ResourceTarget, Target,
};
use crate::error::{status_of, Result};
use crate::labels;

pub(super) async fn run<F, Fut, T>(
    meta: &TestMeta,
    body_runtime: &tokio::runtime::Handle,
    test: F,
) -> Verdict
where
    F: FnOnce(TestContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: TestOutcome,
{
    let started = Instant::now();
    let daemon = match crate::docker::daemon().await {
        Ok(daemon) => daemon,
        Err(e) => return Verdict::NoDaemon(e),
    };
    let docker = daemon.client();
    let _scope = cleanup::Scope::enter(&meta.id);
    let network = if meta.network {
        match crate::NetworkSpec::new().test_id(&meta.id).create().await {
            Ok(network) => Some(network),
            Err(e) => {
                return Verdict::Failed(format!(
                    "{}: creating the test network failed: {e}",
                    meta.id
                ))
            }
        }
    } else {
        None
    };
    let slot = meta.pool_mode().then(|| crate::pool::Pod::open(&meta.id));
    let (watch_tx, mut watchers) = tokio::sync::mpsc::unbounded_channel();
    let ctx = TestContext::new(
        meta,
        network.as_ref().map(|n| n.name().to_owned()),
        watch_tx,
    );
    let limit = crate::timeouts::scaled(meta.timeout);
    let mut body = body_runtime.spawn(test(ctx));
    let ended = match watched(tokio::time::timeout(limit, &mut body), &mut watchers).await {
        Ok(ended) => ended,
        Err(failure) => {
            body.abort();
            return conclude(
                meta,
                docker,
                network,
                slot,
                Verdict::Failed(format!("{}: {failure:?}", meta.id)),
            )
            .await;
        }
    };
    let verdict = match ended {
        Ok(Ok(Ok(outcome))) => match outcome.failure() {
            None => Verdict::Passed,
            Some(message) => Verdict::Failed(format!("{}: {message}", meta.id)),
        },
        Ok(Ok(Err(error))) => {
            Verdict::Failed(format!("{}: a fixture failed to start: {error}", meta.id))
        }
        Ok(Err(join)) if join.is_panic() => Verdict::Panicked(join.into_panic()),
        Ok(Err(join)) => Verdict::Failed(format!(
            "{}: the test task ended abnormally: {join}",
            meta.id
        )),
        Err(_) => {
            body.abort();
            let still_running =
                tokio::time::timeout(std::time::Duration::from_millis(200), &mut body)
                    .await
                    .is_err()
                    || BlockingBody::running(&meta.id);
            Verdict::Failed(format!(
                "{}: timed out after {:?} (limit {limit:?}){}",
                meta.id,
                super::elapsed_since(started),
                if still_running {
                    "; the body was still running (blocked in synchronous code?) and was left behind"
                } else {
                    ""
                }
            ))
        }
    };
    conclude(meta, docker, network, slot, verdict).await
}

/// Races `body` with the test's watchers ([`TestContext::watch`]): the body's end, or
/// the first watcher's error.
async fn watched<T>(
    body: impl Future<Output = T>,
    watchers: &mut tokio::sync::mpsc::UnboundedReceiver<super::Watcher>,
) -> std::result::Result<T, crate::Error> {
    use futures::StreamExt;
    let mut body = std::pin::pin!(body);
    let mut running = futures::stream::FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            ended = &mut body => return Ok(ended),
            watcher = watchers.recv(), if open => match watcher {
                Some(watcher) => running.push(watcher),
                None => open = false,
            },
            Some(failure) = running.next(), if !running.is_empty() => return Err(failure),
        }
    }
}

/// The failure report, then keeping (`TESTDOCK_KEEP_FAILED`) or handing off the
/// teardown of everything of the test.
async fn conclude(
    meta: &TestMeta,
    docker: &Docker,
    network: Option<crate::Network>,
    slot: Option<crate::pool::Pod>,
    verdict: Verdict,
) -> Verdict {
    let keep = verdict.failed() && keep_failed();
    if verdict.failed() {
        let headline = match &verdict {
            Verdict::Panicked(p) => panic_text(p.as_ref()),
            Verdict::Failed(m) => m.clone(),
            _ => String::new(),
        };
        diagnostics::report(docker, &meta.id, &headline).await;
    }
    if keep {
        let mut kept = keep_containers(docker, &meta.id).await;
        if let Some(pause) = async { slot?.keep(docker).await }.await {
            kept.push(pause);
        }
        tracing::warn!(test = %meta.id, ?kept, "keeping the containers of a failed test");
        eprintln!(
            "testdock: keeping the containers of failed test {} ({} is set): {}; no reaper \
             or sweep removes them: `testdock prune --kept` or `docker rm -f {}` does",
            meta.id,
            super::KEEP_FAILED_ENV,
            kept.join(", "),
            kept.join(" ")
        );
    } else {
        hand_off_teardown(docker, &meta.id, network, slot);
    }
    verdict
}

/// Hands the test's teardown to the background teardown runtime and returns at once:
/// the test need not wait for it. Containers go first, then the volumes and networks.
/// If the process ends first, its reaper removes what is left. A pooled namespace
/// returns to the pool after that, if proven clean.
fn hand_off_teardown(
    docker: &Docker,
    test_id: &str,
    network: Option<crate::Network>,
    slot: Option<crate::pool::Pod>,
) {
    let docker = docker.clone();
    let id = test_id.to_owned();
    let span = tracing::info_span!("testdock.teardown", test = %test_id);
    let job = async move {
        if let Err(e) = teardown(&docker, &id, network).await {
            tracing::warn!(test = %id, error = %e, "teardown failed: left to the reaper");
        }
        if let Some(slot) = slot {
            slot.release_with(&docker).await;
        }
    };
    if let Err(e) = cleanup::spawn_detached(tracing::Instrument::instrument(job, span)) {
        tracing::warn!(test = %test_id, error = %e, "cannot start the teardown thread: left to the reaper");
    }
}

fn keep_failed() -> bool {
    std::env::var(super::KEEP_FAILED_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Removes every container of the test, concurrently (at most
/// `MAX_IN_FLIGHT` removals at once, across the process); then its volumes and
/// networks (the test's own network, and those its body made), which containers no
/// longer use.
async fn teardown(
    docker: &Docker,
    test_id: &str,
    network: Option<crate::Network>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let filter = labels::test_filter(test_id);
    let containers_gone = remove_containers(docker, &filter).await;
    // The test's own network goes with the others below even if this fails.
    let own_network = match network {
        Some(network) => network.remove().await,
        None => Ok(()),
    };
    containers_gone?;
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await?
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| (ResourceKind::Volume, v.name));
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await?
        .into_iter()
        .filter_map(|n| Some((ResourceKind::Network, n.name?)));
    for (kind, name) in volumes.chain(networks).collect::<Vec<_>>() {
        let target = ResourceTarget {
            kind,
            name,
            created: None,
        };
        // Still in use (by a container of another test, or a kept one): not ours to force.
        let _permit = cleanup::removal_permit().await;
        match remove_resource(docker, &target, Duration::ZERO).await {
            Err(e) if !matches!(status_of(&e), Some(403 | 409)) => return Err(e.into()),
            _ => {}
        }
    }
    Ok(own_network?)
}

/// Removes the containers labelled `filter`, concurrently, each under a removal permit.
async fn remove_containers(
    docker: &Docker,
    filter: &HashMap<String, Vec<String>>,
) -> Result<(), bollard::errors::Error> {
    let containers = crate::docker::compat::list_containers(
        docker,
        ListContainersOptionsBuilder::default()
            .all(true)
            .filters(filter)
            .build(),
    )
    .await?;
    let removals = containers.into_iter().filter_map(|c| {
        let name = c.names?.first()?.trim_start_matches('/').to_owned();
        Some(async move {
            let _permit = cleanup::removal_permit().await;
            remove_container(
                docker,
                &Target {
                    name,
                    volumes: Vec::new(),
                    created: None,
                },
            )
            .await
        })
    });
    futures::future::try_join_all(removals).await?;
    Ok(())
}

/// Plain-fn bodies running on a blocking thread, by test, so a timed-out test can say
/// its body was still running.
static BLOCKING: once_cell::sync::Lazy<std::sync::Mutex<HashMap<String, usize>>> =
    once_cell::sync::Lazy::new(Default::default);

/// Marks a plain-fn body as running while it lives.
pub(super) struct BlockingBody(String);

impl BlockingBody {
    pub(super) fn enter(test_id: &str) -> Self {
        *BLOCKING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(test_id.to_owned())
            .or_default() += 1;
        BlockingBody(test_id.to_owned())
    }

    fn running(test_id: &str) -> bool {
        BLOCKING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(test_id)
            .is_some_and(|n| *n > 0)
    }
}

impl Drop for BlockingBody {
    fn drop(&mut self) {
        if let Some(n) = BLOCKING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&self.0)
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// Renames the containers of failed test `test_id` to their kept names: a kept
/// container belongs to no one, so no reaper or sweep removes it; `testdock prune
/// --kept` does. Returns the new names.
async fn keep_containers(docker: &Docker, test_id: &str) -> Vec<String> {
    let filter = labels::test_filter(test_id);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filter)
        .build();
    let mut kept = Vec::new();
    for c in crate::docker::compat::list_containers(docker, options)
        .await
        .unwrap_or_default()
    {
        let Some(name) = c.names.as_ref().and_then(|n| n.first()) else {
            continue;
        };
        let name = name.trim_start_matches('/');
        let new_name = labels::kept_name(name);
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::default()
            .name(&new_name)
            .build();
        match docker.rename_container(name, options).await {
            Ok(()) => kept.push(new_name),
            Err(e) => {
                tracing::warn!(container = name, error = %e, "could not keep the container");
                eprintln!("testdock: could not keep container `{name}`: {e}")
            }
        }
    }
    kept
}
