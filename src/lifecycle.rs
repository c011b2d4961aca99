//! Starting a container: image -> create -> inject -> start -> ready.
//!
//! The container's removal is registered (a [`RemovalGuard`] holding the name testdock
//! chose) *before* the create request is sent, so there is no instant at which a
//! container exists that nothing will remove: an error, a timeout, or the caller
//! dropping the `start()` future mid-way all end in removal.
//!
//! Each step runs in its own span (`testdock.image`, `testdock.create`,
//! `testdock.inject`, `testdock.start`, `testdock.ready`) under the container's
//! `testdock.container` span, and is timed into the [`StepTimings`] the container keeps.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::query_parameters::UploadToContainerOptionsBuilder;
use bollard::Docker;
use tracing::field::Empty;
use tracing::Instrument;

use crate::cleanup::{RemovalGuard, Target};
use crate::container::{Container, Parts};
use crate::error::{Error, LogTail, Result, Step};
use crate::ports::{PortMap, Protocol};
use crate::probe::Probe;
use crate::readiness::{self, Failure, Observations};
use crate::spec::ContainerSpec;
use crate::timings::StepTimings;
use crate::trace::{ms, timed};

// `start` lives here, by the engine it drives, so that the spec (a plain description)
// does not depend on the lifecycle.
impl ContainerSpec {
    /// Starts a container from this spec and waits until its probe passes.
    ///
    /// Steps, all within the spec's startup timeout (image preparation excepted):
    /// create (labelled, ports published on `127.0.0.1`), copy the injected files in
    /// one `put_archive`, start, then wait for readiness while watching for the
    /// container to exit. On any failure the container is removed before the error is
    /// returned, and the error carries its last log lines.
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// use testdock::{ContainerSpec, Probe};
    /// let c = ContainerSpec::new("redis:7")
    ///     .wait_for(Probe::log("Ready"))
    ///     .start()
    ///     .await?;
    /// c.remove().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Container> {
        start(self).await
    }
}

/// Starts a container from `spec`: see [`ContainerSpec::start`].
pub(crate) async fn start(spec: ContainerSpec) -> Result<Container> {
    let name = spec.fresh_name();
    let span = tracing::info_span!(
        "testdock.container",
        container = %name,
        test = %spec.resolved_test_id(),
        image = Empty,
        elapsed_ms = Empty,
    );
    let started = Instant::now();
    let result = start_named(spec, name).instrument(span.clone()).await;
    let elapsed_ms = ms(started.elapsed());
    span.record("elapsed_ms", elapsed_ms);
    match &result {
        Ok(c) => {
            let t = c.timings();
            tracing::info!(
                parent: &span,
                elapsed_ms,
                image_ms = ms(t.image),
                create_ms = ms(t.create),
                inject_ms = ms(t.inject),
                start_ms = ms(t.start),
                ready_ms = ms(t.ready),
                "container ready"
            );
        }
        Err(error) => tracing::info!(parent: &span, elapsed_ms, %error, "container start failed"),
    }
    result
}

