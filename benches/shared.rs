//! Shared-fixture benchmark: the wall time of a suite whose tests all need the same
//! server.
//!
//! The suite is 16 tests, run 2 at a time (as `cargo test` runs them on 2 cores). Each
//! needs a server (a busybox container that starts in about 1 s: `sleep 1; echo ready`)
//! and does one exec in it, isolated from the other tests by a directory of its own
//! (`mkdir /tmp/bench/<unique name>`, write, read back). Two ways:
//!
//! - `per-test`: every test starts its own server, uses it and removes it;
//! - `shared`: every test calls `Shared::get` on a `static` [`Shared`] fixture, which
//!   starts the server once; the tests isolate themselves inside it with
//!   [`testdock::shared::unique_name`]. After the suite (untimed) the server must hold
//!   one directory per test.
//!
//! Both are run 3 times, interleaved (order reversed every other round), after a warm-up
//! that imports the image and starts one server (not counted). Every round of `shared`
//! uses its own fixture (`bench-server-1` .. `-3`): a `Shared` is started once per
//! process, and each suite run of a real `cargo test` is a new process that pays for the
//! start once, so reusing one fixture would measure the later rounds without it.
//!
//! A shared fixture's container belongs to the process and is removed by its reaper when
//! the process exits. So at the end the only containers of this process left must be the
//! 3 shared ones, labelled `testdock.owner=<this process>`; any other is a leak (removed,
//! exit code 1). The image (the tests' busybox recipe) is kept: the shared containers use
//! it until the bench exits.
//!
//! Run with `cargo bench --bench shared` (about 60 s). The exit code is 0 when a target
//! is missed (this is a measurement, not a test): it is non-zero only when the bench
//! could not run (no daemon, no busybox), a test failed, or something was left behind.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use testdock::bollard::Docker;
use testdock::shared::{unique_name, Shared};
use testdock::{labels, Container, ContainerSpec, Exec, Probe};

use support::images::busybox_all;
use support::run::alternate;
use support::stats::{median, ms, p90, ratio, sorted};
use support::table::{Table, Targets};
use support::{raw, run, Result, BENCH_LABEL};

const TESTS: usize = 16;
const PARALLEL: usize = 2;
const ROUNDS: usize = 3;
const READY: &str = "ready";
const SERVER_SCRIPT: &str = "sleep 1; echo ready; exec sleep 3600";
const PER_TEST_ID: &str = "bench::shared::per-test";
/// A suite that takes longer than this is a failure, not a sample.
const SUITE_LIMIT: Duration = Duration::from_secs(120);

/// Target: the shared suite at least this many times faster.
const MIN_SPEEDUP: f64 = 3.0;

/// One fixture per round of `shared` (see the module docs).
static SERVER_1: Shared = Shared::new("bench-server-1", server_spec);
static SERVER_2: Shared = Shared::new("bench-server-2", server_spec);
static SERVER_3: Shared = Shared::new("bench-server-3", server_spec);
static SERVERS: [(&str, &Shared); ROUNDS] = [
    ("bench-server-1", &SERVER_1),
    ("bench-server-2", &SERVER_2),
    ("bench-server-3", &SERVER_3),
];

