//! Teardown benchmark: what teardown costs the test itself, now that it runs in the
//! background, against raw bollard's removals in the same run.
//!
//! - `runner`: a `run_test` holding one container; the time from the body's end to
//!   `run_test`'s return (the test's own cost), and until the container is gone;
//! - `drop 8, multi-thread` / `drop 8, current-thread`: 8 started containers dropped at
//!   once inside that kind of runtime; the time `drop` takes, and until all are gone;
//! - `raw bollard`: the floor, a forced removal of 1 and of 8 containers at once (what a
//!   test that waits for its teardown pays).
//!
//! Run with `cargo bench --bench teardown` (`TESTDOCK_BENCH_ITERATIONS`, default 10).
//! Exit code 0 unless it could not run, failed, or left something behind.

mod support;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testdock::bollard::models::ContainerCreateBody;
use testdock::bollard::query_parameters::CreateContainerOptionsBuilder;
use testdock::bollard::Docker;
use testdock::runner::{run_test, TestMeta};
use testdock::{labels, ContainerSpec, HostImage};

use support::images::busybox_with;
use support::leaks::{is_404, label_filter};
use support::stats::{max, median, min, ms};
use support::table::Table;
use support::{raw, Result};

const BENCH: &str = "teardown";
const HANDLES: usize = 8;
/// The test id of the raw containers.
const RAW_TEST_ID: &str = "bench::teardown::raw";

fn image() -> HostImage {
    busybox_with(&["sleep"])
}

fn sleeper() -> ContainerSpec {
    ContainerSpec::new(image()).cmd(["/bin/sleep", "1000"])
}

