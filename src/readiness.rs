//! Evaluating a [`Probe`] against a started container.
//!
//! Streaming probes (log lines, the exit wait) react to the event itself; polling
//! probes retry with [`Backoff`]. While any probe other than a log probe waits, a
//! watcher follows the daemon's events for the container, so an exit, an OOM kill or an
//! `unhealthy` health status ends the wait at once.

mod http;
mod tcp;
mod watch;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use bollard::query_parameters::WaitContainerOptionsBuilder;
use bollard::Docker;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::exec::Exec;
use crate::logs::LogStream;
use crate::ports::PortMap;
use crate::probe::{Backoff, Kind, LogProbe, LogSource, Probe, ProbeTarget};

/// Why readiness was not reached.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The container stopped while being waited for.
    Exited,
    /// The probe can never pass (wrong exit code, unhealthy, bad input).
    Definitive(String),
    /// A probe's own limit passed.
    ProbeTimeout { probe: String, limit: Duration },
    /// A daemon call failed.
    Docker(bollard::errors::Error),
}

/// What each polling probe saw last, for timeout messages. A probe that passes is
/// forgotten, so a composite reports only the parts still waiting.
#[derive(Debug, Default)]
pub(crate) struct Observations(Mutex<BTreeMap<String, String>>);

impl Observations {
    fn set(&self, probe: &str, what: String) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(probe.to_owned(), what);
    }

    fn clear(&self, probe: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(probe);
    }

    /// `probe`, followed by what its waiting parts saw last.
    pub(crate) fn describe(&self, probe: &str) -> String {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match seen.len() {
            0 => probe.to_owned(),
            1 => {
                let (_, last) = seen.iter().next().expect("one entry");
                format!("{probe} (last attempt: {last})")
            }
            _ => {
                let parts: Vec<String> = seen.iter().map(|(p, l)| format!("{p}: {l}")).collect();
                format!("{probe} (last attempts: {})", parts.join("; "))
            }
        }
    }
}

/// The container being probed.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    pub(crate) docker: &'a Docker,
    pub(crate) id: &'a str,
    pub(crate) host: &'a str,
    pub(crate) ports: &'a PortMap,
    /// What polling probes saw last.
    pub(crate) last: &'a Observations,
}

impl Target<'_> {
    fn addr(&self, port: u16) -> Result<std::net::SocketAddr, Failure> {
        self.probe_target().addr(port).map_err(Failure::Definitive)
    }

    fn probe_target(&self) -> ProbeTarget {
        ProbeTarget {
            docker: self.docker.clone(),
            id: self.id.to_owned(),
            host: self.host.to_owned(),
            ports: self.ports.clone(),
        }
    }
}

/// Waits until `probe` passes, failing fast when the container dies. `since` is a
/// daemon timestamp (seconds) from before the container was started, so the watcher
/// sees events that happened before it subscribed.
pub(crate) async fn wait(target: &Target<'_>, probe: &Probe, since: f64) -> Result<(), Failure> {
    if probe.is_log_only() {
        // The followed log stream ends when the container stops: no watcher needed.
        return eval(target, probe).await;
    }
    let watcher = watch::fail_fast(target.docker, target.id, since, probe.expects_exit());
    tokio::select! {
        result = eval(target, probe) => result,
        failure = watcher => Err(failure),
    }
}