/// The shared fixtures' containers: id -> (key, name), once their round checked them.
static STARTED: Mutex<BTreeMap<String, (&'static str, String)>> = Mutex::new(BTreeMap::new());

/// The server every test needs: ready after about 1 s.
fn server_spec() -> ContainerSpec {
    ContainerSpec::new(busybox_all())
        .cmd(["sh", "-c", SERVER_SCRIPT])
        .wait_for(Probe::log(READY))
        .startup_timeout(Duration::from_secs(60))
        .label(BENCH_LABEL, format!("shared-{}", labels::owner_id()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(daemon) = run::connect("shared").await else {
        return ExitCode::FAILURE;
    };
    let docker = daemon.client().clone();
    let endpoint = daemon.endpoint().endpoint.to_string();
    let outcome = run::guarded(bench(docker.clone(), endpoint)).await;
    let completed = run::completed("shared", outcome);
    let clean = match leak_check(&docker).await {
        Ok(clean) => clean,
        Err(e) => {
            eprintln!("bench shared: the leak check could not list containers: {e}");
            false
        }
    };
    run::exit_code(completed && clean)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    PerTest,
    Shared,
}

fn name(v: Variant) -> &'static str {
    match v {
        Variant::PerTest => "per-test",
        Variant::Shared => "shared",
    }
}

#[derive(Debug, Default)]
struct Samples {
    /// Per variant: each round's suite wall time.
    suite: HashMap<&'static str, Vec<Duration>>,
    /// Per variant: every test's own time (server, exec, and for per-test the removal).
    tests: HashMap<&'static str, Vec<Duration>>,
}

impl Samples {
    fn get<'a>(map: &'a HashMap<&'static str, Vec<Duration>>, v: Variant) -> &'a [Duration] {
        map.get(name(v)).map_or(&[], Vec::as_slice)
    }
}

async fn bench(docker: Docker, endpoint: String) -> Result<()> {
    let version = docker.version().await?;
    // Warm-up: the image import and one server, not counted.
    let started = Instant::now();
    let image_ref = busybox_all().prepare().await.map(|p| p.reference)?;
    let import = started.elapsed();
    let warm = server_spec().test_id(PER_TEST_ID).start().await?;
    warm.remove().await?;

    let mut samples = Samples::default();
    for (round, (key, server)) in SERVERS.iter().enumerate() {
        for v in alternate([Variant::PerTest, Variant::Shared], round) {
            let started = Instant::now();
            let times = tokio::time::timeout(SUITE_LIMIT, suite(v, server))
                .await
                .map_err(|_| format!("a {} suite took over {SUITE_LIMIT:?}", name(v)))??;
            samples
                .suite
                .entry(name(v))
                .or_default()
                .push(started.elapsed());
            samples.tests.entry(name(v)).or_default().extend(times);
            if v == Variant::Shared {
                let c = server.get().await?;
                check_isolation(key, c).await?;
                STARTED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(c.id().to_owned(), (*key, c.name().to_owned()));
            }
        }
    }
    report(
        &samples,
        &format!(
            "Docker {} (API {}) at {endpoint}",
            version.version.as_deref().unwrap_or("?"),
            version.api_version.as_deref().unwrap_or("?")
        ),
        &image_ref,
        import,
    );
    Ok(())
}

/// Runs the 16 tests, `PARALLEL` at a time; returns each test's time.
async fn suite(v: Variant, server: &'static Shared) -> Result<Vec<Duration>> {
    let results: Vec<Result<Duration>> = futures::stream::iter(0..TESTS)
        .map(|i| async move {
            let started = Instant::now();
            match v {
                Variant::PerTest => {
                    let c = server_spec().test_id(PER_TEST_ID).start().await?;
                    test_body(&c, i).await?;
                    c.remove().await?;
                }
                Variant::Shared => {
                    let c = server.get().await?;
                    test_body(c, i).await?;
                }
            }
            Ok(started.elapsed())
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    results.into_iter().collect()
}

/// One test: a directory of its own in the server, written and read back.
async fn test_body(c: &Container, i: usize) -> Result<()> {
    let dir = format!("/tmp/bench/{}", unique_name(&format!("test{i}")));
    let script = format!("mkdir -p {dir} && echo test-{i} > {dir}/data && cat {dir}/data");
    let out = c.exec(Exec::new(["sh", "-c", &script])).await?;
    if !out.success() || out.stdout_text() != format!("test-{i}\n") {
        return Err(format!(
            "test {i} in {}: exit {}, stdout {:?}, stderr {:?}",
            c.name(),
            out.exit_code,
            out.stdout_text(),
            out.stderr_text()
        )
        .into());
    }
    Ok(())
}

/// After a shared suite: the server holds one directory per test.
async fn check_isolation(key: &str, c: &Container) -> Result<()> {
    let out = c
        .exec(Exec::new(["sh", "-c", "ls /tmp/bench | wc -l"]))
        .await?;
    let dirs = out.stdout_text();
    if !out.success() || dirs.trim() != TESTS.to_string() {
        return Err(format!(
            "the shared server {key} ({}) holds {:?} test directories, not {TESTS}",
            c.name(),
            dirs.trim()
        )
        .into());
    }
    Ok(())
}

/// At the end only the shared fixtures' containers may remain, owned by this process.
/// Anything else of this process is removed and reported. Returns whether all is well.
async fn leak_check(docker: &Docker) -> Result<bool> {
    let owner = labels::owner_id();
    let (_, containers) = support::leaks::own_containers(docker).await?;
    // The fixtures the rounds started and checked (not `get()` here: that would start
    // one that a failed round did not).
    let expected = STARTED.lock().unwrap_or_else(|e| e.into_inner()).clone();

    let mut ok = true;
    let mut shared = Vec::new();
    let mut leaks = Vec::new();
    let mut seen = HashSet::new();
    for c in containers {
        let id = c.id.clone().unwrap_or_default();
        let labels_of = c.labels.clone().unwrap_or_default();
        let state = c.state.map(|s| s.to_string()).unwrap_or_default();
        match expected.get(&id) {
            Some((key, container_name))
                if labels_of.get(labels::SHARED).map(String::as_str) == Some(*key)
                    && labels_of.get(labels::OWNER).map(String::as_str) == Some(owner)
                    && state == "running" =>
            {
                seen.insert(id);
                shared.push(format!(
                    "{container_name} ({}={key}, {}={owner}, {state})",
                    labels::SHARED,
                    labels::OWNER
                ));
            }
            _ => {
                let removal = match docker
                    .remove_container(&id, Some(raw::force_remove()))
                    .await
                {
                    Ok(()) => "removed now".to_owned(),
                    Err(e) => format!("could not be removed: {e}"),
                };
                leaks.push(format!(
                    "{:?} ({state}, test {:?}): {removal}",
                    c.names.unwrap_or_default(),
                    labels_of.get(labels::TEST)
                ));
            }
        }
    }
    if !leaks.is_empty() {
        eprintln!(
            "LEAK: {} container(s) of this process other than the shared fixtures were still \
             there at the end (now removed): {leaks:#?}",
            leaks.len()
        );
        ok = false;
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|(id, _)| !seen.contains(*id))
        .map(|(_, (key, n))| format!("{key} ({n})"))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "bench shared: shared fixture(s) not running, or mislabelled, at the end: {missing:?}"
        );
        ok = false;
    }
    if ok {
        println!(
            "leak check: the only containers of this process left are its {} shared fixture(s), \
             all owned by it ({}={owner}):",
            shared.len(),
            labels::OWNER
        );
        for s in &shared {
            println!("  {s}");
        }
        println!(
            "  the reaper removes them when the bench process exits (check: \
             `docker ps -a --filter label={}={owner}` prints nothing afterwards)",
            labels::OWNER
        );
    }
    Ok(ok)
}

// ---------------------------------------------------------------------------------------
// The report.

fn report(s: &Samples, daemon: &str, image_ref: &str, import: Duration) {
    let per_suite = Samples::get(&s.suite, Variant::PerTest);
    let shared_suite = Samples::get(&s.suite, Variant::Shared);
    let per_tests = Samples::get(&s.tests, Variant::PerTest);
    let shared_tests = Samples::get(&s.tests, Variant::Shared);
    let range = |v: &[Duration]| {
        let v = sorted(v);
        match (v.first(), v.last()) {
            (Some(a), Some(b)) => format!("{:.0} .. {:.0}", ms(*a), ms(*b)),
            _ => "-".to_owned(),
        }
    };

    println!();
    println!(
        "testdock shared-fixture benchmark: {TESTS} tests, {PARALLEL} at a time, each needing a \
         server that starts in ~1 s (`{SERVER_SCRIPT}`) and doing one isolated exec"
    );
    println!(
        "rounds: {ROUNDS} per variant, interleaved, order reversed every other round (+1 warm-up server)"
    );
    println!("daemon: {daemon}");
    println!(
        "image: {image_ref} (static busybox with its applets; ready in {:.0} ms before timing)",
        ms(import)
    );
    println!(
        "per-test = a container per test (start, exec, remove); shared = static Shared \
         fixture (one start per suite), a unique_name directory per test"
    );
    println!();
    let table = Table::print_header(&[
        ("ms", 28),
        ("per-test container", 18),
        ("shared fixture", 16),
    ]);
    let ms0 = |d: Duration| format!("{:.0}", ms(d));
    table.row([
        "suite wall time, median".to_owned(),
        ms0(median(per_suite)),
        ms0(median(shared_suite)),
    ]);
    table.row([
        "suite wall time, min .. max".to_owned(),
        range(per_suite),
        range(shared_suite),
    ]);
    table.row([
        "one test, median".to_owned(),
        ms0(median(per_tests)),
        ms0(median(shared_tests)),
    ]);
    table.row([
        "one test, p90".to_owned(),
        ms0(p90(per_tests)),
        ms0(p90(shared_tests)),
    ]);
    table.row([
        "servers started per suite".to_owned(),
        TESTS.to_string(),
        1.to_string(),
    ]);
    let speedup = ratio(median(per_suite), median(shared_suite));
    println!("   speed-up (suite medians): {speedup:.1}x");
    println!("   rounds (suite ms):");
    for (label, v) in [("per-test", per_suite), ("shared", shared_suite)] {
        let list: Vec<String> = v.iter().map(|d| format!("{:.0}", ms(*d))).collect();
        println!("     {label:<9} {}", list.join(", "));
    }
    let mut targets = Targets::begin();
    targets.check(
        speedup >= MIN_SPEEDUP,
        format!("suite speed-up = {speedup:.1}x (target >= {MIN_SPEEDUP:.1}x)"),
    );
    targets.end();
}
