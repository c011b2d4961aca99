//! Readiness benchmark: how long after a service is ready does `start()` return?
//!
//! Each container sleeps 0.25 s + U(0, 0.1) s (0.3 s on average; the jitter puts the
//! ready instant at a random phase of a polling probe's back-off schedule), then becomes
//! ready and marks that instant by printing a line (`ready`, `listening` or `done`). The
//! daemon timestamps every log line when it receives it (RFC 3339 with nanoseconds, read
//! back with `logs(timestamps=true)`), on the host's clock (checked against the daemon's
//! `info` time): that is T_ready. T_return is `SystemTime::now()` right after `start()`
//! returns. The delay is T_return - T_ready. One variant per probe:
//!
//! | variant | container | probe |
//! |---|---|---|
//! | `log` | `echo ready; exec sleep 1000` | `Probe::log("ready")` |
//! | `raw` | the same, with bollard alone: create, start, follow logs until `ready` | - |
//! | `tcp` | `echo listening; exec nc -ll -p 8080 -e cat` | `Probe::tcp(8080)` |
//! | `tcp-inside` | the same | `Probe::tcp(8080).listening_inside()` |
//! | `http` | `echo listening; exec httpd -f -p 8080 -h /www` | `Probe::http(8080, "/")` |
//! | `exec` | `touch /tmp/ready; echo ready; exec sleep 1000` | `Probe::exec(["test", "-f", "/tmp/ready"])` |
//! | `healthy` | `touch /tmp/ok; echo ready; exec sleep 1000` + a 100 ms healthcheck | `Probe::healthy()` |
//! | `exit` | `echo done; exit 0` | `Probe::exit(0)` |
//! | `exit raw wait` | the same, with bollard alone: create, start, `wait_container` | - |
//!
//! For the raw variants the delay is T_seen - T_ready: the instant the followed stream
//! delivered the line, or the wait returned. The network lines are printed a hair before
//! the server listens, so those figures are upper bounds. The `healthy` delay is mostly
//! Docker's healthcheck interval; the daemon's events split it into Docker's part (until
//! its `health_status: healthy` event) and testdock's, and the exits likewise at `die`.
//! After each start (untimed) one probe attempt is done by hand on the ready container,
//! the way src/readiness does it, to show what an attempt costs.
//!
//! The variants are interleaved (reversed order every other round) after warm-up rounds
//! that are not counted. Every container is removed outside the measured interval (a
//! removal overlaps the next run's create and start; one that ends within 20 ms of the
//! next T_ready is reported), and at the end no container of this run may remain. All
//! containers use one image made from the host's static busybox, imported before timing.
//!
//! Run with `cargo bench --bench readiness` (about 90 s of measuring).
//! `TESTDOCK_BENCH_ITERATIONS=N` sets the counted iterations of `log` and `raw` (default
//! 20); the other variants get half as many, rounded up. The exit code is 0 when a target
//! is missed (this is a measurement, not a test): it is non-zero only when the bench
//! could not run (no daemon, no busybox) or left a container behind.

#[path = "../support/mod.rs"]
mod support;

mod clock;
mod kinds;
mod measure;
mod raw;
mod report;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use testdock::bollard::Docker;

use clock::{clock_offset, CLOCK_CHECK_LIMIT};
use kinds::Plan;
use report::Context;
use support::images::{busybox_with, import};
use support::{leaks, run, Result};

/// The applets the containers, the probes and the healthcheck run.
const APPLETS: [&str; 9] = [
    "sh", "sleep", "cat", "nc", "httpd", "mkdir", "touch", "test", "true",
];
const RAW_TEST_ID: &str = "bench::readiness::raw";
const TESTDOCK_TEST_ID: &str = "bench::readiness::testdock";
const PORT: u16 = 8080;

const WARMUP: usize = 2;
const DEFAULT_ITERATIONS: usize = 20;
const MIN_ITERATIONS: usize = 20;
/// testdock's startup timeout in the bench: a failure should not cost a minute.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// One run (start, readiness, the untimed reads, removal) longer than this is a failure.
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// A variant that fails this often is not run any more.
const MAX_FAILURES: usize = 2;
/// Each container becomes ready READY_BASE + U(0, READY_JITTER) after it starts: 0.3 s
/// on average, spread over one back-off cap so that the instant falls at a random phase
/// of a polling probe's schedule (a fixed 0.3 s measures a single phase).
const READY_BASE: Duration = Duration::from_millis(250);
const READY_JITTER: Duration = Duration::from_millis(100);

/// Mirrors `FIRST` and `CAP` in src/probe/backoff.rs (they are crate-private).
const BACKOFF_FIRST: Duration = Duration::from_millis(5);
const BACKOFF_CAP: Duration = Duration::from_millis(100);
/// Mirrors `PROXY_CLOSE_WINDOW` in src/readiness/tcp.rs: how long a TCP attempt waits
/// for the docker-proxy to close the connection.
const PROXY_CLOSE_WINDOW: Duration = Duration::from_millis(25);
/// The healthcheck interval of the `healthy` variant.
const HEALTH_INTERVAL: Duration = Duration::from_millis(100);

/// Target: the log probe's median delay.
const LOG_TARGET_MS: f64 = 5.0;
/// Target: the polling probes' median delay (the back-off cap).
const POLL_TARGET_MS: f64 = 100.0;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(daemon) = run::connect("readiness").await else {
        return ExitCode::FAILURE;
    };
    let docker = daemon.client().clone();
    let endpoint = daemon.endpoint().endpoint.to_string();
    let outcome = run::guarded(bench(docker.clone(), endpoint)).await;
    let completed = run::completed("readiness", outcome);
    let clean = leaks::check_session("readiness", &docker).await;
    run::exit_code(completed && clean)
}

/// Prepares the image, measures, prints, and removes the image if this run imported it.
async fn bench(docker: Docker, endpoint: String) -> Result<()> {
    let primary = run::iterations(DEFAULT_ITERATIONS)?;
    let plan = Plan {
        primary,
        others: primary.div_ceil(2),
    };
    let version = docker
        .version()
        .await
        .map_err(|e| format!("asking the daemon's version: {e}"))?;
    // A sanity check only: `info` can hang on a daemon with a wedged container, and the
    // raw delays bound the clock difference anyway.
    let clock = match tokio::time::timeout(CLOCK_CHECK_LIMIT, clock_offset(&docker)).await {
        Ok(Ok(offset)) => Ok(offset),
        Ok(Err(e)) => Err(format!("`info` failed: {e}")),
        Err(_) => Err(format!(
            "`info` did not answer within {CLOCK_CHECK_LIMIT:?}"
        )),
    };

    // The static busybox with the applets the containers and probes use.
    let image = busybox_with(&APPLETS);
    let imported = import(&docker, image.clone(), TESTDOCK_TEST_ID).await?;

    let bench_started = Instant::now();
    let outcome = measure::measure(&docker, &image, &imported.reference, plan).await;
    if let Ok(samples) = &outcome {
        let context = Context {
            plan,
            daemon_version: version.version.unwrap_or_else(|| "?".into()),
            daemon_api: version.api_version.unwrap_or_else(|| "?".into()),
            client_api: docker.client_version().to_string(),
            endpoint,
            image: imported.clone(),
            clock,
            wall: bench_started.elapsed(),
        };
        report::report(&context, samples);
    }
    imported.remove_if_imported(&docker).await;
    outcome.map(|_| ())
}
