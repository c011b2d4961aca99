//! Lifecycle benchmark: testdock against the same work done with raw bollard.
//!
//! One lifecycle is create → inject a 4 KiB file → start → wait for the log line `ready`
//! → remove. It is run
//!
//! - by hand, with the bollard calls a careful test would make (`raw`);
//! - by testdock: `ContainerSpec::start` then `Container::remove` (`testdock`);
//! - by testdock with `drop` as the teardown (`testdock-drop`);
//! - by testdock with the image given as a plain reference instead of a `HostImage`
//!   (`testdock-ref`, a diagnostic: it isolates what preparing a `HostImage` costs on
//!   every start);
//! - by testdock in pool mode (`testdock-pool`: a [`Pod`] open, so the container joins
//!   a pooled pause's network namespace; the pod's release, which the runner does in
//!   the background teardown, is outside the timed region). Its pool warm-up (the
//!   first lifecycle, which creates the pause) is timed once before the others.
//!
//! All use one image made from the host's static busybox, imported once before timing.
//! The variants are interleaved, in reversed order every other iteration to cancel
//! drift, after warm-up iterations that are not counted. Every teardown is checked
//! (inspect → 404) outside the timed region, and at the end no container of this run
//! may remain.
//!
//! Run with `cargo bench --bench lifecycle`. `TESTDOCK_BENCH_ITERATIONS=N` sets the
//! number of counted iterations (default 25; fewer than 20 is a smoke run). The exit code
//! is 0 when a target is missed (this is a measurement, not a test): it is non-zero only
//! when the bench could not run or left something behind.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testdock::bollard::errors::Error as DockerError;
use testdock::bollard::models::{ContainerCreateBody, HostConfig};
use testdock::bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, UploadToContainerOptionsBuilder,
};
use testdock::bollard::{self, Docker};
use testdock::pool::Pod;
use testdock::{labels, ContainerSpec, HostImage, ImageSource, InjectFile, Probe};

use support::images::{busybox_with, import};
use support::run::{alternate, iterations};
use support::{leaks, raw, run, Result};

const CONFIG_PATH: &str = "/etc/bench/config";
const CONFIG_SIZE: usize = 4096;
const READY: &str = "ready";
const SCRIPT: &str = "cat /etc/bench/config >/dev/null; echo ready; exec sleep 1000";
const RAW_TEST_ID: &str = "bench::lifecycle::raw";
const TESTDOCK_TEST_ID: &str = "bench::lifecycle::testdock";
const POOL_TEST_ID: &str = "bench::lifecycle::pool";

const WARMUP: usize = 2;
const DEFAULT_ITERATIONS: usize = 25;
const MIN_ITERATIONS: usize = 20;
/// A lifecycle that takes longer than this is a failure, not a sample.
const LIFECYCLE_LIMIT: Duration = Duration::from_secs(60);

/// Target: testdock's lifecycle median at most this many times raw's.
const MAX_RATIO: f64 = 1.10;
/// Target: testdock's teardown median below this.
const MAX_TEARDOWN: Duration = Duration::from_millis(300);
/// Target: pool mode's lifecycle median at most this many times raw's (the bridge floor).
const MAX_POOL_RATIO: f64 = 0.6;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(daemon) = run::connect("lifecycle").await else {
        return ExitCode::FAILURE;
    };
    let docker = daemon.client().clone();
    let endpoint = daemon.endpoint().endpoint.to_string();
    let outcome = run::guarded(bench(docker.clone(), endpoint)).await;
    let completed = run::completed("lifecycle", outcome);
    testdock::pool::drain().await;
    let clean = leaks::check_session("lifecycle", &docker).await;
    run::exit_code(completed && clean)
}

/// Prepares the image, measures, prints, and removes the image if this run imported it.
async fn bench(docker: Docker, endpoint: String) -> Result<()> {
    let iterations = iterations(DEFAULT_ITERATIONS)?;
    let version = docker.version().await?;

    let image = busybox_with(&["sh", "cat", "sleep"]);
    let imported = import(&docker, image.clone(), TESTDOCK_TEST_ID).await?;

    let outcome = measure(&docker, &image, &imported.reference, iterations).await;
    if let Ok(samples) = &outcome {
        let context = Context {
            iterations,
            daemon_version: version.version.unwrap_or_else(|| "?".into()),
            daemon_api: version.api_version.unwrap_or_else(|| "?".into()),
            client_api: docker.client_version().to_string(),
            endpoint,
            image: imported.clone(),
        };
        report(&context, samples);
    }
    imported.remove_if_imported(&docker).await;
    outcome.map(|_| ())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Raw,
    Testdock,
    TestdockDrop,
    TestdockRef,
    TestdockPool,
}