/// Waits until the daemon lists no container labelled with `test_id`.
async fn until_gone(docker: &Docker, test_id: &str) -> Result<Instant> {
    let filters = label_filter(format!("{}={test_id}", labels::TEST));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let options = testdock::bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        if docker.list_containers(Some(options)).await?.is_empty() {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(format!("the containers of {test_id} are still there after 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One runner test: (body end → return, body end → gone).
fn runner_once(
    docker: &Docker,
    probe: &tokio::runtime::Runtime,
    i: usize,
) -> Result<(Duration, Duration)> {
    let id = format!("bench::teardown::runner_{}_{i}", labels::owner_id());
    let ended = Arc::new(Mutex::new(None::<Instant>));
    let seen = Arc::clone(&ended);
    run_test(
        TestMeta::new(id.clone(), file!(), line!()),
        move |ctx| async move {
            let c = ctx.adopt(sleeper()).start().await?;
            *seen.lock().unwrap() = Some(Instant::now());
            drop(c);
            Ok(())
        },
    );
    let returned = Instant::now();
    let ended = ended.lock().unwrap().ok_or("the body did not run")?;
    let gone = probe.block_on(until_gone(docker, &id))?;
    Ok((returned - ended, gone - ended))
}

/// 8 containers started, then dropped at once in `runtime`: (drop, until gone).
fn drop_eight(
    docker: &Docker,
    runtime: &tokio::runtime::Runtime,
    kind: &str,
    i: usize,
) -> Result<(Duration, Duration)> {
    let id = format!("bench::teardown::drop_{kind}_{}_{i}", labels::owner_id());
    runtime.block_on(async {
        let starts = (0..HANDLES).map(|_| sleeper().test_id(id.clone()).start());
        let containers = futures::future::try_join_all(starts).await?;
        let dropping = Instant::now();
        drop(containers);
        let dropped = dropping.elapsed();
        let gone = until_gone(docker, &id).await?;
        Ok((dropped, gone - dropping))
    })
}

/// Raw bollard: `n` containers created and started, then force-removed at once; the
/// time of the removals.
async fn raw_remove(docker: &Docker, reference: &str, n: usize) -> Result<Duration> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let body = ContainerCreateBody {
            image: Some(reference.to_owned()),
            cmd: Some(vec!["/bin/sleep".into(), "1000".into()]),
            labels: Some(raw::labels(RAW_TEST_ID)),
            ..Default::default()
        };
        let name = testdock::shared::unique_name("testdock-bench-raw");
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = docker.create_container(Some(options), body).await?;
        docker.start_container(&created.id, None).await?;
        ids.push(created.id);
    }
    let started = Instant::now();
    let removals = ids
        .iter()
        .map(|id| docker.remove_container(id, Some(raw::force_remove())));
    for outcome in futures::future::join_all(removals).await {
        match outcome {
            Err(e) if !is_404(&e) => return Err(e.into()),
            _ => {}
        }
    }
    Ok(started.elapsed())
}

#[derive(Default)]
struct Samples {
    rows: Vec<(&'static str, Vec<Duration>)>,
}

impl Samples {
    fn push(&mut self, label: &'static str, value: Duration) {
        match self.rows.iter_mut().find(|(l, _)| *l == label) {
            Some((_, v)) => v.push(value),
            None => self.rows.push((label, vec![value])),
        }
    }
}

fn bench(docker: &Docker, iterations: usize) -> Result<Samples> {
    let multi = tokio::runtime::Runtime::new()?;
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let reference = multi.block_on(image().prepare())?.reference;
    // Warm-up, not counted: the reaper, the teardown thread, the connections.
    runner_once(docker, &current, 0)?;
    drop_eight(docker, &multi, "warm", 0)?;
    let mut samples = Samples::default();
    for i in 1..=iterations {
        let (returned, gone) = runner_once(docker, &current, i)?;
        samples.push("runner: body end -> run_test returns", returned);
        samples.push("runner: body end -> container gone", gone);
        let (dropped, gone) = drop_eight(docker, &multi, "multi", i)?;
        samples.push("drop 8, multi-thread: drop returns", dropped);
        samples.push("drop 8, multi-thread: all gone", gone);
        let (dropped, gone) = drop_eight(docker, &current, "current", i)?;
        samples.push("drop 8, current-thread: drop returns", dropped);
        samples.push("drop 8, current-thread: all gone", gone);
        samples.push(
            "raw bollard: remove 1",
            multi.block_on(raw_remove(docker, &reference, 1))?,
        );
        samples.push(
            "raw bollard: remove 8 at once",
            multi.block_on(raw_remove(docker, &reference, HANDLES))?,
        );
    }
    Ok(samples)
}

/// The targets: a test returns within 5 ms of its body's end; dropping 8
/// handles costs the caller no more than raw bollard's removal of 8 (+2 %).
fn print_targets(samples: &Samples) {
    let of = |label: &str| {
        samples
            .rows
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(Duration::ZERO, |(_, v)| median(v))
    };
    let mut targets = support::table::Targets::begin();
    let returned = of("runner: body end -> run_test returns");
    targets.check(
        returned <= Duration::from_millis(5),
        format!(
            "a test returns <= 5 ms after its body ends: {:.2} ms",
            ms(returned)
        ),
    );
    let floor = of("raw bollard: remove 8 at once");
    for runtime in ["multi-thread", "current-thread"] {
        let dropped = of(&format!("drop 8, {runtime}: drop returns"));
        targets.check(
            dropped.as_secs_f64() <= floor.as_secs_f64() * 1.02,
            format!(
                "dropping 8 handles on a {runtime} runtime costs the caller <= raw bollard's \
                 removal of 8 + 2 %: {:.2} vs {:.2} ms",
                ms(dropped),
                ms(floor)
            ),
        );
    }
    targets.end();
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let control = tokio::runtime::Runtime::new().expect("runtime");
    let Some(daemon) = control.block_on(support::run::connect(BENCH)) else {
        return ExitCode::FAILURE;
    };
    let docker = daemon.client().clone();
    let iterations = match support::run::iterations(10) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bench {BENCH}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // run_test builds runtimes of its own: the measurement runs outside any runtime.
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bench(&docker, iterations)));
    let ok = match outcome {
        Ok(Ok(samples)) => {
            println!(
                "teardown, {iterations} iteration(s){}: ms (median / min / max)",
                support::run::smoke_note(iterations, 10)
            );
            let table =
                Table::print_header(&[("variant", 40), ("median", 8), ("min", 8), ("max", 8)]);
            for (label, v) in &samples.rows {
                table.row([
                    label.to_string(),
                    format!("{:.2}", ms(median(v))),
                    format!("{:.2}", ms(min(v))),
                    format!("{:.2}", ms(max(v))),
                ]);
            }
            print_targets(&samples);
            true
        }
        Ok(Err(e)) => {
            eprintln!("bench {BENCH}: the bench failed: {e}");
            false
        }
        Err(_) => {
            eprintln!("bench {BENCH}: the bench panicked");
            false
        }
    };
    let raw_filter = label_filter(format!("{}={RAW_TEST_ID}", labels::TEST));
    let clean = control.block_on(async {
        // Raw containers carry no owner label: sweep them by their test label.
        let raw_left = support::leaks::sweep(&docker, &raw_filter)
            .await
            .unwrap_or_default();
        if !raw_left.is_empty() {
            eprintln!("LEAK: raw containers left: {raw_left:#?}");
        }
        raw_left.is_empty() && support::leaks::check_process(BENCH, &docker).await
    });
    support::run::exit_code(ok && clean)
}
