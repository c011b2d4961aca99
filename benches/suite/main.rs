//! Suite benchmark: what a whole test suite takes with testdock against the same suite
//! written with raw bollard (synchronous removal), run the ways users run tests.
//!
//! The suite (`benches/suite/tests.rs`, test target `suite_bench`) holds 32 tests with
//! one container each, twice: `#[container_test]`, and `#[tokio::test]` with raw bollard.
//! Each round runs both halves under `cargo test` (the test binary itself, all tests in
//! one process, default threads) and under `cargo nextest run` (a process per test),
//! interleaved (the order alternates by round). Reported per harness and variant: the
//! wall time until the harness exits, the containers still listed at that moment and the
//! time until none is (testdock hands removals off: the reaper finishes what a process
//! did not), and the test process's peak memory.
//!
//! Then, in fresh processes (what nextest pays per test): one test's wall time and peak
//! memory by variant, testdock's first use (connecting with `/version`, starting the
//! reaper), and the local reaper's peak memory while it removes what a killed process
//! left.
//!
//! Run with `cargo bench --bench suite` (a few minutes; `TESTDOCK_BENCH_ITERATIONS`
//! rounds, default 3). Exit code 0 unless it could not run, failed, or left something.

#[path = "../support/mod.rs"]
mod support;

mod runs;

use std::collections::HashMap;
use std::process::{Command, ExitCode};
use std::time::Duration;

use testdock::bollard::Docker;

use runs::{Harness, SuiteRun, Variant};
use support::images::{busybox_with, import};
use support::procs;
use support::run::{alternate, iterations, smoke_note};
use support::stats::{max, median, ms, ratio};
use support::table::{Table, Targets};
use support::Result;

const BENCH: &str = "suite";
/// Fresh processes per variant for the per-process figures.
const PROCESSES: usize = 7;
/// The suite's variants run per harness: testdock on the bridge, in pool mode, raw bollard.
const VARIANTS: [Variant; 3] = [Variant::Testdock, Variant::TestdockPool, Variant::Bollard];

fn main() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let ok = runtime.block_on(async {
        let Some(daemon) = support::run::connect(BENCH).await else {
            return false;
        };
        let docker = daemon.client().clone();
        let outcome = support::run::guarded(bench(docker.clone())).await;
        let ran = support::run::completed(BENCH, outcome);
        support::leaks::check_process(BENCH, &docker).await && ran
    });
    support::run::exit_code(ok)
}

async fn bench(docker: Docker) -> Result<()> {
    let rounds = iterations(3)?;
    println!("building the suite (cargo test --test suite_bench --no-run)...");
    let suite = tokio::task::spawn_blocking(runs::build_suite).await??;
    let image = import(
        &docker,
        busybox_with(&["sh", "sleep", "echo"]),
        "bench::suite::import",
    )
    .await?;
    let reference = image.reference.clone();
    let run_id = |what: &str| format!("bench-suite-{}-{what}", std::process::id());

    // Warm-up, untimed: the first test process of each variant, and a first nextest run
    // (cargo's build check, nextest's listing: otherwise the first timed nextest run pays
    // them, and with one round always the same variant).
    let (warm_image, warm_run) = (reference.clone(), run_id("warm-up-nextest"));
    tokio::task::spawn_blocking(move || runs::warm_nextest(&warm_image, &warm_run)).await??;
    runs::wait_until_none_left(&docker, &run_id("warm-up-nextest")).await?;
    for variant in [Variant::Testdock, Variant::Bollard] {
        let exact = format!("{}t00", variant.module());
        runs::run_one(&docker, &suite, &reference, &exact, &run_id("warm-up")).await?;
    }

    let mut suites: HashMap<(Harness, Variant), Vec<SuiteRun>> = HashMap::new();
    for round in 0..rounds {
        for harness in [
            Harness::CargoTest,
            Harness::CargoTestOneThread,
            Harness::Nextest,
        ] {
            for variant in alternate(VARIANTS, round) {
                let run = run_id(&format!("{round}-{harness:?}-{variant:?}"));
                let result =
                    runs::run_suite(&docker, &suite, &reference, harness, variant, &run).await?;
                suites.entry((harness, variant)).or_default().push(result);
            }
        }
    }

    let mut singles: HashMap<Variant, Vec<procs::Finished>> = HashMap::new();
    let mut first_uses = Vec::new();
    for i in 0..PROCESSES {
        for variant in alternate([Variant::Testdock, Variant::Bollard], i) {
            let exact = format!("{}t00", variant.module());
            let run = run_id(&format!("single-{i}-{variant:?}"));
            let finished = runs::run_one(&docker, &suite, &reference, &exact, &run).await?;
            singles.entry(variant).or_default().push(finished);
        }
        let finished = runs::run_one(
            &docker,
            &suite,
            &reference,
            "first_use",
            &run_id("first-use"),
        )
        .await?;
        first_uses.push(parse_first_use(&finished.stdout)?);
    }

    let mut reaper_rss = Vec::new();
    for i in 0..3 {
        reaper_rss.push(
            reaper_peak_rss(&docker, &suite, &reference, &run_id(&format!("reaper-{i}"))).await?,
        );
    }

    report(rounds, &suites, &singles, &first_uses, &reaper_rss);
    image.remove_if_imported(&docker).await;
    Ok(())
}

