//! Attribute benchmark: the per-test overhead of `#[container_test]` against the fixture
//! API by hand and against raw bollard.
//!
//! One "test" is: start one busybox container that is ready when it logs `ready`, run a
//! trivial exec (`true`) in it, tear it down. It is run
//!
//! - `attribute`: through [`testdock::runner::run_test`] with a [`TestMeta`], exactly the
//!   call `#[container_test(image = ..., cmd = [...], ready = Probe::log("ready"))]`
//!   expands to (one runtime built per test, the test's container given to the meta with
//!   `TestMeta::container` and started by `Container`'s `Fixture` impl, the
//!   body an `async fn` that owns the container, so its `Drop` removes it, then the
//!   runner's teardown by label). The attribute itself cannot be used here: it expands to
//!   a `#[test]`, which a bench's `main` cannot run;
//! - `by-hand`: the fixture API inside one long-lived tokio runtime:
//!   `ContainerSpec::...start()`, exec, `remove()`;
//! - `raw`: bollard alone: create, start, follow logs until `ready`, exec, remove (force).
//!
//! Two diagnostics explain the attribute's overhead: `runtime` builds and shuts down a
//! runtime configured as `run_test`'s (nothing else), and `empty-test` is `run_test` with
//! a body that starts nothing (runtime, daemon check, teardown by label).
//!
//! All variants use one image made from the host's static busybox, imported once before
//! timing, by reference. The variants are interleaved, in reversed order every other
//! iteration, after warm-up iterations that are not counted. After every test (outside
//! the timed region) no container labelled with its test may remain; at the end no
//! container of this run may remain.
//!
//! Run with `cargo bench --bench attribute`. `TESTDOCK_BENCH_ITERATIONS=N` sets the
//! number of counted iterations (default 15). Exit code 1 when there is no daemon or no
//! busybox, when a test fails, or when anything was left behind.

mod support;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use testdock::bollard::exec::{StartExecOptions, StartExecResults};
use testdock::bollard::models::{ContainerCreateBody, ExecConfig};
use testdock::bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder,
};
use testdock::bollard::Docker;
use testdock::runner::{run_test, Fixture, TestContext, TestMeta};
use testdock::{labels, Container, ContainerSpec, Exec, Probe};

use support::images::{busybox_with, import};
use support::run::{alternate, iterations};
use support::stats::{median, ms, p90, ratio};
use support::table::Table;
use support::{leaks, raw, run, Result};

const SCRIPT: &str = "echo ready; exec sleep 1000";
const READY: &str = "ready";
const ATTRIBUTE_ID: &str = "bench::attribute::attribute";
const BY_HAND_ID: &str = "bench::attribute::by_hand";
const RAW_ID: &str = "bench::attribute::raw";
const EMPTY_ID: &str = "bench::attribute::empty_test";

const WARMUP: usize = 2;
const DEFAULT_ITERATIONS: usize = 15;

fn main() -> ExitCode {
    // Not `#[tokio::main]`: `run_test` builds its own runtime, which cannot be done
    // inside another one.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build the bench's runtime");
    let Some(daemon) = rt.block_on(run::connect("attribute")) else {
        return ExitCode::FAILURE;
    };
    let docker = daemon.client().clone();
    let completed = run::completed("attribute", bench(&rt, &docker));
    let clean = rt.block_on(leaks::check_session("attribute", &docker));
    run::exit_code(completed && clean)
}

