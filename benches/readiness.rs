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

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use testdock::bollard::errors::Error as DockerError;
use testdock::bollard::models::{ContainerCreateBody, ContainerState};
use testdock::bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptions, InspectContainerOptions,
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptions, WaitContainerOptionsBuilder,
};
use testdock::bollard::Docker;
use testdock::{labels, Container, ContainerSpec, Exec, Healthcheck, HostImage, Probe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const BUSYBOX: &str = "/bin/busybox";
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
const ITERATIONS_ENV: &str = "TESTDOCK_BENCH_ITERATIONS";
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

/// Limit for the clock check through `info`.
const CLOCK_CHECK_LIMIT: Duration = Duration::from_secs(5);

/// Target: the log probe's median delay.
const LOG_TARGET_MS: f64 = 5.0;
/// Target: the polling probes' median delay (the back-off cap).
const POLL_TARGET_MS: f64 = 100.0;

#[tokio::main]
async fn main() -> ExitCode {
    let daemon = match testdock::daemon().await {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!(
                "bench readiness: this benchmark needs a running Docker daemon, and none answered.\n\n{e}\n\n\
                 To get one: `sudo apt-get install -y docker.io && sudo dockerd &` (or start Docker \
                 Desktop), or point DOCKER_HOST at a daemon (e.g. `unix:///var/run/docker.sock`, \
                 `tcp://host:2375`)."
            );
            return ExitCode::FAILURE;
        }
    };
    if !Path::new(BUSYBOX).exists() {
        eprintln!(
            "bench readiness: the image is built from a static busybox at {BUSYBOX}, which is \
             missing: `sudo apt-get install -y busybox-static`"
        );
        return ExitCode::FAILURE;
    }
    let docker = daemon.client().clone();
    let endpoint = daemon.endpoint().endpoint.to_string();

    // Everything runs in a task so that a panic or Ctrl-C still reaches the leak sweep.
    let mut bench = tokio::spawn(bench(docker.clone(), endpoint));
    let outcome: Result<(), String> = tokio::select! {
        joined = &mut bench => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the bench failed: {e}")),
            Err(e) => Err(format!("the bench panicked: {e}")),
        },
        _ = tokio::signal::ctrl_c() => {
            bench.abort();
            let _ = bench.await;
            Err("interrupted".to_owned())
        }
    };

    let leaks = match sweep(&docker).await {
        Ok(leaks) => leaks,
        Err(e) => {
            eprintln!("bench readiness: the leak check could not list containers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut code = ExitCode::SUCCESS;
    if let Err(e) = outcome {
        eprintln!("bench readiness: {e}");
        code = ExitCode::FAILURE;
    }
    if leaks.is_empty() {
        println!(
            "leak check: no container of session {} remains",
            labels::session_id()
        );
    } else {
        eprintln!(
            "LEAK: {} container(s) of session {} were still there at the end (now removed): {leaks:#?}",
            leaks.len(),
            labels::session_id()
        );
        code = ExitCode::FAILURE;
    }
    code
}

/// Prepares the image, measures, prints, and removes the image if this run imported it.
async fn bench(docker: Docker, endpoint: String) -> Result<()> {
    let primary = match std::env::var(ITERATIONS_ENV) {
        Ok(n) => n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{ITERATIONS_ENV}={n:?} is not a positive number"))?,
        Err(_) => DEFAULT_ITERATIONS,
    };
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

    let image = busybox_image();
    let known = managed_image_tags(&docker)
        .await
        .map_err(|e| format!("listing images: {e}"))?;
    let started = Instant::now();
    let image_ref = image_reference(&image)
        .await
        .map_err(|e| format!("importing the image (first start): {e}"))?;
    let import_time = started.elapsed();
    let imported_here = !known.contains(&image_ref);

    let bench_started = Instant::now();
    let outcome = measure(&docker, &image, &image_ref, plan).await;
    if let Ok(samples) = &outcome {
        let context = Context {
            plan,
            daemon_version: version.version.unwrap_or_else(|| "?".into()),
            daemon_api: version.api_version.unwrap_or_else(|| "?".into()),
            client_api: docker.client_version().to_string(),
            endpoint,
            image_ref: image_ref.clone(),
            import_time,
            imported_here,
            clock,
            wall: bench_started.elapsed(),
        };
        report(&context, samples);
    }

    if imported_here {
        match docker
            .remove_image(&image_ref, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => println!("image {image_ref}: imported by this run, removed"),
            Err(e) => {
                eprintln!("image {image_ref}: imported by this run, could not be removed: {e}")
            }
        }
    }
    outcome.map(|_| ())
}

/// The static busybox with the applets the containers and probes use.
fn busybox_image() -> HostImage {
    let mut image = HostImage::new().binary_at(BUSYBOX, "/bin/busybox");
    for applet in APPLETS {
        image = image.symlink(format!("/bin/{applet}"), "busybox");
    }
    image
}

/// Imports `image` (through testdock, as the timed runs will) and returns the reference
/// testdock creates containers from, so that the raw path uses the identical image.
async fn image_reference(image: &HostImage) -> Result<String> {
    let c = ContainerSpec::new(image.clone())
        .cmd(["sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::log("ready"))
        .test_id(TESTDOCK_TEST_ID)
        .start()
        .await?;
    let reference = c.image().to_owned();
    c.remove().await?;
    Ok(reference)
}

/// The tags of the testdock-labelled images on the daemon.
async fn managed_image_tags(docker: &Docker) -> Result<HashSet<String>> {
    let filter = HashMap::from([(
        "label",
        vec![format!(
            "{}={}",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        )],
    )]);
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default().filters(&filter).build(),
        ))
        .await?;
    Ok(images.into_iter().flat_map(|i| i.repo_tags).collect())
}

// ---------------------------------------------------------------------------------------
// Clocks. Times are nanoseconds since the Unix epoch, signed so that differences can be.

fn now_ns() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn ms_between(later: i128, earlier: i128) -> f64 {
    (later - earlier) as f64 / 1e6
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 timestamp as Docker writes them (`2025-01-02T03:04:05.123456789Z`, or
/// with a `+hh:mm` offset; the fraction may be shorter or absent).
fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |from: usize, to: usize| s.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &s[19..];
    let mut nanos: i128 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = frac[..digits].parse::<i128>().ok()? * 10i128.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest.as_bytes().first()? {
        b'Z' | b'z' if rest.len() == 1 => 0,
        sign @ (b'+' | b'-') if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let h = rest[1..3].parse::<i64>().ok()?;
            let m = rest[4..6].parse::<i64>().ok()?;
            let v = h * 3600 + m * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(secs as i128 * 1_000_000_000 + nanos)
}

/// The daemon's clock minus the host's, from `info` (its `SystemTime`).
#[derive(Debug, Clone, Copy)]
struct ClockOffset {
    /// Median over a few reads, ms.
    offset_ms: f64,
    /// Half the round trip of the read it came from, ms: the offset's uncertainty.
    uncertainty_ms: f64,
}

async fn clock_offset(docker: &Docker) -> Result<ClockOffset> {
    let mut reads = Vec::new();
    for _ in 0..5 {
        let before = now_ns();
        let info = docker.info().await?;
        let after = now_ns();
        let Some(daemon) = info.system_time.as_deref().and_then(parse_rfc3339) else {
            return Err(format!(
                "the daemon's SystemTime {:?} is not an RFC 3339 timestamp",
                info.system_time
            )
            .into());
        };
        let mid = before + (after - before) / 2;
        reads.push((ms_between(daemon, mid), ms_between(after, before) / 2.0));
    }
    reads.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (offset_ms, uncertainty_ms) = reads[reads.len() / 2];
    Ok(ClockOffset {
        offset_ms,
        uncertainty_ms,
    })
}

// ---------------------------------------------------------------------------------------
// The variants.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Log,
    Raw,
    Tcp,
    TcpInside,
    Http,
    Exec,
    Healthy,
    Exit,
    /// The `exit` container with bollard alone: `wait_container(not-running)`.
    RawExit,
}

const KINDS: [Kind; 9] = [
    Kind::Log,
    Kind::Raw,
    Kind::Tcp,
    Kind::TcpInside,
    Kind::Http,
    Kind::Exec,
    Kind::Healthy,
    Kind::Exit,
    Kind::RawExit,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Log => "log",
            Kind::Raw => "raw (bollard)",
            Kind::Tcp => "tcp",
            Kind::TcpInside => "tcp-inside",
            Kind::Http => "http",
            Kind::Exec => "exec",
            Kind::Healthy => "healthy *",
            Kind::Exit => "exit",
            Kind::RawExit => "exit raw wait",
        }
    }

    /// `log` and `raw` get the full iteration count.
    fn primary(self) -> bool {
        matches!(self, Kind::Log | Kind::Raw)
    }

    /// The line printed at the ready instant.
    fn marker(self) -> &'static str {
        match self {
            Kind::Tcp | Kind::TcpInside | Kind::Http => "listening",
            Kind::Exit | Kind::RawExit => "done",
            Kind::Log | Kind::Raw | Kind::Exec | Kind::Healthy => "ready",
        }
    }

    /// The container's shell script; it becomes ready `ready_after` after it starts.
    fn script(self, ready_after: Duration) -> String {
        let sleep = format!("sleep {:.3}", ready_after.as_secs_f64());
        match self {
            Kind::Log | Kind::Raw => format!("{sleep}; echo ready; exec sleep 1000"),
            Kind::Tcp | Kind::TcpInside => {
                format!("{sleep}; echo listening; exec nc -ll -p 8080 -e cat")
            }
            Kind::Http => format!(
                "mkdir -p /www && echo ok >/www/index.html; {sleep}; echo listening; \
                 exec httpd -f -p 8080 -h /www"
            ),
            Kind::Exec => format!("{sleep}; touch /tmp/ready; echo ready; exec sleep 1000"),
            Kind::Healthy => format!("{sleep}; touch /tmp/ok; echo ready; exec sleep 1000"),
            Kind::Exit | Kind::RawExit => format!("{sleep}; echo done; exit 0"),
        }
    }

    /// The testdock spec (not for `raw`).
    fn spec(self, image: &HostImage, ready_after: Duration) -> ContainerSpec {
        let spec = ContainerSpec::new(image.clone())
            .cmd(["sh".to_owned(), "-c".to_owned(), self.script(ready_after)])
            .startup_timeout(STARTUP_TIMEOUT)
            .test_id(TESTDOCK_TEST_ID);
        match self {
            Kind::Log | Kind::Raw => spec.wait_for(Probe::log("ready")),
            Kind::Tcp => spec.expose(PORT).wait_for(Probe::tcp(PORT)),
            Kind::TcpInside => spec
                .expose(PORT)
                .wait_for(Probe::tcp(PORT).listening_inside()),
            Kind::Http => spec.expose(PORT).wait_for(Probe::http(PORT, "/")),
            Kind::Exec => spec.wait_for(Probe::exec(["test", "-f", "/tmp/ready"])),
            Kind::Healthy => spec
                .healthcheck(Healthcheck::cmd(["test", "-f", "/tmp/ok"]).interval(HEALTH_INTERVAL))
                .wait_for(Probe::healthy()),
            Kind::Exit | Kind::RawExit => spec.wait_for(Probe::exit(0)),
        }
    }
}

