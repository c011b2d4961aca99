//! The raw-bollard floors: the `log` container followed with bollard alone, and the
//! `exit` container awaited with `wait_container`.

use std::time::Duration;

use futures::StreamExt;
use testdock::bollard::models::ContainerCreateBody;
use testdock::bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, WaitContainerOptionsBuilder,
};
use testdock::bollard::Docker;

use crate::clock::{ms_between, now_ns, parse_rfc3339};
use crate::kinds::{Kind, Sample};
use crate::measure::{daemon_split, ready_instant, Teardown};
use crate::support::{self, Result};
use crate::RAW_TEST_ID;

/// The `log` (`exit`) container with bollard alone: create (same labels), start, follow
/// the logs until `ready` (wait until it is not running); T_seen is when the stream
/// delivered the line (the wait returned). The container (if it was created) is handed
/// back for removal.
pub(crate) async fn raw_run(
    docker: &Docker,
    image: &str,
    kind: Kind,
    name: &str,
    ready_after: Duration,
) -> (Result<Sample>, Option<Teardown>) {
    let measured = raw_measure(docker, image, kind, name, ready_after).await;
    (measured, Some(Teardown::Raw(name.to_owned())))
}

async fn raw_measure(
    docker: &Docker,
    image: &str,
    kind: Kind,
    name: &str,
    ready_after: Duration,
) -> Result<Sample> {
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["sh".into(), "-c".into(), kind.script(ready_after)]),
        labels: Some(support::raw::labels(RAW_TEST_ID)),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = docker.create_container(Some(options), body).await?;
    docker.start_container(&created.id, None).await?;
    let t_seen = if kind == Kind::RawExit {
        raw_wait_exit(docker, &created.id).await?
    } else {
        raw_follow_ready(docker, &created.id, name).await?
    };
    let t_ready = ready_instant(docker, &created.id, kind.marker()).await?;
    let state = docker
        .inspect_container(&created.id, None::<InspectContainerOptions>)
        .await?
        .state
        .unwrap_or_default();
    let started = state.started_at.as_deref().and_then(parse_rfc3339);
    let (after_event_ms, docker_ms) = match started {
        Some(started) => {
            daemon_split(docker, &created.id, kind, &state, started, t_ready, t_seen).await?
        }
        None => (None, None),
    };
    Ok(Sample {
        t_ready,
        delay_ms: ms_between(t_seen, t_ready),
        ready_after_start_ms: started.map(|s| ms_between(t_ready, s)),
        after_event_ms,
        docker_ms,
        attempt_ms: None,
    })
}

/// `wait_container(not-running)`; the instant it returned with code 0.
async fn raw_wait_exit(docker: &Docker, id: &str) -> Result<i128> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut wait = std::pin::pin!(docker.wait_container(id, Some(options)));
    match wait.next().await {
        Some(Ok(r)) if r.status_code == 0 => Ok(now_ns()),
        other => Err(format!("waiting for {id} to exit with 0: {other:?}").into()),
    }
}

/// Follows the logs until `ready`; the instant the stream delivered it.
async fn raw_follow_ready(docker: &Docker, id: &str, name: &str) -> Result<i128> {
    support::raw::follow_until(docker, id, name, "ready", now_ns).await
}
