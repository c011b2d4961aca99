//! Image benchmark: what preparing images costs, and what a snapshot saves.
//!
//! 1. **Builds.** One build context, `FROM` a busybox image made from the host, two small
//!    files `COPY`d and a `RUN` step, built by `BuildContext::build` (in memory) and by
//!    `docker build -q` (the CLI, `DOCKER_BUILDKIT=0`: the same classic builder, with the
//!    same labels and `--force-rm`) from the same files written to a temporary directory
//!    (steps: `FROM`, one `COPY` of both files, `RUN`, and the `LABEL` the labels add).
//!    "first": every iteration changes one file (the iteration number is in it), so
//!    every first build runs all its steps; the two variants use different contents, so
//!    neither gets the other's cache. "cached": the unchanged context again: for
//!    testdock one `inspect_image` (the tag is a hash of the context), for the CLI the
//!    context is sent again and the daemon's build cache answers every step.
//! 2. **Host images.** `HostImage::new().binary("/bin/sh").binary("/bin/cat")` and the
//!    static busybox with all its applets (as `tests/common` makes it), each with a file
//!    holding the iteration number so that every "first" `reference()` imports. Then
//!    "cached": `reference()` again in the same process (one `inspect_image`), and in a
//!    new process (this executable re-run as a child, which times its own
//!    `reference()` after connecting: what a second test binary pays, i.e. reading and
//!    hashing the files, then one `inspect_image`).
//! 3. **Snapshot vs setup.** 8 containers that each need an expensive setup (append
//!    2000 rows to `/data/db`, then `sleep 1`, as a migration would) started one after
//!    another, each running the setup, against: the setup once, `Container::commit` to
//!    an image, and 8 containers started from the snapshot (their command checks that
//!    the 2000 rows are there, then says `ready`). Both are run twice, interleaved.
//!
//! 4. **Cached image, new process.** A 2 MB in-memory build context and a ~78 MB host
//!    image, prepared again by a new process with the hash cache and with an empty one
//!    (see `fresh.rs`).
//!
//! Variants are interleaved, in reversed order every other iteration, after a warm-up
//! iteration that is not counted. Every image this run makes (tags, their intermediate
//! build images, imports, snapshots, and the base image if this run imported it) is
//! removed at the end and checked gone; no container of this process may remain.
//!
//! Run with `cargo bench --bench images` (about 90 s). `TESTDOCK_BENCH_ITERATIONS=N`
//! sets the counted iterations of parts 1 and 2 (default 8). The exit code is 0 when a
//! target is missed (this is a measurement, not a test): it is non-zero only when the
//! bench could not run (no daemon, no busybox, no docker CLI) or left something behind.
#[path = "../support/mod.rs"]
mod support;

mod builds;
mod env;
mod fresh;
mod hosts;
mod snapshots;

use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testdock::{docker::Endpoint, labels, HostImage, InjectFile};

use builds::BuildSamples;
use env::Env;
use fresh::FreshSamples;
use hosts::{HostSamples, HOST_KINDS};
use snapshots::SnapshotSamples;
use support::images::{applets, busybox_all};
use support::run::{self, smoke_note};
use support::stats::{median, ms, ratio};
use support::table::Targets;
use support::{leaks, Result};

const WARMUP: usize = 1;
const DEFAULT_ITERATIONS: usize = 8;
const MIN_ITERATIONS: usize = 8;
/// Set in the child process that times a `reference()` in a new process: `<kind>:<nonce>`.
const CHILD_ENV: &str = "TESTDOCK_BENCH_IMAGES_CHILD";
const TEST_ID: &str = "bench::images";
const CLI_REPOSITORY: &str = "testdock-bench/cli";
const SNAPSHOT_REPOSITORY: &str = "testdock-bench/snapshot";
/// One build, import, or container start that takes longer is a failure, not a sample.
const OP_LIMIT: Duration = Duration::from_secs(120);