fn bench(rt: &tokio::runtime::Runtime, docker: &Docker) -> Result<()> {
    let iterations = iterations(DEFAULT_ITERATIONS)?;
    let version = rt.block_on(docker.version())?;
    // Busybox with the applets the test uses.
    let imported = rt.block_on(import(
        docker,
        busybox_with(&["sh", "sleep", "true"]),
        BY_HAND_ID,
    ))?;
    let image = &imported.reference;

    let outcome = measure(rt, docker, image, iterations);
    if let Ok(samples) = &outcome {
        println!();
        println!("testdock attribute benchmark: per-test overhead of #[container_test]");
        println!(
            "one test = start busybox (`{SCRIPT}`), ready on log `{READY}` -> exec `true` -> \
             teardown"
        );
        println!(
            "daemon: Docker {} (API {}), client API {}; image {image} ({})",
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default(),
            docker.client_version(),
            if imported.imported_here {
                "imported before timing"
            } else {
                "already present"
            }
        );
        println!(
            "iterations: {iterations} counted per variant (+{WARMUP} warm-up), interleaved, \
             order reversed every other iteration"
        );
        println!(
            "note: `attribute` calls testdock::runner::run_test with a TestMeta, which is \
             exactly what #[container_test] expands to; the attribute itself makes a #[test] \
             and cannot be used inside a bench's main"
        );
        report(samples);
    }
    rt.block_on(imported.remove_if_imported(docker));
    outcome.map(|_| ())
}

/// The container of one test, as the attribute's options describe it.
fn spec(image: impl Into<testdock::ImageSource>) -> ContainerSpec {
    ContainerSpec::new(image)
        .cmd(["sh", "-c", SCRIPT])
        .wait_for(Probe::log(READY))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Variant {
    Attribute,
    ByHand,
    Raw,
    Runtime,
    EmptyTest,
}

const VARIANTS: [Variant; 5] = [
    Variant::Attribute,
    Variant::ByHand,
    Variant::Raw,
    Variant::Runtime,
    Variant::EmptyTest,
];

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Attribute => "attribute (run_test)",
            Variant::ByHand => "by-hand (fixture API)",
            Variant::Raw => "raw bollard",
            Variant::Runtime => "runtime only *",
            Variant::EmptyTest => "empty-test *",
        }
    }

    /// The label value of its containers, for the per-test leak check.
    fn test_id(self) -> &'static str {
        match self {
            Variant::Attribute => ATTRIBUTE_ID,
            Variant::ByHand => BY_HAND_ID,
            Variant::Raw => RAW_ID,
            Variant::Runtime | Variant::EmptyTest => EMPTY_ID,
        }
    }
}

/// One test's durations.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// From the first call until the body begins (container ready).
    startup: Duration,
    /// The exec.
    body: Duration,
    /// From the end of the body until the test returned (container gone).
    teardown: Duration,
    /// All of it, measured as one interval.
    total: Duration,
}

type Samples = HashMap<Variant, Vec<Run>>;

fn measure(
    rt: &tokio::runtime::Runtime,
    docker: &Docker,
    image: &str,
    iterations: usize,
) -> Result<Samples> {
    let mut samples: Samples = VARIANTS.iter().map(|&v| (v, Vec::new())).collect();
    for i in 0..WARMUP + iterations {
        for v in alternate(VARIANTS, i) {
            let run = match v {
                Variant::Attribute => attribute_test(image),
                Variant::EmptyTest => empty_test(),
                Variant::Runtime => Ok(runtime_only()),
                Variant::ByHand => rt.block_on(by_hand_test(image)),
                Variant::Raw => rt.block_on(raw_test(docker, image, i)),
            }
            .map_err(|e| format!("{}: {e}", v.label()))?;
            let left = rt.block_on(containers_labelled(docker, v.test_id()))?;
            if !left.is_empty() {
                return Err(format!("{}: left {left:?} after its teardown", v.label()).into());
            }
            if i >= WARMUP {
                samples.get_mut(&v).expect("a series per variant").push(run);
            }
        }
    }
    Ok(samples)
}

/// Instants the body of a `run_test` test records, read after it returns.
#[derive(Debug, Default)]
struct Marks {
    body_start: Option<Instant>,
    body_end: Option<Instant>,
}