async fn start_named(spec: ContainerSpec, name: String) -> Result<Container> {
    let daemon = crate::docker::daemon().await?;
    let docker = daemon.client();
    // Pure checks first: bad input fails before anything exists, and the error names
    // what the container would have been, not a name nothing ever had.
    let planned = format!("(not created) a container of {}", spec.image.describe());
    let invalid = |message: String| Error::InvalidInput {
        container: planned.clone(),
        message,
    };
    spec.check_labels().map_err(invalid)?;
    let published: Vec<u16> = spec
        .ports
        .iter()
        .filter(|p| p.protocol == Protocol::Tcp)
        .map(|p| p.number)
        .collect();
    spec.probe.check(&published).map_err(invalid)?;
    let archive = if spec.files.is_empty() {
        None
    } else {
        Some(
            crate::archive::injection_archive_async(spec.files.clone())
                .await
                .map_err(|e| e.into_error(&planned))?,
        )
    };
    let image_started = Instant::now();
    let image = crate::image::ensure(docker, &spec.image).await?;
    let image_took = image_started.elapsed();
    tracing::Span::current().record("image", image.as_str());

    let test_id = spec.resolved_test_id();
    crate::cleanup::before_first_resource().await;
    let mut guard = RemovalGuard::new(
        Target {
            name: name.clone(),
            volumes: spec.named_volumes(),
            created: None,
        },
        test_id,
    );
    let created_tx = guard.create_pending();
    let limit = crate::timeouts::scaled(spec.startup_timeout);
    let pod = match spec.pool_eligible() {
        true => crate::pool::pod(test_id, daemon).await?,
        false => None,
    };
    let ctx = Ctx {
        docker,
        daemon,
        pod,
        name: &name,
        image: &image,
        started: Instant::now(),
        step: Mutex::new(Step::Create),
        last: Observations::default(),
        timings: Mutex::new(StepTimings {
            image: image_took,
            ..StepTimings::default()
        }),
    };
    let outcome =
        tokio::time::timeout(limit, bring_up(&ctx, &spec, test_id, archive, created_tx)).await;
    let parts = |up: Up, image: String| Parts {
        host: up.host,
        id: up.id,
        image,
        stop_signal: spec.stop_signal.clone(),
        test_id: test_id.to_owned(),
        ports: up.ports,
        timings: *ctx.timings.lock().unwrap_or_else(|e| e.into_inner()),
    };
    let failure = match outcome {
        Ok(Ok(up)) => {
            if spec.sharing.is_some() {
                // A shared fixture's container outlives this handle: its scope removes it.
                guard.disarm();
            }
            return Ok(Container::new(docker.clone(), guard, parts(up, image)));
        }
        Ok(Err(error)) => error,
        Err(_elapsed) => {
            let step = *ctx.step.lock().unwrap_or_else(|e| e.into_inner());
            let waiting_for = (step == Step::Ready).then(|| ctx.waiting_for(&spec.probe));
            ctx.timeout(step, limit, waiting_for).await
        }
    };
    if spec.sharing.is_some()
        && failure.step() == Some(Step::Create)
        && failure.status_code() == Some(409)
    {
        // Another process of the session created the shared container first: use it.
        guard.disarm();
        let attach = ctx.timed(Step::Ready, ready_span(&ctx, &spec), attach(&ctx, &spec));
        let up = tokio::time::timeout(limit, attach).await;
        return match up {
            Ok(Ok(up)) => Ok(Container::new(docker.clone(), guard, parts(up, image))),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ctx
                .timeout(Step::Ready, limit, Some(ctx.waiting_for(&spec.probe)))
                .await),
        };
    }
    if let Err(e) = guard.remove(docker).await {
        // The start's own error is returned; the guard, still armed, retries on drop.
        tracing::warn!(container = %name, error = ?e, "cleanup after a failed start also failed");
    }
    Err(failure)
}

struct Ctx<'a> {
    docker: &'a Docker,
    daemon: &'a crate::docker::Daemon,
    /// The pooled pause whose namespace the container joins (see [`crate::pool`]).
    pod: Option<crate::pool::Pause>,
    name: &'a str,
    image: &'a str,
    started: Instant,
    /// The step in progress, for the error when the startup timeout strikes.
    step: Mutex<Step>,
    /// What polling probes saw last.
    last: Observations,
    /// How long each step took so far.
    timings: Mutex<StepTimings>,
}

impl Ctx<'_> {
    fn enter(&self, step: Step) {
        *self.step.lock().unwrap_or_else(|e| e.into_inner()) = step;
    }

    /// Runs `step`'s future inside `span`, timing it into the step's slot.
    async fn timed<T>(
        &self,
        step: Step,
        span: tracing::Span,
        run: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.enter(step);
        let (result, took) = timed(span, run).await;
        let mut timings = self.timings.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match step {
            Step::Create => &mut timings.create,
            Step::Inject => &mut timings.inject,
            Step::Start => &mut timings.start,
            _ => &mut timings.ready,
        };
        *slot += took;
        result
    }

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

    /// The probe, with what its polling parts saw last.
    fn waiting_for(&self, probe: &Probe) -> String {
        self.last.describe(&probe.to_string())
    }

    /// A timeout error with the container's state and last log lines.
    async fn timeout(&self, step: Step, limit: Duration, waiting_for: Option<String>) -> Error {
        let state = crate::docker::compat::inspect_container(self.docker, self.name)
            .await
            .ok()
            .and_then(|i| i.state?.status)
            .map(|s| s.to_string());
        Error::Timeout {
            step,
            container: self.name.to_owned(),
            image: self.image.to_owned(),
            limit,
            elapsed: self.started.elapsed(),
            waiting_for,
            state,
            logs: crate::logs::tail(self.docker, self.name).await,
        }
    }

    /// Turns a readiness failure into the error the caller sees.
    async fn readiness_error(&self, id: &str, probe: &Probe, failure: Failure) -> Error {
        match failure {
            Failure::Exited => exited(self, id, Step::Ready).await,
            Failure::Definitive(reason) => Error::ProbeFailed {
                container: self.name.to_owned(),
                image: self.image.to_owned(),
                probe: probe.to_string(),
                reason,
                elapsed: self.started.elapsed(),
                logs: crate::logs::tail(self.docker, id).await,
            },
            Failure::ProbeTimeout {
                probe: inner,
                limit,
            } => {
                let waiting_for = self.last.describe(&inner);
                self.timeout(Step::Ready, limit, Some(waiting_for)).await
            }
            Failure::Docker(e) => {
                let logs = crate::logs::tail(self.docker, id).await;
                self.docker_error(Step::Ready, e, Some(logs))
            }
        }
    }
}