/// What a process's first use costs, in ms, from the `first_use` test's line.
#[derive(Debug, Clone, Copy)]
struct FirstUse {
    /// testdock's connect + `/version` (+ topology).
    version: f64,
    /// Starting the reaper.
    reaper: f64,
    /// The floor: raw bollard's connect + `negotiate_version` in the same process.
    raw_version: f64,
}

fn parse_first_use(stdout: &str) -> Result<FirstUse> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FIRST_USE "))
        .ok_or("the first_use test printed no FIRST_USE line")?;
    let field = |name: &str| -> Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no {name} in {line:?}").into())
    };
    Ok(FirstUse {
        version: field("version_ms=")?,
        reaper: field("reaper_ms=")?,
        raw_version: field("raw_version_ms=")?,
    })
}

/// Runs `reaper_at_work` (a process that dies holding a container) and watches its
/// reaper until the reaper ends: the reaper's last peak memory, in KiB.
async fn reaper_peak_rss(
    docker: &Docker,
    suite: &std::path::Path,
    image: &str,
    run: &str,
) -> Result<u64> {
    let mut command = Command::new(suite);
    command
        .args(["--exact", "reaper_at_work"])
        .env("TESTDOCK_SUITE_IMAGE", image)
        .env("TESTDOCK_SUITE_RUN", run)
        .env("TESTDOCK_SESSION", run)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[allow(clippy::disallowed_methods)] // a blocking thread of its own
    let peak = tokio::task::spawn_blocking(move || -> Result<Option<u64>> {
        let mut owner = command.spawn()?;
        let mut reaper = None;
        while reaper.is_none() && owner.try_wait()?.is_none() {
            reaper = procs::children_of(owner.id()).first().copied();
            std::thread::sleep(Duration::from_millis(1));
        }
        let peak = reaper.and_then(|pid| procs::watch_peak_rss(pid, Duration::from_secs(30)));
        owner.wait()?;
        Ok(peak)
    })
    .await??;
    runs::wait_until_none_left(docker, run).await?;
    peak.ok_or_else(|| "the reaper of reaper_at_work was not seen".into())
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn report(
    rounds: usize,
    suites: &HashMap<(Harness, Variant), Vec<SuiteRun>>,
    singles: &HashMap<Variant, Vec<procs::Finished>>,
    first_uses: &[FirstUse],
    reaper_rss: &[u64],
) {
    println!();
    println!(
        "suite of 32 tests, one container each: {rounds} round(s){}; wall = until the harness exits",
        smoke_note(rounds, 3)
    );
    let table = Table::print_header(&[
        ("harness, variant", 30),
        ("wall median ms", 14),
        ("max ms", 8),
        ("left at exit", 12),
        ("none left after ms", 18),
        ("peak RSS MiB", 12),
    ]);
    let mut checks: Vec<(bool, String)> = Vec::new();
    for harness in [
        Harness::CargoTest,
        Harness::CargoTestOneThread,
        Harness::Nextest,
    ] {
        let walls = |v: Variant| -> Vec<Duration> {
            suites
                .get(&(harness, v))
                .map(|r| r.iter().map(|s| s.wall).collect())
                .unwrap_or_default()
        };
        for variant in VARIANTS {
            let runs = suites.get(&(harness, variant)).cloned().unwrap_or_default();
            let rss: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.max_rss_kib)
                .map(|k| k as f64)
                .collect();
            table.row([
                format!("{}, {}", harness.name(), variant.name()),
                format!("{:.0}", ms(median(&walls(variant)))),
                format!("{:.0}", ms(max(&walls(variant)))),
                runs.iter()
                    .map(|r| r.left_at_exit)
                    .max()
                    .unwrap_or(0)
                    .to_string(),
                format!(
                    "{:.0}",
                    ms(max(&runs
                        .iter()
                        .map(|r| r.until_none_left)
                        .collect::<Vec<_>>()))
                ),
                if rss.is_empty() {
                    "-".to_owned()
                } else {
                    mib(median(&rss) as u64)
                },
            ]);
        }
        let (ours, floor) = (
            median(&walls(Variant::Testdock)),
            median(&walls(Variant::Bollard)),
        );
        let pool = median(&walls(Variant::TestdockPool));
        println!(
            "  {}: pool mode / bridge mode = {:.3} ({:.0} vs {:.0} ms)",
            harness.name(),
            ratio(pool, ours),
            ms(pool),
            ms(ours)
        );
        let faster = 1.0 - ours.as_secs_f64() / floor.as_secs_f64();
        checks.push((
            faster >= 0.15,
            format!(
                "under {}, testdock's suite is >= 15 % faster than raw bollard's: {:.1} % ({:.0} vs {:.0} ms)",
                harness.name(),
                faster * 100.0,
                ms(ours),
                ms(floor)
            ),
        ));
    }

    println!();
    println!("one test per fresh process (as nextest runs it), {PROCESSES} processes each");
    let table = Table::print_header(&[
        ("variant", 30),
        ("wall median ms", 14),
        ("peak RSS MiB", 12),
    ]);
    for variant in [Variant::Testdock, Variant::Bollard] {
        let runs = singles.get(&variant).cloned().unwrap_or_default();
        let walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
        let rss: Vec<f64> = runs.iter().map(|r| r.max_rss_kib as f64).collect();
        table.row([
            variant.name().to_owned(),
            format!("{:.0}", ms(median(&walls))),
            mib(median(&rss) as u64),
        ]);
    }
    let of = |f: fn(&FirstUse) -> f64| median(&first_uses.iter().map(f).collect::<Vec<_>>());
    let (version, reaper, raw_version) =
        (of(|f| f.version), of(|f| f.reaper), of(|f| f.raw_version));
    let added = of(|f| f.version - f.raw_version + f.reaper);
    println!(
        "first use in a process (medians): connect + /version {version:.2} ms (raw bollard's \
         connect + negotiate_version {raw_version:.2} ms), reaper start {reaper:.2} ms; \
         added over the floor {added:.2} ms (the stale sweep runs in the background, once per session)"
    );
    let rss: Vec<f64> = reaper_rss.iter().map(|&k| k as f64).collect();
    println!(
        "local reaper, peak RSS while removing a killed process's container: {} MiB (median of {})",
        mib(median(&rss) as u64),
        rss.len()
    );
    checks.push((
        added <= 10.0,
        format!("first use adds <= 10 ms per process over raw bollard's connect: {added:.2} ms"),
    ));
    let mut targets = Targets::begin();
    for (met, text) in checks {
        targets.check(met, text);
    }
    targets.end();
}