/// One measured start.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// The daemon's timestamp of the ready line, ns since the epoch.
    t_ready: i128,
    /// T_return (or T_seen) - T_ready, ms. Negative: returned before the line was logged.
    delay_ms: f64,
    /// T_ready - the container's `StartedAt`, ms.
    ready_after_start_ms: Option<f64>,
    /// `healthy`: T_return - the daemon's `health_status: healthy` event; `exit`:
    /// T_return - its `die` event (sent when the daemon releases waiters). ms.
    after_event_ms: Option<f64>,
    /// `healthy`: the end of the first passing check - T_ready; `exit`: `FinishedAt`
    /// (the process's exit) - T_ready. ms.
    docker_ms: Option<f64>,
    /// What one probe attempt costs, measured on the ready container, ms.
    attempt_ms: Option<f64>,
}

#[derive(Debug, Default)]
struct Samples {
    by_kind: HashMap<Kind, Vec<Sample>>,
    failures: HashMap<Kind, Vec<String>>,
    /// Runs whose T_ready came less than 20 ms after the previous removal ended.
    overlaps: usize,
}

impl Samples {
    fn of(&self, k: Kind) -> &[Sample] {
        self.by_kind.get(&k).map_or(&[], Vec::as_slice)
    }

    fn values(&self, k: Kind, f: impl Fn(&Sample) -> Option<f64>) -> Vec<f64> {
        self.of(k).iter().filter_map(f).collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Counted iterations of `log` and `raw`.
    primary: usize,
    /// Counted iterations of the others.
    others: usize,
}

impl Plan {
    /// Whether the non-primary variants run in counted round `k`: spreads `others`
    /// rounds evenly over `primary` rounds.
    fn others_in(&self, k: usize) -> bool {
        (k + 1) * self.others / self.primary > k * self.others / self.primary
    }
}

async fn measure(
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
        let mut order: Vec<Kind> = KINDS
            .into_iter()
            .filter(|k| k.primary() || with_others)
            .filter(|k| samples.failures.get(k).map_or(0, Vec::len) < MAX_FAILURES)
            .collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for kind in order {
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
enum Teardown {
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
                let options = RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build();
                match docker.remove_container(&name, Some(options)).await {
                    Ok(())
                    | Err(DockerError::DockerResponseServerError {
                        status_code: 404, ..
                    }) => Ok(now_ns()),
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
async fn daemon_split(
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
async fn ready_instant(docker: &Docker, id: &str, marker: &str) -> Result<i128> {
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

/// The `log` (`exit`) container with bollard alone: create (same labels), start, follow
/// the logs until `ready` (wait until it is not running); T_seen is when the stream
/// delivered the line (the wait returned). The container (if it was created) is handed
/// back for removal.
async fn raw_run(
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
        labels: Some(HashMap::from([
            (
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            ),
            (labels::SESSION.to_owned(), labels::session_id().to_owned()),
            (labels::TEST.to_owned(), RAW_TEST_ID.to_owned()),
            (labels::PID.to_owned(), std::process::id().to_string()),
        ])),
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
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let t_seen = {
        let mut logs = std::pin::pin!(docker.logs(id, Some(options)));
        let mut seen = Vec::new();
        loop {
            match logs.next().await {
                Some(chunk) => {
                    seen.extend_from_slice(chunk?.as_ref());
                    if seen.windows(5).any(|w| w == b"ready") {
                        break now_ns();
                    }
                }
                None => {
                    return Err(format!(
                        "container {name} stopped before printing `ready`; it printed {:?}",
                        String::from_utf8_lossy(&seen)
                    )
                    .into())
                }
            }
        }
    };
    Ok(t_seen)
}

/// Lists the testdock-labelled containers, removes those of this run, and returns them.
async fn sweep(docker: &Docker) -> Result<Vec<String>> {
    let filter = HashMap::from([("label", vec![labels::MANAGED_BY.to_owned()])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await?;
    let mut ours = Vec::new();
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        if labels.get(labels::SESSION).map(String::as_str) != Some(labels::session_id()) {
            continue;
        }
        let id = c.id.unwrap_or_default();
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let removal = match docker.remove_container(&id, Some(options)).await {
            Ok(()) => "removed now".to_owned(),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => "listed, then gone before the sweep removed it (a removal was still in flight)"
                .to_owned(),
            Err(e) => format!("could not be removed: {e}"),
        };
        ours.push(format!(
            "{:?} ({}, test {:?}): {removal}",
            c.names.unwrap_or_default(),
            c.state.map(|s| s.to_string()).unwrap_or_default(),
            labels.get(labels::TEST)
        ));
    }
    Ok(ours)
}

// ---------------------------------------------------------------------------------------
// Statistics and the report.

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn median(v: &[f64]) -> f64 {
    let v = sorted(v);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank 90th percentile.
fn p90(v: &[f64]) -> f64 {
    let v = sorted(v);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = (v.len() * 9).div_ceil(10).max(1);
    v[rank - 1]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::min)
}

/// When a polling probe's attempts start (ms after the first), each taking `attempt_ms`,
/// up to `until_ms`.
fn attempt_starts(attempt_ms: f64, until_ms: f64) -> Vec<f64> {
    let mut at = vec![0.0];
    let mut wait = BACKOFF_FIRST;
    let mut t = 0.0;
    while t < until_ms {
        t += attempt_ms + wait.as_secs_f64() * 1e3;
        at.push(t);
        wait = (wait * 2).min(BACKOFF_CAP);
    }
    at
}

/// The smallest and largest gap between attempt starts that overlaps `from..=to` (ms
/// after the first attempt, which comes just after the container started).
fn gaps_around(attempt_ms: f64, from: f64, to: f64) -> (f64, f64) {
    let starts = attempt_starts(attempt_ms, to + 1000.0);
    let gaps: Vec<f64> = starts
        .windows(2)
        .filter(|w| w[1] >= from && w[0] <= to)
        .map(|w| w[1] - w[0])
        .collect();
    (min(&gaps), max(&gaps))
}

#[derive(Debug)]
struct Context {
    plan: Plan,
    daemon_version: String,
    daemon_api: String,
    client_api: String,
    endpoint: String,
    image_ref: String,
    import_time: Duration,
    imported_here: bool,
    /// The daemon's clock offset, or why it is unknown.
    clock: Result<ClockOffset, String>,
    wall: Duration,
}

fn report(ctx: &Context, s: &Samples) {
    println!();
    println!(
        "testdock readiness benchmark: delay from the service being ready (its log line, daemon timestamp) to start() returning"
    );
    println!(
        "iterations: {} counted for log/raw, {} for the others (+{WARMUP} warm-up rounds), interleaved, order reversed every round{}",
        ctx.plan.primary,
        ctx.plan.others,
        if ctx.plan.primary < MIN_ITERATIONS {
            format!(" (fewer than {MIN_ITERATIONS}: a smoke run, not a measurement)")
        } else {
            String::new()
        }
    );
    println!(
        "ready instant: {} ms + U(0, {}) ms after the container starts (random phase against the polling schedule)",
        READY_BASE.as_millis(),
        READY_JITTER.as_millis()
    );
    println!(
        "daemon: Docker {} (API {}), client API {}, at {}",
        ctx.daemon_version, ctx.daemon_api, ctx.client_api, ctx.endpoint
    );
    match &ctx.clock {
        Ok(clock) => println!(
            "daemon clock - host clock: {:+.2} ms (+/- {:.2} ms, from `info`; the delays include this offset){}",
            clock.offset_ms,
            clock.uncertainty_ms,
            if clock.offset_ms.abs() > clock.uncertainty_ms + 5.0 {
                "  WARNING: the clocks differ, the delays below are off by the offset"
            } else {
                ""
            }
        ),
        Err(why) => println!(
            "daemon clock - host clock: not checked ({why}); see the bound from the raw delays below"
        ),
    }
    println!(
        "image: {} (static busybox; {} before timing in {:.0} ms); measuring took {:.1} s",
        ctx.image_ref,
        if ctx.imported_here {
            "imported"
        } else {
            "already present, checked"
        },
        ctx.import_time.as_secs_f64() * 1e3,
        ctx.wall.as_secs_f64()
    );
    println!();

    println!(
        "{:<14} | {:>3} | {:>8} | {:>8} | {:>8} | {:>8} | {:>11} | {:>9}",
        "delay (ms)", "n", "median", "p90", "max", "min", "ready@start", "1 attempt"
    );
    println!(
        "{}",
        "-".repeat(14 + 3 + 3 + 3 + 8 + 3 + 8 + 3 + 8 + 3 + 8 + 3 + 11 + 3 + 9)
    );
    let attempt = |k: Kind| median(&s.values(k, |x| x.attempt_ms));
    for k in KINDS {
        let d = s.values(k, |x| Some(x.delay_ms));
        if d.is_empty() {
            println!("{:<14} | {:>3} | (no sample)", k.name(), 0);
            continue;
        }
        let a = attempt(k);
        println!(
            "{:<14} | {:>3} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} | {:>11.0} | {:>9}",
            k.name(),
            d.len(),
            median(&d),
            p90(&d),
            max(&d),
            min(&d),
            median(&s.values(k, |x| x.ready_after_start_ms)),
            if a.is_nan() {
                "-".to_owned()
            } else {
                format!("{a:.1}")
            },
        );
    }
    println!("delay = T_return - T_ready (raw: T_seen - T_ready), negative = start() returned before the line was logged;");
    println!("ready@start = T_ready - the container's StartedAt (median); 1 attempt = one attempt of the probe done by hand");
    println!("on the ready container (median ms).");
    println!(
        "* healthy: dominated by the healthcheck interval ({} ms), which is Docker's, not testdock's (split below)",
        HEALTH_INTERVAL.as_millis()
    );
    let mut kinds_failed: Vec<_> = s.failures.iter().collect();
    kinds_failed.sort_by_key(|(k, _)| KINDS.iter().position(|x| x == *k));
    for (k, errors) in kinds_failed {
        println!(
            "FAILED runs of {}: {} (variant dropped after {MAX_FAILURES}); first: {}",
            k.name(),
            errors.len(),
            errors[0]
        );
    }
    if s.overlaps > 0 {
        println!(
            "note: in {} run(s) the previous container's removal ended less than 20 ms before T_ready",
            s.overlaps
        );
    }

    println!();
    println!("where the time goes:");
    let log = median(&s.values(Kind::Log, |x| Some(x.delay_ms)));
    let raw = median(&s.values(Kind::Raw, |x| Some(x.delay_ms)));
    let raw_min = min(&s.values(Kind::Raw, |x| Some(x.delay_ms)));
    println!(
        "  clocks: a followed line cannot arrive before the daemon logged it, so the smallest raw delay ({raw_min:.2} ms) bounds how far the"
    );
    println!(
        "          daemon's clock could lead the host's{}",
        if raw_min < 0.0 {
            ": NEGATIVE, the daemon's clock leads, all delays are too small by at least that much"
        } else {
            ""
        }
    );
    println!(
        "  log: {log:.2} ms vs raw bollard {raw:.2} ms ({:+.2} ms): the same followed log stream; the daemon's follow latency is the floor",
        log - raw
    );
    println!(
        "  polling back-off (src/probe/backoff.rs): waits of {} ms doubling to a {} ms cap; attempts taking no time would start at {} ms.",
        BACKOFF_FIRST.as_millis(),
        BACKOFF_CAP.as_millis(),
        attempt_starts(0.0, 500.0)
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  Each attempt's cost pushes every later one back: around the ready instant attempts start G ms apart, so for a");
    println!("  random phase the delay is ~U(0, G) + what the passing attempt still does after the check that sees the service.");
    println!("  tcp/http: before ready the docker-proxy closes at once (~1 ms attempts, G ~ cap); the passing attempt costs its");
    println!("  whole A after ready (tcp: the {} ms proxy-close window, tcp-inside: that plus an exec of `cat`), so median ~ G/2 + A.",
        PROXY_CLOSE_WINDOW.as_millis());
    println!("  exec: every attempt costs A (G = wait + A); the check runs inside the attempt, so median ~ G/2 + 0..A.");
    for k in [Kind::Tcp, Kind::TcpInside, Kind::Http, Kind::Exec] {
        let d = s.values(k, |x| Some(x.delay_ms));
        let a = attempt(k);
        let ready_at = s.values(k, |x| x.ready_after_start_ms);
        if d.is_empty() || a.is_nan() || ready_at.is_empty() {
            continue;
        }
        let (pre, lo_tail) = if k == Kind::Exec { (a, 0.0) } else { (1.0, a) };
        let (g_lo, g_hi) = gaps_around(pre, min(&ready_at), max(&ready_at));
        let half = (g_lo + g_hi) / 4.0;
        println!(
            "    {:<11} A = {a:>5.1}: G = {g_lo:>3.0}-{g_hi:>3.0} -> expected median ~{:>3.0}-{:>3.0}, worst ~{:>3.0}; measured median {:>6.1}, p90 {:>6.1}, max {:>6.1}",
            k.name(),
            half + lo_tail,
            half + a,
            g_hi + a,
            median(&d),
            p90(&d),
            max(&d)
        );
    }
    let tcp = s.values(Kind::Tcp, |x| Some(x.delay_ms));
    let early = tcp.iter().filter(|&&d| d < 0.0).count();
    if early > 0 {
        println!(
            "  tcp: start() returned BEFORE the service printed `listening` in {early} of {} runs (by up to {:.0} ms): the docker-proxy",
            tcp.len(),
            -min(&tcp)
        );
        println!("       on the host accepts the connection before anything listens in the container; `.listening_inside()` waits for it");
    }
    println!("  daemon-side splits (daemon timestamps; `returned` = start() returned, for the raw wait: wait_container returned):");
    for (k, what, event) in [
        (Kind::Healthy, "check passed", "healthy event"),
        (Kind::Exit, "FinishedAt", "die event"),
        (Kind::RawExit, "FinishedAt", "die event"),
    ] {
        let docker = s.values(k, |x| x.docker_ms);
        let after = s.values(k, |x| x.after_event_ms);
        if after.is_empty() {
            continue;
        }
        let event_from_ready: Vec<f64> = s
            .of(k)
            .iter()
            .filter_map(|x| Some(x.delay_ms - x.after_event_ms?))
            .collect();
        println!(
            "    {:<13} ready -> {what} {:>5.1} | ready -> {event} {:>5.1} (p90 {:>5.1}) | {event} -> returned: median {:>5.1}, p90 {:>5.1}, max {:>5.1}, min {:>5.1}",
            k.name().trim_end_matches(" *"),
            median(&docker),
            median(&event_from_ready),
            p90(&event_from_ready),
            median(&after),
            p90(&after),
            max(&after),
            min(&after)
        );
    }
    let inspect = attempt(Kind::Healthy);
    let healthy_after = median(&s.values(Kind::Healthy, |x| x.after_event_ms));
    if !inspect.is_nan() && !healthy_after.is_nan() {
        println!(
            "  healthy: after Docker's event testdock needs {healthy_after:.1} ms (median): it polls inspect ({inspect:.1} ms each) on the back-off,"
        );
        println!(
            "           i.e. every {} ms by then, instead of acting on the `health_status: healthy` event its watcher already receives",
            BACKOFF_CAP.as_millis()
        );
    }
    let exit_after = median(&s.values(Kind::Exit, |x| x.after_event_ms));
    let raw_exit_after = median(&s.values(Kind::RawExit, |x| x.after_event_ms));
    if !exit_after.is_nan() && !raw_exit_after.is_nan() {
        println!(
            "  exit: die event -> returned: testdock {exit_after:.1} ms vs raw wait_container {raw_exit_after:.1} ms ({:+.1} ms is testdock's own)",
            exit_after - raw_exit_after
        );
    }

    println!();
    println!("targets:");
    let mut missed = Vec::new();
    let mut check = |met: bool, text: String| {
        if met {
            println!("  met: {text}");
        } else {
            missed.push(text);
        }
    };
    check(
        log <= LOG_TARGET_MS,
        format!(
            "log probe median delay = {log:.2} ms (target <= {LOG_TARGET_MS} ms; raw bollard {raw:.2} ms, difference {:+.2} ms)",
            log - raw
        ),
    );
    for k in [Kind::Tcp, Kind::TcpInside, Kind::Http, Kind::Exec] {
        let d = s.values(k, |x| Some(x.delay_ms));
        if d.is_empty() {
            check(false, format!("{} probe: no sample", k.name()));
            continue;
        }
        let m = median(&d);
        let early = d.iter().filter(|&&x| x < 0.0).count();
        check(
            m <= POLL_TARGET_MS,
            format!(
                "{} probe median delay = {m:.1} ms (target <= {POLL_TARGET_MS} ms, the back-off cap){}",
                k.name(),
                if early > 0 {
                    format!(
                        "; but {early} of {} returned before the service was ready",
                        d.len()
                    )
                } else {
                    String::new()
                }
            ),
        );
    }
    for text in &missed {
        println!("  TARGET MISSED: {text}");
    }
    println!();
}