const VARIANTS: [Variant; 5] = [
    Variant::Raw,
    Variant::Testdock,
    Variant::TestdockDrop,
    Variant::TestdockRef,
    Variant::TestdockPool,
];

/// Durations of one lifecycle.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Before the first call until the probe passed.
    startup: Duration,
    /// From the teardown call until it returned (container gone).
    teardown: Duration,
    /// Both, measured as one interval.
    total: Duration,
    /// The raw path's steps (zero for testdock, whose steps are internal).
    phases: Phases,
}

#[derive(Debug, Clone, Copy, Default)]
struct Phases {
    create: Duration,
    inject: Duration,
    start: Duration,
    ready: Duration,
}

#[derive(Debug, Default)]
struct Series {
    runs: Vec<Run>,
}

impl Series {
    fn get(&self, f: impl Fn(&Run) -> Duration) -> Vec<Duration> {
        self.runs.iter().map(f).collect()
    }
}

#[derive(Debug, Default)]
struct Samples {
    by_variant: std::collections::HashMap<&'static str, Series>,
    /// One `inspect_image` round trip per iteration (what a reference costs testdock).
    inspect_image: Vec<Duration>,
    /// The first pool-mode lifecycle, which creates the pause (pool warm-up).
    pool_first: Option<Run>,
}

impl Samples {
    fn series(&self, v: Variant) -> &Series {
        &self.by_variant[name(v)]
    }
}

fn name(v: Variant) -> &'static str {
    match v {
        Variant::Raw => "raw",
        Variant::Testdock => "testdock",
        Variant::TestdockDrop => "testdock-drop",
        Variant::TestdockRef => "testdock-ref",
        Variant::TestdockPool => "testdock-pool",
    }
}

async fn measure(
    docker: &Docker,
    image: &HostImage,
    image_ref: &str,
    iterations: usize,
) -> Result<Samples> {
    let config = bytes::Bytes::from(config_content());
    let mut samples = Samples::default();
    for v in VARIANTS {
        samples.by_variant.insert(name(v), Series::default());
    }
    let mut seq = 0usize;
    samples.pool_first =
        Some(testdock_lifecycle(docker, image.clone().into(), &config, Mode::Pool).await?);
    for i in 0..WARMUP + iterations {
        let counted = i >= WARMUP;
        for v in alternate(VARIANTS, i) {
            seq += 1;
            let run = tokio::time::timeout(LIFECYCLE_LIMIT, async {
                match v {
                    Variant::Raw => raw_lifecycle(docker, image_ref, &config, seq).await,
                    Variant::Testdock => {
                        testdock_lifecycle(docker, image.clone().into(), &config, Mode::Remove)
                            .await
                    }
                    Variant::TestdockDrop => {
                        testdock_lifecycle(docker, image.clone().into(), &config, Mode::Drop).await
                    }
                    Variant::TestdockRef => {
                        testdock_lifecycle(docker, image_ref.into(), &config, Mode::Remove).await
                    }
                    Variant::TestdockPool => {
                        testdock_lifecycle(docker, image.clone().into(), &config, Mode::Pool).await
                    }
                }
            })
            .await
            .map_err(|_| format!("a {} lifecycle took over {LIFECYCLE_LIMIT:?}", name(v)))?
            .map_err(|e| format!("{} lifecycle: {e}", name(v)))?;
            if counted {
                samples
                    .by_variant
                    .get_mut(name(v))
                    .expect("every variant has a series")
                    .runs
                    .push(run);
            }
        }
        let started = Instant::now();
        docker.inspect_image(image_ref).await?;
        if counted {
            samples.inspect_image.push(started.elapsed());
        }
    }
    Ok(samples)
}