/// Part 3: containers per variant, rounds, rows the setup writes.
const CONTAINERS: usize = 8;
const ROUNDS: usize = 2;
const ROWS: usize = 2000;
const READY: &str = "ready";

/// Target: a cached `build()` median below this (one inspect call).
const MAX_CACHED_BUILD: Duration = Duration::from_millis(20);
/// Target: a first `build()` median at most this many times the CLI's.
const MAX_FIRST_BUILD_RATIO: f64 = 1.10;
/// Target: a cached `reference()` (same process) median below this.
const MAX_CACHED_HOST: Duration = Duration::from_millis(10);
/// Target: the snapshot variant's total at least this many times faster.
const MIN_SNAPSHOT_SPEEDUP: f64 = 2.0;

#[tokio::main]
async fn main() -> ExitCode {
    if let Ok(job) = std::env::var(CHILD_ENV) {
        return hosts::child(&job).await;
    }
    if let Ok(job) = std::env::var(fresh::FRESH_CHILD_ENV) {
        return fresh::child(&job).await;
    }
    let Some(daemon) = run::connect("images").await else {
        return ExitCode::FAILURE;
    };
    let cli_version = match std::process::Command::new("docker")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => {
            eprintln!(
                "bench images: part 1 compares with the `docker build` CLI, which is not \
                 installed or does not run: `sudo apt-get install -y docker.io` (or docker-ce-cli)"
            );
            return ExitCode::FAILURE;
        }
    };
    let docker = daemon.client().clone();
    // The CLI must talk to the daemon testdock chose.
    let cli_host = match &daemon.endpoint().endpoint {
        Endpoint::Unix { path } => Some(format!("unix://{}", path.display())),
        Endpoint::Tcp { addr, tls: None } => Some(format!("tcp://{addr}")),
        // TLS: the CLI reads DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH itself.
        Endpoint::Tcp { tls: Some(_), .. } => None,
    };
    let env = Env {
        docker: docker.clone(),
        endpoint: daemon.endpoint().endpoint.to_string(),
        cli_host,
        cli_version,
        run_label: format!("images-{}", labels::owner_id()),
        created: Arc::new(Mutex::new(Vec::new())),
    };

    let outcome = run::guarded(bench(env.clone())).await;
    let completed = run::completed("images", outcome);
    // Containers first: they hold their images.
    let no_container = leaks::check_process("images", &docker).await;
    let no_image = match env::remove_images(&env).await {
        Ok((removed, checked, leaks)) if leaks.is_empty() => {
            println!(
                "leak check: the {removed} image(s) this run tagged are removed, and none of their \
                 {checked} image id(s) (with intermediate build images) remains"
            );
            true
        }
        Ok((_, _, leaks)) => {
            eprintln!(
                "LEAK: {} image(s) of this run were still there after the cleanup: {leaks:#?}",
                leaks.len()
            );
            false
        }
        Err(e) => {
            eprintln!("bench images: the image cleanup failed: {e}");
            false
        }
    };
    run::exit_code(completed && no_container && no_image)
}

async fn bench(env: Env) -> Result<()> {
    let iterations = run::iterations(DEFAULT_ITERATIONS)?;
    let version = env.docker.version().await?;

    // The base of every build and container: bench-specific (a file marks it), so it is
    // this run's to remove.
    let known = env::image_tags(&env.docker).await?;
    let started = Instant::now();
    let base_ref = base_image().prepare().await.map(|p| p.reference)?;
    let base_time = started.elapsed();
    let imported_here = !known.contains(&base_ref);
    if imported_here {
        env.track_chain(&base_ref, None).await?;
    }
    let base_id = env
        .docker
        .inspect_image(&base_ref)
        .await?
        .id
        .unwrap_or_default();

    println!();
    println!("testdock image benchmark");
    println!(
        "daemon: Docker {} (API {}), client API {}, at {}; CLI: {}",
        version.version.as_deref().unwrap_or("?"),
        version.api_version.as_deref().unwrap_or("?"),
        env.docker.client_version(),
        env.endpoint,
        env.cli_version
    );
    println!(
        "base image: {base_ref} (static busybox, {} applets; {} in {:.0} ms)",
        applets().len(),
        if imported_here {
            "imported"
        } else {
            "already present"
        },
        ms(base_time)
    );
    println!(
        "iterations: {iterations} counted per variant (+{WARMUP} warm-up), variants interleaved, \
         order reversed every iteration{}",
        smoke_note(iterations, MIN_ITERATIONS)
    );

    let builds = builds::measure(&env, &base_ref, &base_id, iterations).await?;
    builds::report(&builds, iterations);
    let hosts = hosts::measure(&env, iterations).await?;
    hosts::report(&hosts, iterations);
    let snapshots = snapshots::measure(&env, &base_ref, &base_id).await?;
    snapshots::report(&snapshots);
    let fresh = fresh::measure(&env, iterations).await?;
    fresh::report(&fresh, iterations);
    report_targets(&builds, &hosts, &snapshots, &fresh);
    Ok(())
}