fn eval<'a>(target: &'a Target<'a>, probe: &'a Probe) -> BoxFuture<'a, Result<(), Failure>> {
    async move {
        match &probe.kind {
            Kind::Started => Ok(()),
            Kind::Log(log) => wait_for_log(target, log).await,
            Kind::Tcp(tcp) => {
                let addr = target.addr(tcp.port)?;
                poll(target, probe, || tcp::check(target, addr, tcp)).await
            }
            Kind::Http(http) => {
                let addr = target.addr(http.port)?;
                poll(target, probe, || async {
                    http::check(addr, target.host, http)
                        .await
                        .map_err(Attempt::Retry)
                })
                .await
            }
            Kind::Exec(cmd) => poll(target, probe, || exec_check(target, cmd)).await,
            Kind::Healthy => wait_healthy(target).await,
            Kind::Exit(code) => wait_exit(target, *code).await,
            Kind::Delay(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            Kind::All(probes) => {
                futures::future::try_join_all(probes.iter().map(|p| eval(target, p)))
                    .await
                    .map(|_| ())
            }
            Kind::Any(probes) if probes.is_empty() => Ok(()),
            Kind::Any(probes) => futures::future::select_ok(probes.iter().map(|p| eval(target, p)))
                .await
                .map(|_| ()),
            Kind::Custom(check) => {
                poll(target, probe, || async {
                    if check.run(target.probe_target()).await {
                        Ok(())
                    } else {
                        Err(Attempt::Retry(format!(
                            "custom check `{}` returned false",
                            check.name()
                        )))
                    }
                })
                .await
            }
            Kind::Within(inner, limit) => {
                let limit = crate::timeouts::scaled(*limit);
                match tokio::time::timeout(limit, eval(target, inner)).await {
                    Ok(result) => result,
                    Err(_) => Err(Failure::ProbeTimeout {
                        probe: inner.to_string(),
                        limit,
                    }),
                }
            }
        }
    }
    .boxed()
}

/// Retries `attempt` with back-off until it passes; each failure is recorded as the
/// last observation. A definitive failure (e.g. an unpublished port) stops at once.
/// Each attempt is a DEBUG event `probe attempt` with `probe`, `attempt` (from 1),
/// `outcome` (`ready`, `retry` or `never`), `elapsed_ms` and what was `seen`.
async fn poll<F, Fut>(target: &Target<'_>, probe: &Probe, mut attempt: F) -> Result<(), Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Attempt>>,
{
    let key = probe.to_string();
    let mut backoff = Backoff::new();
    let mut n: u64 = 0;
    loop {
        n += 1;
        let started = std::time::Instant::now();
        let result = attempt().await;
        let elapsed_ms = crate::trace::ms(started.elapsed());
        match result {
            Ok(()) => {
                tracing::debug!(probe = %key, attempt = n, outcome = "ready", elapsed_ms, "probe attempt");
                target.last.clear(&key);
                return Ok(());
            }
            Err(Attempt::Retry(what)) => {
                tracing::debug!(probe = %key, attempt = n, outcome = "retry", elapsed_ms, seen = %what, "probe attempt");
                target.last.set(&key, what)
            }
            Err(Attempt::Never(why)) => {
                tracing::debug!(probe = %key, attempt = n, outcome = "never", elapsed_ms, seen = %why, "probe attempt");
                return Err(Failure::Definitive(why));
            }
        }
        backoff.wait().await;
    }
}

/// A failed attempt of a polling probe.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Not yet: what was seen.
    Retry(String),
    /// It can never pass: why.
    Never(String),
}

impl From<String> for Attempt {
    fn from(what: String) -> Self {
        Attempt::Retry(what)
    }
}

/// Follows the logs from the first line until the pattern has been seen often enough.
async fn wait_for_log(target: &Target<'_>, probe: &LogProbe) -> Result<(), Failure> {
    let mut stdout = probe.matcher().map_err(Failure::Definitive)?;
    let mut stderr = probe.matcher().map_err(Failure::Definitive)?;
    let (mut seen_out, mut seen_err) = (0, 0);
    let mut chunks = std::pin::pin!(crate::logs::stream(target.docker, target.id, true, None));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(Failure::Docker)?;
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
            tracing::debug!(probe = %probe, seen = seen_out + seen_err, outcome = "ready", "log probe matched");
            return Ok(());
        }
    }
    tracing::debug!(probe = %probe, seen = seen_out + seen_err, outcome = "exited", "log probe: the log ended");
    Err(Failure::Exited)
}

async fn exec_check(target: &Target<'_>, cmd: &[String]) -> Result<(), Attempt> {
    let out = Exec::new(cmd.iter().cloned())
        .run(target.docker, target.id)
        .await
        .map_err(|e| Attempt::Retry(format!("exec failed: {e}")))?;
    if out.success() {
        return Ok(());
    }
    let what = format!(
        "`{}` exited with {}{}",
        cmd.join(" "),
        out.exit_code,
        output_suffix(&out)
    );
    if cannot_run(target, &out).await {
        return Err(Attempt::Never(format!(
            "{what} (the command cannot be run in this image)"
        )));
    }
    Err(Attempt::Retry(what))
}