/// `run_test` as `#[container_test]` expands to it, the failure caught.
// `Ok(body(c).await)` with a `()` body is the expansion's shape, kept as is.
#[allow(clippy::unit_arg)]
fn attribute_test(image: &str) -> Result<Run> {
    let marks = Arc::new(Mutex::new(Marks::default()));
    let (image, inner) = (image.to_owned(), marks.clone());
    let t0 = Instant::now();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let meta = TestMeta::new(ATTRIBUTE_ID, file!(), line!()).container(spec(image));
        run_test(meta, move |ctx: TestContext| async move {
            let ctx = &ctx;
            let (c,) = futures::try_join!(Container::setup(ctx))?;
            Ok(attribute_body(c, inner).await)
        });
    }))
    .map_err(|_| "the test failed (its panic is printed above)")?;
    let end = Instant::now();
    let marks = marks.lock().expect("marks");
    let (start, body_end) = marks.body_start.zip(marks.body_end).ok_or("no body ran")?;
    Ok(Run {
        startup: start - t0,
        body: body_end - start,
        teardown: end - body_end,
        total: end - t0,
    })
}

/// The test body: owns the container, which its `Drop` removes at the end.
async fn attribute_body(c: Container, marks: Arc<Mutex<Marks>>) {
    marks.lock().expect("marks").body_start = Some(Instant::now());
    let out = c.exec(Exec::new(["true"])).await.expect("exec true");
    assert!(out.success(), "true failed: {out:?}");
    marks.lock().expect("marks").body_end = Some(Instant::now());
}

/// `run_test` with a body that starts nothing: the runner's fixed cost per test.
fn empty_test() -> Result<Run> {
    let t0 = Instant::now();
    std::panic::catch_unwind(|| {
        let meta = TestMeta::new(EMPTY_ID, file!(), line!());
        run_test(meta, |_ctx| async { testdock::Result::Ok(()) });
    })
    .map_err(|_| "the empty test failed")?;
    Ok(Run {
        total: t0.elapsed(),
        ..Run::default()
    })
}

/// A runtime configured as `run_test` builds one, built and shut down as it does.
fn runtime_only() -> Run {
    let t0 = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(EMPTY_ID)
        .enable_all()
        .build()
        .expect("build a runtime");
    runtime.block_on(async {});
    runtime.shutdown_timeout(Duration::from_millis(100));
    Run {
        total: t0.elapsed(),
        ..Run::default()
    }
}

/// The fixture API by hand, in the bench's runtime.
async fn by_hand_test(image: &str) -> Result<Run> {
    let t0 = Instant::now();
    let c = spec(image).test_id(BY_HAND_ID).start().await?;
    let ready = Instant::now();
    let out = c.exec(Exec::new(["true"])).await?;
    if !out.success() {
        return Err(format!("true failed: {out:?}").into());
    }
    let body_end = Instant::now();
    c.remove().await?;
    let end = Instant::now();
    Ok(Run {
        startup: ready - t0,
        body: body_end - ready,
        teardown: end - body_end,
        total: end - t0,
    })
}

/// The same test with bollard alone.
async fn raw_test(docker: &Docker, image: &str, seq: usize) -> Result<Run> {
    let name = format!("bench-attr-raw-{}-{seq}", labels::session_id());
    let t0 = Instant::now();
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["sh".into(), "-c".into(), SCRIPT.into()]),
        labels: Some(raw::labels(RAW_ID)),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    docker.create_container(Some(options), body).await?;
    let outcome = raw_start_and_exec(docker, &name).await;
    let body_end = Instant::now();
    docker
        .remove_container(&name, Some(raw::force_remove()))
        .await?;
    let end = Instant::now();
    let ready = outcome?;
    Ok(Run {
        startup: ready - t0,
        body: body_end - ready,
        teardown: end - body_end,
        total: end - t0,
    })
}