/// 4 KiB of text.
fn config_content() -> Vec<u8> {
    let line = b"bench.setting = 0123456789abcdefghijklmnopqrstuvwxyz\n";
    line.iter().copied().cycle().take(CONFIG_SIZE).collect()
}

/// How a testdock lifecycle runs and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On the default bridge, removed with `remove()`.
    Remove,
    /// On the default bridge, removed by `drop`.
    Drop,
    /// In a pooled namespace, removed with `remove()`; the pod released after timing.
    Pool,
}

/// The lifecycle through testdock, as the brief gives it.
async fn testdock_lifecycle(
    docker: &Docker,
    image: ImageSource,
    config: &bytes::Bytes,
    mode: Mode,
) -> Result<Run> {
    let test_id = if mode == Mode::Pool {
        POOL_TEST_ID
    } else {
        TESTDOCK_TEST_ID
    };
    let pod = (mode == Mode::Pool).then(|| Pod::open(test_id));
    let t0 = Instant::now();
    let c = ContainerSpec::new(image)
        .file(InjectFile::from_bytes(CONFIG_PATH, config.clone()))
        .cmd(["sh", "-c", SCRIPT])
        .wait_for(Probe::log(READY))
        .test_id(test_id)
        .start()
        .await?;
    let ready = Instant::now();
    let name = c.name().to_owned();
    let t_teardown = Instant::now();
    if mode == Mode::Drop {
        // Drop hands the removal to the background and returns at once.
        drop(c);
    } else {
        c.remove().await?;
    }
    let gone = Instant::now();
    if mode == Mode::Drop {
        // Outside the timed region: the background removal must finish all the same.
        let deadline = Instant::now() + Duration::from_secs(30);
        while assert_gone(docker, &name).await.is_err() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_gone(docker, &name).await?;
    if let Some(pod) = pod {
        pod.release().await;
    }
    Ok(Run {
        startup: ready - t0,
        teardown: gone - t_teardown,
        total: gone - t0,
        phases: Phases::default(),
    })
}

/// The same lifecycle with bollard alone: the calls testdock makes, and nothing else.
async fn raw_lifecycle(docker: &Docker, image: &str, config: &[u8], seq: usize) -> Result<Run> {
    let name = format!("bench-raw-{}-{seq}", labels::session_id());
    let t0 = Instant::now();
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["sh".into(), "-c".into(), SCRIPT.into()]),
        labels: Some(raw::labels(RAW_TEST_ID)),
        host_config: Some(HostConfig {
            privileged: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker.create_container(Some(options), body).await?;
    let t_created = Instant::now();

    let archive = config_archive(CONFIG_PATH.trim_start_matches('/'), config)?;
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    docker
        .upload_to_container(
            &created.id,
            Some(options),
            bollard::body_full(archive.into()),
        )
        .await?;
    let t_injected = Instant::now();

    docker.start_container(&created.id, None).await?;
    let t_started = Instant::now();

    // The followed stream is closed once the line is seen, as testdock does.
    raw::follow_until(docker, &created.id, &name, READY, || ()).await?;
    let t_ready = Instant::now();

    let options = raw::force_remove();
    let t_teardown = Instant::now();
    docker.remove_container(&name, Some(options)).await?;
    let gone = Instant::now();
    assert_gone(docker, &name).await?;
    Ok(Run {
        startup: t_ready - t0,
        teardown: gone - t_teardown,
        total: gone - t0,
        phases: Phases {
            create: t_created - t0,
            inject: t_injected - t_created,
            start: t_started - t_injected,
            ready: t_ready - t_started,
        },
    })
}

/// A one-file tar archive, as testdock writes one (GNU header, mode 0644, root, mtime now).
fn config_archive(path: &str, content: &[u8]) -> Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    header.set_size(content.len() as u64);
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_data(&mut header, path, content)?;
    Ok(builder.into_inner()?)
}

/// Fails unless the daemon says the container does not exist.
async fn assert_gone(docker: &Docker, name: &str) -> Result<()> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Ok(info) => Err(format!(
            "container {name} still exists after its teardown returned (status {:?})",
            info.state.and_then(|s| s.status)
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

#[path = "lifecycle/report.rs"]
mod report;
use report::{report, Context};