struct Up {
    id: String,
    host: String,
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
    let span = tracing::info_span!(
        "testdock.create",
        container = ctx.name,
        image = ctx.image,
        elapsed_ms = Empty
    );
    let created = ctx
        .timed(Step::Create, span, create(ctx, spec, test_id, created_tx))
        .await?;
    let id = created.id.as_str();

    if let Some(archive) = archive {
        let span = tracing::info_span!(
            "testdock.inject",
            container = ctx.name,
            files = spec.files.len(),
            bytes = archive.len(),
            elapsed_ms = Empty,
        );
        let inject = async {
            let options = UploadToContainerOptionsBuilder::default().path("/").build();
            docker
                .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
                .await
                .map_err(|e| ctx.docker_error(Step::Inject, e, None))
        };
        ctx.timed(Step::Inject, span, inject).await?;
    }

    // Events from this instant on are replayed to the fail-fast watcher.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() - 1.0)
        .unwrap_or(0.0);
    let span = tracing::info_span!(
        "testdock.start",
        container = ctx.name,
        id,
        elapsed_ms = Empty
    );
    let start = async {
        if let Err(e) = docker.start_container(id, None).await {
            let logs = crate::logs::tail(docker, id).await;
            return Err(ctx.docker_error(Step::Start, e, Some(logs)));
        }
        Ok(())
    };
    ctx.timed(Step::Start, span, start).await?;

    let (host, ports) = ctx
        .timed(
            Step::Ready,
            ready_span(ctx, spec),
            ready(ctx, spec, id, since),
        )
        .await?;
    Ok(Up {
        id: created.id,
        host,
        ports,
    })
}

/// The span of the readiness wait.
fn ready_span(ctx: &Ctx<'_>, spec: &ContainerSpec) -> tracing::Span {
    tracing::info_span!(
        "testdock.ready",
        container = ctx.name,
        probe = %spec.probe,
        elapsed_ms = Empty,
    )
}

/// Waits until the started container `id` is ready; returns where it is reached.
async fn ready(
    ctx: &Ctx<'_>,
    spec: &ContainerSpec,
    id: &str,
    since: f64,
) -> Result<(String, PortMap)> {
    let (host, ports) = address(ctx, spec, id).await?;
    let target = readiness::Target {
        docker: ctx.docker,
        id,
        host: &host,
        ports: &ports,
        last: &ctx.last,
    };
    if let Err(failure) = readiness::wait(&target, &spec.probe, since).await {
        return Err(ctx.readiness_error(id, &spec.probe, failure).await);
    }
    Ok((host, ports))
}

/// Waits until a container someone else created (a shared fixture's) runs and is
/// ready, without owning it. Timed as the readiness step.
async fn attach(ctx: &Ctx<'_>, spec: &ContainerSpec) -> Result<Up> {
    tracing::debug!(
        container = ctx.name,
        "another process created the shared container: waiting for it"
    );
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() - 1.0)
        .unwrap_or(0.0);
    let mut backoff = crate::probe::Backoff::new();
    let id = loop {
        // The daemon reserves the name before the container can be inspected: a 404
        // right after our create's 409 means "not yet" (the start timeout bounds it).
        let info = match crate::docker::compat::inspect_container(ctx.docker, ctx.name).await {
            Ok(info) => info,
            Err(e) if crate::error::status_of(&e) == Some(404) => {
                backoff.wait().await;
                continue;
            }
            Err(e) => return Err(ctx.docker_error(Step::Inspect, e, None)),
        };
        let id = info.id.unwrap_or_default();
        use bollard::models::ContainerStateStatusEnum as S;
        match info.state.and_then(|s| s.status) {
            Some(S::RUNNING) => break id,
            Some(S::EXITED | S::DEAD) => return Err(exited(ctx, &id, Step::Ready).await),
            _ => backoff.wait().await,
        }
    };
    let (host, ports) = ready(ctx, spec, &id, since).await?;
    Ok(Up { id, host, ports })
}

mod create;
mod started;
mod volumes;
use create::create;
use started::{address, exited};
