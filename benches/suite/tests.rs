//! The suite that the `suite` benchmark runs (`benches/suite/main.rs`): 32 tests with one
//! container each, written twice, as a user would write them:
//!
//! - `with_testdock::tNN`: `#[container_test]`, the container ready when the body starts,
//!   removed when it ends (handed off: the test returns at once);
//! - `with_bollard::tNN`: `#[tokio::test]` with raw bollard: create, start, wait for the
//!   log line, remove (forced) and wait for the removal, as a test that cleans up must.
//!
//! Both run the same image and command and wait for the same line. `first_use::*` time
//! what a process pays on its first use of testdock. Not run by `cargo test` (the target
//! has `test = false`): the bench runs this binary itself (the `cargo test` way) and
//! through `cargo nextest run` (a process per test). The bench passes the image reference
//! (`TESTDOCK_SUITE_IMAGE`) and a label for what the run creates (`TESTDOCK_SUITE_RUN`).

#[path = "../support/mod.rs"]
mod support;

use std::time::Instant;

use testdock::bollard::models::ContainerCreateBody;
use testdock::bollard::query_parameters::CreateContainerOptionsBuilder;
use testdock::bollard::Docker;
use testdock::{container_test, Container, ContainerSpec, Probe};

use support::BENCH_LABEL;

/// The image reference, made by the bench before it runs the suite.
const IMAGE_ENV: &str = "TESTDOCK_SUITE_IMAGE";
/// The value of [`BENCH_LABEL`] on everything this suite run creates.
const RUN_ENV: &str = "TESTDOCK_SUITE_RUN";
/// The command both variants run, and the line they wait for.
const SCRIPT: &str = "echo ready; exec sleep 1000";
const READY: &str = "ready";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run `cargo bench --bench suite`"))
}

/// The container of a testdock test.
fn spec() -> ContainerSpec {
    ContainerSpec::new(env(IMAGE_ENV))
        .cmd(["sh", "-c", SCRIPT])
        .label(BENCH_LABEL, env(RUN_ENV))
        .wait_for(Probe::log(READY))
}

/// The body of a raw-bollard test: the same container, created, started, awaited and
/// removed by hand.
async fn with_bollard(test: &str) {
    let docker = Docker::connect_with_local_defaults().expect("a Docker client");
    let mut labels = support::raw::labels(&format!("suite::with_bollard::{test}"));
    labels.insert(BENCH_LABEL.to_owned(), env(RUN_ENV));
    let body = ContainerCreateBody {
        image: Some(env(IMAGE_ENV)),
        cmd: Some(vec!["sh".into(), "-c".into(), SCRIPT.into()]),
        labels: Some(labels),
        ..Default::default()
    };
    let name = testdock::shared::unique_name("testdock-bench-suite");
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = docker
        .create_container(Some(options), body)
        .await
        .expect("create")
        .id;
    docker.start_container(&id, None).await.expect("start");
    support::raw::follow_until(&docker, &id, &name, READY, || ())
        .await
        .expect("the ready line");
    assert!(!id.is_empty());
    docker
        .remove_container(&id, Some(support::raw::force_remove()))
        .await
        .expect("remove");
}

macro_rules! suite {
    ($($test:ident)*) => {
        mod with_testdock {
            use super::*;
            $(
                #[container_test(spec = spec())]
                async fn $test(c: Container) {
                    assert!(!c.id().is_empty());
                }
            )*
        }

        mod with_bollard {
            $(
                #[tokio::test]
                async fn $test() {
                    super::with_bollard(stringify!($test)).await;
                }
            )*
        }
    };
}

suite!(
    t00 t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11 t12 t13 t14 t15
    t16 t17 t18 t19 t20 t21 t22 t23 t24 t25 t26 t27 t28 t29 t30 t31
);

/// What the first use of testdock costs a process, printed for the bench to read:
/// connecting and negotiating the API version (`/version`), then starting the reaper;
/// beside it the floor, raw bollard's connect + `negotiate_version` in the same process,
/// first (so that testdock's turn finds nothing of it warm but the process itself).
/// (The stale sweep runs in the background, off this path.)
#[tokio::test]
async fn first_use() {
    let started = Instant::now();
    let raw = Docker::connect_with_local_defaults().expect("a Docker client");
    raw.negotiate_version().await.expect("/version");
    let raw_version = started.elapsed();
    let started = Instant::now();
    testdock::daemon().await.expect("a Docker daemon");
    let version = started.elapsed();
    let reaper_started = Instant::now();
    let kind = testdock::prune::start_reaper().await;
    let reaper = reaper_started.elapsed();
    assert!(kind.is_some(), "no reaper could be started");
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "FIRST_USE version_ms={:.3} reaper_ms={:.3} raw_version_ms={:.3}",
        ms(version),
        ms(reaper),
        ms(raw_version)
    );
}

/// Starts one container (and so this process's reaper), then dies without teardown, as
/// a killed test would: the bench watches the reaper's memory while it removes it.
#[tokio::test]
async fn reaper_at_work() {
    let c = spec().start().await.expect("a container");
    std::mem::forget(c);
    std::process::exit(0);
}