/// Whether an exec failed because its command cannot run at all (not found, not
/// executable): waiting longer will not change that. 126 also comes from an exec into a
/// container that is going away, which is retried (the watcher reports the exit), so
/// the container must still run.
pub(crate) async fn cannot_run(target: &Target<'_>, out: &crate::ExecOutput) -> bool {
    let output = format!("{}{}", out.stdout_text(), out.stderr_text()).to_lowercase();
    let says_so = out.exit_code == 127
        || (out.exit_code == 126
            && ["executable file not found", "permission denied", "exec: \""]
                .iter()
                .any(|s| output.contains(s)));
    says_so && still_running(target).await
}

async fn still_running(target: &Target<'_>) -> bool {
    crate::docker::compat::inspect_container(target.docker, target.id)
        .await
        .ok()
        .and_then(|i| i.state?.running)
        .unwrap_or(false)
}

/// `: <last line of output>`, from stderr or else stdout (where the daemon puts its own
/// errors about the command), or nothing. The runtime's own `exec failed` line wins over
/// a later one (Podman follows it with `Error: read unixpacket ...: connection reset`).
pub(crate) fn output_suffix(out: &crate::ExecOutput) -> String {
    let pick = |text: String| {
        let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
        lines()
            .find(|l| l.contains("exec failed"))
            .or_else(|| lines().next_back())
            .map(str::to_owned)
    };
    match pick(out.stderr_text()).or_else(|| pick(out.stdout_text())) {
        Some(line) => format!(": {line}"),
        None => String::new(),
    }
}

async fn wait_healthy(target: &Target<'_>) -> Result<(), Failure> {
    // Docker announces each change of health status as an event: wake on it rather than
    // poll (a slow poll as the fallback, should an event be missed).
    let mut changes = std::pin::pin!(watch::health_changes(target.docker, target.id));
    loop {
        let info = crate::docker::compat::inspect_container(target.docker, target.id)
            .await
            .map_err(Failure::Docker)?;
        let state = info.state.unwrap_or_default();
        use bollard::models::HealthStatusEnum as H;
        // Podman reports a container without a healthcheck with an empty health status.
        let health = state
            .health
            .filter(|h| !matches!(h.status, None | Some(H::EMPTY | H::NONE)));
        let Some(health) = health else {
            return Err(Failure::Definitive(
                "the container has no healthcheck: define one with ContainerSpec::healthcheck \
                 or use an image with a HEALTHCHECK"
                    .to_owned(),
            ));
        };
        tracing::debug!(probe = "healthcheck", status = ?health.status, "probe attempt");
        match health.status {
            Some(H::HEALTHY) => {
                target.last.clear("healthcheck");
                return Ok(());
            }
            Some(H::UNHEALTHY) => return Err(watch::unhealthy_failure(health.log)),
            _ if state.running == Some(false) => return Err(Failure::Exited),
            other => target.last.set(
                "healthcheck",
                format!(
                    "health status is {}",
                    other.map_or("unknown".to_owned(), |s| s.to_string())
                ),
            ),
        }
        if let Ok(None) = tokio::time::timeout(Duration::from_secs(1), changes.next()).await {
            // The event stream ended: poll instead.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn wait_exit(target: &Target<'_>, expected: i64) -> Result<(), Failure> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut wait = std::pin::pin!(target.docker.wait_container(target.id, Some(options)));
    let code = match wait.next().await {
        Some(Ok(response)) => response.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(Failure::Docker(e)),
        None => {
            return Err(Failure::Definitive(
                "the daemon ended the wait without an exit code".into(),
            ))
        }
    };
    if code == expected {
        Ok(())
    } else {
        Err(Failure::Definitive(format!(
            "the container exited with code {code}, expected {expected}"
        )))
    }
}
