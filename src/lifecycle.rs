//! Starting a container: image -> create -> inject -> start -> ready.
//!
//! The container's removal is registered (a [`RemovalGuard`] holding the name testdock
//! chose) *before* the create request is sent, so there is no instant at which a
//! container exists that nothing will remove: an error, a timeout, or the caller
//! dropping the `start()` future mid-way all end in removal.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;

use crate::cleanup::{RemovalGuard, Target};
use crate::container::{Container, Parts, PortMap};
use crate::error::{Error, LogTail, Result, Step};
use crate::logs::{LineTail, LogStream, TAIL_LINES};
use crate::probe::{LogProbe, LogSource, Probe, StreamMatcher};
use crate::spec::{ContainerSpec, Protocol};

/// Starts a container from `spec` and waits until its probe passes.
///
/// Steps, all within the spec's startup timeout (image preparation excepted): create
/// (labelled, ports published on `127.0.0.1`), copy the injected files in one
/// `put_archive`, start, then wait for readiness while watching for the container to
/// exit. On any failure the container is removed before the error is returned, and
/// the error carries its last log lines.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{ContainerSpec, Probe};
/// let c = testdock::start(ContainerSpec::new("redis:7").wait_for(Probe::log("Ready"))).await?;
/// c.remove().await?;
/// # Ok(()) }
/// ```
pub async fn start(spec: ContainerSpec) -> Result<Container> {
    let daemon = crate::docker::daemon().await?;
    let docker = daemon.client();
    let name = spec.fresh_name();
    // Pure checks first: bad input fails before anything exists.
    let archive = if spec.files.is_empty() {
        None
    } else {
        Some(crate::archive::injection_archive(&spec.files).map_err(|e| e.into_error(&name))?)
    };
    let image = crate::image::ensure(docker, &spec.image).await?;

    let test_id = spec.resolved_test_id();
    let mut guard = RemovalGuard::new(Target {
        name: name.clone(),
        volumes: spec.named_volumes(),
        created: None,
    });
    let created_tx = guard.create_pending();
    let started = Instant::now();
    let ctx = Ctx {
        docker,
        name: &name,
        image: &image,
        started,
    };
    let outcome = tokio::time::timeout(
        spec.startup_timeout,
        bring_up(&ctx, &spec, test_id, archive, created_tx),
    )
    .await;
    let failure = match outcome {
        Ok(Ok(up)) => {
            let parts = Parts {
                host: daemon.host().to_owned(),
                id: up.id,
                image,
                stop_signal: spec.stop_signal.clone(),
                test_id: test_id.to_owned(),
                ports: up.ports,
            };
            return Ok(Container::new(docker.clone(), guard, parts));
        }
        Ok(Err(error)) => error,
        Err(_elapsed) => Error::Timeout {
            step: Step::Ready,
            container: name.clone(),
            image: image.clone(),
            limit: spec.startup_timeout,
            elapsed: started.elapsed(),
            waiting_for: Some(spec.probe.to_string()),
            logs: crate::logs::tail(docker, &name).await,
        },
    };
    if let Err(e) = guard.remove(docker).await {
        eprintln!("testdock: cleanup after a failed start also failed: {e:?}");
    }
    Err(failure)
}

struct Ctx<'a> {
    docker: &'a Docker,
    name: &'a str,
    image: &'a str,
    started: Instant,
}

impl Ctx<'_> {
    fn docker_error(
        &self,
        step: Step,
        source: bollard::errors::Error,
        logs: Option<LogTail>,
    ) -> Error {
        Error::Docker {
            step,
            container: self.name.to_owned(),
            image: self.image.to_owned(),
            elapsed: self.started.elapsed(),
            logs,
            source: Box::new(source),
        }
    }
}

struct Up {
    id: String,
    ports: PortMap,
}

async fn bring_up(
    ctx: &Ctx<'_>,
    spec: &ContainerSpec,
    test_id: &str,
    archive: Option<Vec<u8>>,
    created_tx: tokio::sync::watch::Sender<bool>,
) -> Result<Up> {
    let docker = ctx.docker;
    let body = spec.create_body(ctx.name, ctx.image, test_id);
    let options = CreateContainerOptionsBuilder::default()
        .name(ctx.name)
        .build();
    // The create runs detached on the teardown runtime: if this future is dropped while
    // the request is in flight, the daemon still creates the container, and the guard
    // waits for the answer before removing it.
    let create = {
        let docker = docker.clone();
        async move {
            let result = docker.create_container(Some(options), body).await;
            let _ = created_tx.send(true);
            result
        }
    };
    let created = crate::cleanup::spawn_detached(create)
        .map_err(|source| Error::HostIo {
            action: "start the teardown thread for",
            path: ctx.name.into(),
            target: None,
            source,
        })?
        .await
        .expect("the create request does not panic")
        .map_err(|e| ctx.docker_error(Step::Create, e, None))?;

    if let Some(archive) = archive {
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        docker
            .upload_to_container(
                &created.id,
                Some(options),
                bollard::body_full(archive.into()),
            )
            .await
            .map_err(|e| ctx.docker_error(Step::Inject, e, None))?;
    }

    if let Err(e) = docker.start_container(&created.id, None).await {
        let logs = crate::logs::tail(docker, &created.id).await;
        return Err(ctx.docker_error(Step::Start, e, Some(logs)));
    }

    let ready = wait_ready(ctx, &created.id, &spec.probe);
    let ports = async {
        if spec.ports.is_empty() {
            Ok(PortMap::new())
        } else {
            published_ports(ctx, &created.id).await
        }
    };
    let (ready, ports) = futures::join!(ready, ports);
    ready?;
    Ok(Up {
        id: created.id,
        ports: ports?,
    })
}