/// The base of every build and container: busybox with all its applets, and a file
/// that makes it this bench's own.
fn base_image() -> HostImage {
    busybox_all().file(InjectFile::from_bytes(
        "/etc/testdock-bench",
        "base image of the testdock images bench\n",
    ))
}

/// Runs `f` within [`OP_LIMIT`]; its value and how long it took.
async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<(T, Duration)> {
    let started = Instant::now();
    let value = tokio::time::timeout(OP_LIMIT, f)
        .await
        .map_err(|_| format!("{what} took over {OP_LIMIT:?}"))?
        .map_err(|e| format!("{what}: {e}"))?;
    Ok((value, started.elapsed()))
}

fn report_targets(b: &BuildSamples, h: &HostSamples, s: &SnapshotSamples, f: &FreshSamples) {
    let mut targets = Targets::begin();
    let cached = median(&b.td_cached);
    targets.check(
        cached < MAX_CACHED_BUILD,
        format!(
            "cached build() median = {:.1} ms (target < {} ms)",
            ms(cached),
            MAX_CACHED_BUILD.as_millis()
        ),
    );
    targets.check(
        cached < median(&b.cli_cached),
        format!(
            "cached build() median {:.1} ms < cached docker build median {:.1} ms",
            ms(cached),
            ms(median(&b.cli_cached))
        ),
    );
    let first_ratio = ratio(median(&b.td_first), median(&b.cli_first));
    targets.check(
        first_ratio <= MAX_FIRST_BUILD_RATIO,
        format!(
            "first build() / first docker build (medians) = {first_ratio:.3} (target <= {MAX_FIRST_BUILD_RATIO:.2})"
        ),
    );
    for kind in HOST_KINDS {
        let m = median(HostSamples::get(&h.cached, kind));
        targets.check(
            m < MAX_CACHED_HOST,
            format!(
                "cached reference() of {} median = {:.2} ms (target < {} ms)",
                kind.name(),
                ms(m),
                MAX_CACHED_HOST.as_millis()
            ),
        );
    }
    let each = s.total.get("setup-each").map_or(&[][..], Vec::as_slice);
    let snap = s.total.get("snapshot").map_or(&[][..], Vec::as_slice);
    let speedup = ratio(median(each), median(snap));
    targets.check(
        speedup >= MIN_SNAPSHOT_SPEEDUP,
        format!("snapshot speed-up (total) = {speedup:.1}x (target >= {MIN_SNAPSHOT_SPEEDUP:.1}x)"),
    );
    for (kind, limit) in fresh::KINDS
        .into_iter()
        .zip([fresh::MAX_FRESH_CONTEXT, fresh::MAX_FRESH_HOST])
    {
        let m = median(f.cached.get(kind).map_or(&[][..], Vec::as_slice));
        targets.check(
            m <= limit,
            format!(
                "cached {kind} in a new process median = {:.2} ms (target <= {} ms)",
                ms(m),
                limit.as_millis()
            ),
        );
    }
    targets.end();
}
