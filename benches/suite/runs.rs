//! Running the suite (`benches/suite/tests.rs`): finding its binary, running it the
//! `cargo test` way (the binary itself, default threads) and through `cargo nextest run`
//! (a process per test), one test per fresh process, and counting what a run left.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use testdock::bollard::query_parameters::ListContainersOptionsBuilder;
use testdock::bollard::Docker;

use crate::support::leaks::label_filter;
use crate::support::procs::{self, Finished};
use crate::support::{Result, BENCH_LABEL};

/// The suite's test target.
const TARGET: &str = "suite_bench";

/// Which half of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Variant {
    Testdock,
    /// The testdock half with `TESTDOCK_POOL=1`: containers in pooled namespaces.
    TestdockPool,
    Bollard,
}

impl Variant {
    pub(crate) fn module(self) -> &'static str {
        match self {
            Variant::Testdock | Variant::TestdockPool => "with_testdock::",
            Variant::Bollard => "with_bollard::",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Testdock => "testdock",
            Variant::TestdockPool => "testdock, pool",
            Variant::Bollard => "raw bollard",
        }
    }
}

/// How the suite is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Harness {
    /// The test binary itself: every test in one process, default test threads.
    CargoTest,
    /// The same with `--test-threads=1` (how many suites with containers are run).
    CargoTestOneThread,
    /// `cargo nextest run`: a process per test.
    Nextest,
}

impl Harness {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Harness::CargoTest => "cargo test",
            Harness::CargoTestOneThread => "cargo test, 1 thread",
            Harness::Nextest => "cargo nextest run",
        }
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Builds the suite (dev profile, as `cargo test` does) and returns its executable.
pub(crate) fn build_suite() -> Result<PathBuf> {
    let out = Command::new(cargo())
        .args([
            "test",
            "--test",
            TARGET,
            "--no-run",
            "--message-format=json",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("building the suite failed ({})", out.status).into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == TARGET)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo named no executable for the suite".into())
}

/// The environment of one suite run: the image, the run's label, its own session.
fn suite_env(command: &mut Command, image: &str, run: &str) {
    command
        .env("TESTDOCK_SUITE_IMAGE", image)
        .env("TESTDOCK_SUITE_RUN", run)
        .env("TESTDOCK_SESSION", run);
}

/// Runs `cargo nextest run` once on the suite's `first_use` test, untimed, so that the
/// first timed nextest run does not pay for cargo's build check, a rebuild or nextest's
/// first listing of the binary.
pub(crate) fn warm_nextest(image: &str, run: &str) -> Result<()> {
    let mut command = Command::new(cargo());
    command.args(["nextest", "run", "--test", TARGET, "first_use"]);
    suite_env(&mut command, image, run);
    let finished = procs::run(&mut command)?;
    check_success(&finished, "the nextest warm-up")
}

/// One run of a whole half of the suite.
#[derive(Debug, Clone)]
pub(crate) struct SuiteRun {
    /// Until the harness exited (what the user waits for).
    pub(crate) wall: Duration,
    /// Containers of the run still listed right then.
    pub(crate) left_at_exit: usize,
    /// Until none of them was listed any more (after the harness exited).
    pub(crate) until_none_left: Duration,
    /// The peak memory of the test process (`cargo test` only: nextest's test
    /// processes are not the bench's children).
    pub(crate) max_rss_kib: Option<u64>,
}

/// Runs `variant`'s 32 tests under `harness`.
pub(crate) async fn run_suite(
    docker: &Docker,
    suite: &Path,
    image: &str,
    harness: Harness,
    variant: Variant,
    run: &str,
) -> Result<SuiteRun> {
    let mut command = match harness {
        Harness::CargoTest | Harness::CargoTestOneThread => {
            let mut c = Command::new(suite);
            c.arg(variant.module());
            if harness == Harness::CargoTestOneThread {
                c.arg("--test-threads=1");
            }
            c
        }
        Harness::Nextest => {
            let mut c = Command::new(cargo());
            c.args([
                "nextest",
                "run",
                "--test",
                TARGET,
                "--no-fail-fast",
                variant.module(),
            ]);
            c
        }
    };
    suite_env(&mut command, image, run);
    if variant == Variant::TestdockPool {
        command.env(testdock::pool::POOL_ENV, "1");
    }
    let finished = tokio::task::spawn_blocking(move || procs::run(&mut command)).await??;
    let exited = Instant::now();
    check_success(
        &finished,
        &format!("{} under {}", variant.name(), harness.name()),
    )?;
    let left_at_exit = count(docker, run).await?;
    let until_none_left = until_none_left(docker, run, exited).await?;
    Ok(SuiteRun {
        wall: finished.wall,
        left_at_exit,
        until_none_left,
        max_rss_kib: (harness != Harness::Nextest).then_some(finished.max_rss_kib),
    })
}

/// Runs the one test `exact` in a fresh process (as nextest does), and waits until
/// nothing of it is left.
pub(crate) async fn run_one(
    docker: &Docker,
    suite: &Path,
    image: &str,
    exact: &str,
    run: &str,
) -> Result<Finished> {
    let mut command = Command::new(suite);
    command.args(["--exact", exact, "--nocapture"]);
    suite_env(&mut command, image, run);
    let finished = tokio::task::spawn_blocking(move || procs::run(&mut command)).await??;
    check_success(&finished, exact)?;
    until_none_left(docker, run, Instant::now()).await?;
    Ok(finished)
}

fn check_success(finished: &Finished, what: &str) -> Result<()> {
    if finished.success {
        return Ok(());
    }
    Err(format!(
        "{what} failed:\n{}\n{}",
        tail(&finished.stdout),
        tail(&finished.stderr)
    )
    .into())
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The containers labelled as made by `run`.
async fn count(docker: &Docker, run: &str) -> Result<usize> {
    let filters = label_filter(format!("{BENCH_LABEL}={run}"));
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    Ok(docker.list_containers(Some(options)).await?.len())
}

/// Waits until no container of `run` is listed; the time it took.
pub(crate) async fn wait_until_none_left(docker: &Docker, run: &str) -> Result<Duration> {
    until_none_left(docker, run, Instant::now()).await
}

/// Waits until no container of `run` is listed; the time since `since`.
async fn until_none_left(docker: &Docker, run: &str, since: Instant) -> Result<Duration> {
    let deadline = since + Duration::from_secs(30);
    loop {
        if count(docker, run).await? == 0 {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            return Err(format!("containers of {run} are still there 30 s after it ended").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
