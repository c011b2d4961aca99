//! The measurement: the rounds of variants, each testdock start timed against the
//! daemon's timestamp of the ready line, then (untimed) the daemon's events and the
//! cost of one probe attempt; removals overlap the next run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use testdock::bollard::models::ContainerState;
use testdock::bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, LogsOptionsBuilder,
};
use testdock::bollard::Docker;
use testdock::{labels, Container, Exec, HostImage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::clock::{ms_between, now_ns, parse_rfc3339};
use crate::kinds::{Kind, Plan, Sample, Samples, KINDS};
use crate::raw::raw_run;
use crate::support::leaks::is_404;
use crate::support::raw::force_remove;
use crate::support::run::alternate;
use crate::support::{BoxError, Result};
use crate::{MAX_FAILURES, PORT, PROXY_CLOSE_WINDOW, READY_BASE, READY_JITTER, RUN_LIMIT, WARMUP};

/// Runs the rounds of `plan`; the samples of the counted ones, and the failures.
pub(crate) async fn measure(
    docker: &Docker,
    image: &HostImage,
    image_ref: &str,
    plan: Plan,
) -> Result<Samples> {
    let mut samples = Samples::default();
    let mut seq = 0usize;
    // The previous run's removal overlaps this run's create and start (a removal takes
    // ~0.1-0.2 s, the ready instant comes at least READY_BASE after the container
    // started); it is joined after the run, and a removal that ended near the run's
    // T_ready is counted and reported.
    let mut in_flight: Option<tokio::task::JoinHandle<Result<i128>>> = None;
    for round in 0..WARMUP + plan.primary {
        let counted = round >= WARMUP;
        let with_others = !counted || plan.others_in(round - WARMUP);
        let order: Vec<Kind> = KINDS
            .into_iter()
            .filter(|k| k.primary() || with_others)
            .filter(|k| samples.failures.get(k).map_or(0, Vec::len) < MAX_FAILURES)
            .collect();
        for kind in alternate(order, round) {
            seq += 1;
            let ready_after = READY_BASE + READY_JITTER.mul_f64(rand::random::<f64>());
            let raw_name = format!("bench-readiness-raw-{}-{seq}", labels::session_id());
            let run = async {
                match kind {
                    Kind::Raw | Kind::RawExit => {
                        raw_run(docker, image_ref, kind, &raw_name, ready_after).await
                    }
                    _ => testdock_run(docker, image, kind, ready_after).await,
                }
            };
            let (result, teardown) = match tokio::time::timeout(RUN_LIMIT, run).await {
                Ok(done) => done,
                Err(_) => (
                    Err(format!("the run took over {RUN_LIMIT:?}").into()),
                    // A dropped testdock start or handle removes its container itself.
                    matches!(kind, Kind::Raw | Kind::RawExit)
                        .then(|| Teardown::Raw(raw_name.clone())),
                ),
            };
            let removed_at = match in_flight.take() {
                Some(previous) => Some(
                    previous
                        .await?
                        .map_err(|e| format!("removing a container: {e}"))?,
                ),
                None => None,
            };
            match result {
                Ok(sample) if counted => {
                    if removed_at.is_some_and(|t| t > sample.t_ready - 20_000_000) {
                        samples.overlaps += 1;
                    }
                    samples.by_kind.entry(kind).or_default().push(sample)
                }
                Ok(_) => {}
                Err(e) => samples
                    .failures
                    .entry(kind)
                    .or_default()
                    .push(e.to_string()),
            }
            in_flight = teardown.map(|t| tokio::spawn(t.run(docker.clone())));
        }
    }
    if let Some(last) = in_flight.take() {
        last.await?
            .map_err(|e| format!("removing a container: {e}"))?;
    }
    if samples.of(Kind::Log).is_empty() || samples.of(Kind::Raw).is_empty() {
        let failures: Vec<_> = samples.failures.iter().collect();
        return Err(format!("no log or raw sample was taken; failures: {failures:#?}").into());
    }
    Ok(samples)
}

/// What is left to remove after a run.
#[derive(Debug)]
pub(crate) enum Teardown {
    Testdock(Box<Container>),
    /// A raw container's name (it may never have been created).
    Raw(String),
}

impl Teardown {
    /// Removes; returns when the removal ended (ns since the epoch).
    async fn run(self, docker: Docker) -> Result<i128> {
        match self {
            Teardown::Testdock(c) => {
                c.remove().await?;
                Ok(now_ns())
            }
            Teardown::Raw(name) => {
                match docker.remove_container(&name, Some(force_remove())).await {
                    Ok(()) => Ok(now_ns()),
                    Err(e) if is_404(&e) => Ok(now_ns()),
                    Err(e) => Err(format!("removing {name}: {e}").into()),
                }
            }
        }
    }
}

/// A testdock start of `kind`: the delay, then (untimed) the daemon's view and the cost
/// of one probe attempt. The container is handed back for removal.
async fn testdock_run(
    docker: &Docker,
    image: &HostImage,
    kind: Kind,
    ready_after: Duration,
) -> (Result<Sample>, Option<Teardown>) {
    let spec = kind.spec(image, ready_after);
    let c = match spec.start().await {
        Ok(c) => c,
        // A failed start removed its container.
        Err(e) => return (Err(e.into()), None),
    };
    let t_return = now_ns();
    let measured = after_return(docker, &c, kind, t_return).await;
    (measured, Some(Teardown::Testdock(Box::new(c))))
}

async fn after_return(
    docker: &Docker,
    c: &Container,
    kind: Kind,
    t_return: i128,
) -> Result<Sample> {
    let t_ready = ready_instant(docker, c.id(), kind.marker()).await?;
    let attempt_ms = attempt_cost(docker, c, kind).await?;
    let info = docker
        .inspect_container(c.id(), None::<InspectContainerOptions>)
        .await?;
    let state = info.state.unwrap_or_default();
    let started = state.started_at.as_deref().and_then(parse_rfc3339);
    let (after_event_ms, docker_ms) = match started {
        Some(started) => {
            daemon_split(docker, c.id(), kind, &state, started, t_ready, t_return).await?
        }
        None => (None, None),
    };
    Ok(Sample {
        t_ready,
        delay_ms: ms_between(t_return, t_ready),
        ready_after_start_ms: started.map(|s| ms_between(t_ready, s)),
        after_event_ms,
        docker_ms,
        attempt_ms,
    })
}

/// For `healthy` and the exits: (T_return - the daemon's event, Docker's own part), ms.
pub(crate) async fn daemon_split(
    docker: &Docker,
    id: &str,
    kind: Kind,
    state: &ContainerState,
    started: i128,
    t_ready: i128,
    t_return: i128,
) -> Result<(Option<f64>, Option<f64>)> {
    let (action, docker_done) = match kind {
        Kind::Healthy => (
            "health_status: healthy",
            state
                .health
                .as_ref()
                .and_then(|h| h.log.as_ref())
                .into_iter()
                .flatten()
                .filter(|r| r.exit_code == Some(0))
                .filter_map(|r| r.end.as_deref().and_then(parse_rfc3339))
                .min(),
        ),
        Kind::Exit | Kind::RawExit => ("die", state.finished_at.as_deref().and_then(parse_rfc3339)),
        _ => return Ok((None, None)),
    };
    let event = events_of(docker, id, started)
        .await?
        .into_iter()
        .filter(|(a, _)| a == action)
        .map(|(_, t)| t)
        .min()
        .ok_or_else(|| format!("no `{action}` event for container {id}"))?;
    Ok((
        Some(ms_between(t_return, event)),
        docker_done.map(|t| ms_between(t, t_ready)),
    ))
}

/// The container's events from just before `since` until now: (action, daemon time ns).
async fn events_of(docker: &Docker, id: &str, since: i128) -> Result<Vec<(String, i128)>> {
    let stamp = |t: i128| {
        format!(
            "{}.{:09}",
            t.div_euclid(1_000_000_000),
            t.rem_euclid(1_000_000_000)
        )
    };
    let options = EventsOptions {
        since: Some(stamp(since - 1_000_000_000)),
        until: Some(stamp(now_ns())),
        filters: Some(HashMap::from([
            ("container".to_owned(), vec![id.to_owned()]),
            ("type".to_owned(), vec!["container".to_owned()]),
        ])),
    };
    let read = async {
        let mut events = std::pin::pin!(docker.events(Some(options)));
        let mut out = Vec::new();
        while let Some(event) = events.next().await {
            let event = event?;
            if let (Some(action), Some(t)) = (event.action, event.time_nano) {
                out.push((action, i128::from(t)));
            }
        }
        Ok::<_, BoxError>(out)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .map_err(|_| "reading the events did not end within 10 s")?
}

/// The daemon's timestamp of the first log line containing `marker`. Follows the logs,
/// so it also works when `start()` returned before the line was printed.
pub(crate) async fn ready_instant(docker: &Docker, id: &str, marker: &str) -> Result<i128> {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .build();
    let find = async {
        let mut logs = std::pin::pin!(docker.logs(id, Some(options)));
        let mut seen = String::new();
        while let Some(frame) = logs.next().await {
            let frame = frame?;
            let text = String::from_utf8_lossy(frame.as_ref()).into_owned();
            for line in text.lines() {
                let Some((stamp, message)) = line.split_once(' ') else {
                    continue;
                };
                if message.contains(marker) {
                    return parse_rfc3339(stamp).ok_or_else(|| -> BoxError {
                        format!("log timestamp {stamp:?} is not RFC 3339").into()
                    });
                }
            }
            seen.push_str(&text);
        }
        Err(format!("the logs ended without `{marker}`: {seen:?}").into())
    };
    tokio::time::timeout(Duration::from_secs(10), find)
        .await
        .map_err(|_| format!("`{marker}` was not logged within 10 s"))?
}

/// One attempt of the kind's probe, done by hand on the ready container.
async fn attempt_cost(docker: &Docker, c: &Container, kind: Kind) -> Result<Option<f64>> {
    let started = Instant::now();
    match kind {
        Kind::Log | Kind::Raw | Kind::Exit | Kind::RawExit => return Ok(None),
        Kind::Tcp => tcp_attempt(c).await?,
        Kind::TcpInside => {
            tcp_attempt(c).await?;
            c.exec(Exec::new(["cat", "/proc/net/tcp", "/proc/net/tcp6"]))
                .await?;
        }
        Kind::Http => {
            let mut s = tokio::net::TcpStream::connect(c.addr(PORT)?).await?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
                .await?;
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await?;
            if !answer.starts_with(b"HTTP/1.") || !answer[..].windows(4).any(|w| w == b" 200") {
                return Err(format!(
                    "httpd answered {:?}",
                    String::from_utf8_lossy(&answer[..answer.len().min(80)])
                )
                .into());
            }
        }
        Kind::Exec => {
            let out = c.exec(Exec::new(["test", "-f", "/tmp/ready"])).await?;
            if !out.success() {
                return Err(format!("the exec probe's command exited {}", out.exit_code).into());
            }
        }
        Kind::Healthy => {
            docker
                .inspect_container(c.id(), None::<InspectContainerOptions>)
                .await?;
        }
    }
    Ok(Some(started.elapsed().as_secs_f64() * 1e3))
}

/// What the TCP probe does: connect, then give the peer PROXY_CLOSE_WINDOW to close (the
/// docker-proxy's sign that nothing listens); a silent, open connection passes.
async fn tcp_attempt(c: &Container) -> Result<()> {
    let mut stream = tokio::net::TcpStream::connect(c.addr(PORT)?).await?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(PROXY_CLOSE_WINDOW, stream.read(&mut byte)).await {
        Ok(Ok(0)) => Err("the connection was closed at once: nothing listens".into()),
        _ => Ok(()),
    }
}