/// Starts `name`, follows its logs until `ready`, runs `true`; returns when it was ready.
async fn raw_start_and_exec(docker: &Docker, name: &str) -> Result<Instant> {
    docker.start_container(name, None).await?;
    raw::follow_until(docker, name, name, READY, || ()).await?;
    let ready = Instant::now();
    let config = ExecConfig {
        cmd: Some(vec!["true".into()]),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = docker.create_exec(name, config).await?;
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&exec.id, Some(StartExecOptions::default()))
        .await?
    {
        while let Some(item) = output.next().await {
            item?;
        }
    }
    let code = docker.inspect_exec(&exec.id).await?.exit_code;
    if code != Some(0) {
        return Err(format!("true exited with {code:?}").into());
    }
    Ok(ready)
}

/// The containers of this session labelled with `test_id`.
async fn containers_labelled(docker: &Docker, test_id: &str) -> Result<Vec<String>> {
    let filter = HashMap::from([(
        "label",
        vec![
            format!("{}={test_id}", labels::TEST),
            format!("{}={}", labels::SESSION, labels::session_id()),
        ],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filter)
        .build();
    let list = docker.list_containers(Some(options)).await?;
    Ok(list
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect())
}

// ---------------------------------------------------------------------------------------
// The report.

fn report(samples: &Samples) {
    let col = |v: Variant, f: fn(&Run) -> Duration| -> Vec<Duration> {
        samples[&v].iter().map(f).collect()
    };
    let raw_total = median(&col(Variant::Raw, |r| r.total));
    println!();
    let table = Table::print_header(&[
        ("ms per test", 24),
        ("total med.", 10),
        ("total p90", 9),
        ("vs raw", 10),
        ("startup", 10),
        ("exec (body)", 11),
        ("teardown", 10),
    ]);
    for v in VARIANTS {
        let total = median(&col(v, |r| r.total));
        let parts = |f: fn(&Run) -> Duration| match v {
            Variant::Runtime | Variant::EmptyTest => "-".to_owned(),
            _ => format!("{:.1}", ms(median(&col(v, f)))),
        };
        table.row([
            v.label().to_owned(),
            format!("{:.1}", ms(total)),
            format!("{:.1}", ms(p90(&col(v, |r| r.total)))),
            format!("{:.3}x", ratio(total, raw_total)),
            parts(|r| r.startup),
            parts(|r| r.body),
            parts(|r| r.teardown),
        ]);
    }
    println!("medians; `vs raw` = total median / raw total median; * = diagnostics, no container");

    let attribute = median(&col(Variant::Attribute, |r| r.total));
    let by_hand = median(&col(Variant::ByHand, |r| r.total));
    let runtime = median(&col(Variant::Runtime, |r| r.total));
    let empty = median(&col(Variant::EmptyTest, |r| r.total));
    let over_hand = ms(attribute) - ms(by_hand);
    let share = |part: Duration| {
        let of_total = format!(
            "{:.1}% of the attribute's total",
            100.0 * ms(part) / ms(attribute)
        );
        if over_hand > 0.0 {
            format!(
                "{of_total}, {:.0}% of attribute - by-hand",
                100.0 * ms(part) / over_hand
            )
        } else {
            format!("{of_total}; attribute - by-hand is not positive")
        }
    };
    println!();
    println!("where the attribute's overhead goes (medians, ms):");
    println!(
        "  attribute - raw                          {:+8.1}",
        ms(attribute) - ms(raw_total)
    );
    println!(
        "  by-hand - raw (the fixture API)          {:+8.1}",
        ms(by_hand) - ms(raw_total)
    );
    println!("  attribute - by-hand (the runner)         {over_hand:+8.1}");
    println!(
        "  a runtime per test (build + shutdown)    {:8.1}  ({})",
        ms(runtime),
        share(runtime)
    );
    println!(
        "  run_test with an empty body              {:8.1}  ({})",
        ms(empty),
        share(empty)
    );
    println!(
        "  (empty body = runtime + daemon check + teardown by label: list containers and volumes)"
    );
    println!();
}