/// Waits for `probe`, failing at once if the container exits.
async fn wait_ready(ctx: &Ctx<'_>, id: &str, probe: &Probe) -> Result<()> {
    match probe {
        Probe::Started => Ok(()),
        Probe::Log(log) => wait_for_log(ctx, id, log).await,
    }
}

/// Follows the logs from the first line until the pattern has been seen often enough.
/// The followed stream ends when the container stops, which is how an exit is noticed
/// without polling.
async fn wait_for_log(ctx: &Ctx<'_>, id: &str, probe: &LogProbe) -> Result<()> {
    let mut stdout = StreamMatcher::new(&probe.pattern);
    let mut stderr = StreamMatcher::new(&probe.pattern);
    let (mut seen_out, mut seen_err) = (0, 0);
    let mut tail = LineTail::new(TAIL_LINES);
    let mut chunks = std::pin::pin!(crate::logs::stream(ctx.docker, id, true, None));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ctx.docker_error(Step::Ready, e, Some(tail.snapshot())))?;
        tail.push(&chunk);
        match (chunk.stream, probe.source) {
            (LogStream::Stdout, LogSource::Stdout | LogSource::Either) => {
                seen_out = stdout.feed(&chunk.bytes)
            }
            (LogStream::Stderr, LogSource::Stderr | LogSource::Either) => {
                seen_err = stderr.feed(&chunk.bytes)
            }
            _ => {}
        }
        if seen_out + seen_err >= probe.occurrences {
            return Ok(());
        }
    }
    Err(exited(ctx, id, Step::Ready, tail.finish()).await)
}

/// The error for a container that stopped while it was being waited for.
async fn exited(ctx: &Ctx<'_>, id: &str, step: Step, logs: LogTail) -> Error {
    match ctx.docker.inspect_container(id, None).await {
        Ok(info) => {
            let state = info.state.unwrap_or_default();
            Error::Exited {
                step,
                container: ctx.name.to_owned(),
                image: ctx.image.to_owned(),
                exit_code: state.exit_code.unwrap_or(-1),
                oom_killed: state.oom_killed.unwrap_or(false),
                elapsed: ctx.started.elapsed(),
                logs,
            }
        }
        Err(e) => ctx.docker_error(Step::Inspect, e, Some(logs)),
    }
}

/// The host ports the daemon chose, read from one inspect after start.
async fn published_ports(ctx: &Ctx<'_>, id: &str) -> Result<PortMap> {
    let info = ctx
        .docker
        .inspect_container(id, None)
        .await
        .map_err(|e| ctx.docker_error(Step::Inspect, e, None))?;
    Ok(port_map(
        info.network_settings
            .and_then(|n| n.ports)
            .unwrap_or_default(),
    ))
}

/// Picks each port's IPv4 mapping out of the daemon's port map.
pub(crate) fn port_map(
    ports: HashMap<String, Option<Vec<bollard::models::PortBinding>>>,
) -> PortMap {
    let mut map = PortMap::new();
    for (key, bindings) in ports {
        let Some((number, proto)) = key.split_once('/') else {
            continue;
        };
        let Ok(number) = number.parse::<u16>() else {
            continue;
        };
        let protocol = match proto {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => continue,
        };
        let host_port = bindings.unwrap_or_default().into_iter().find_map(|b| {
            let ip = b.host_ip.unwrap_or_default();
            let is_v4 = ip.is_empty() || ip.parse::<std::net::Ipv4Addr>().is_ok();
            is_v4.then(|| b.host_port?.parse::<u16>().ok()).flatten()
        });
        if let Some(host_port) = host_port {
            map.insert((number, protocol), host_port);
        }
    }
    map
}

/// Default time given to a graceful stop before the daemon kills.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortBinding;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: Some(ip.into()),
            host_port: Some(port.into()),
        }
    }

    #[test]
    fn port_map_prefers_the_ipv4_binding() {
        let ports = HashMap::from([
            (
                "80/tcp".to_owned(),
                Some(vec![binding("::", "4000"), binding("127.0.0.1", "4001")]),
            ),
            ("53/udp".to_owned(), Some(vec![binding("0.0.0.0", "4002")])),
            ("9/tcp".to_owned(), None),
        ]);
        let map = port_map(ports);
        assert_eq!(map.get(&(80, Protocol::Tcp)), Some(&4001));
        assert_eq!(map.get(&(53, Protocol::Udp)), Some(&4002));
        assert_eq!(map.get(&(9, Protocol::Tcp)), None);
    }
}
