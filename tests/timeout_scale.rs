//! `TESTDOCK_TIMEOUT_SCALE` multiplies every limit. The scale is read once per process,
//! so this file is its own test binary and sets it before any testdock call.

mod common;

use std::sync::Once;
use std::time::{Duration, Instant};

use testdock::{ContainerSpec, Error, Probe, Step};

/// Sets the scale to 3 before the first testdock call of whichever test runs first.
fn scale_by_three() {
    static SET: Once = Once::new();
    // Edition 2021: `set_var` is safe; the other test thread waits on the `Once`.
    SET.call_once(|| std::env::set_var(testdock::timeouts::SCALE_ENV, "3"));
}

/// A busybox container that prints a line and never becomes ready.
fn never_ready(probe: impl Into<Probe>) -> ContainerSpec {
    common::sh("echo starting up; sleep 1000").wait_for(probe)
}

/// Starts `spec`, expecting a readiness timeout; returns the error's limit and the time
/// `start` took.
async fn time_out(spec: ContainerSpec) -> (Duration, Duration) {
    let began = Instant::now();
    let err = spec.start().await.expect_err("the probe never passes");
    let took = began.elapsed();
    let Error::Timeout { step, limit, .. } = err else {
        panic!("expected Error::Timeout, got: {err:?}");
    };
    assert_eq!(step, Step::Ready, "{err}");
    assert!(err.to_string().contains("starting up"), "{err}");
    (limit, took)
}

#[tokio::test]
async fn the_scale_is_read_from_the_environment() {
    scale_by_three();
    assert_eq!(testdock::timeouts::scale(), 3.0);
    assert_eq!(
        testdock::timeouts::scaled(Duration::from_millis(500)),
        Duration::from_millis(1500)
    );
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn the_startup_timeout_is_multiplied_by_the_scale() {
    scale_by_three();
    let spec = never_ready(Probe::log("never")).startup_timeout(Duration::from_millis(500));
    let (limit, took) = time_out(spec).await;
    assert_eq!(limit, Duration::from_millis(1500));
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(6),
        "timed out after {took:?}, not ≈ 1.5 s"
    );
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn a_probes_own_limit_is_multiplied_by_the_scale() {
    scale_by_three();
    let probe = Probe::log("never").within(Duration::from_millis(400));
    let spec = never_ready(probe).startup_timeout(Duration::from_secs(30));
    let (limit, took) = time_out(spec).await;
    assert_eq!(limit, Duration::from_millis(1200));
    assert!(
        took >= Duration::from_millis(1100) && took < Duration::from_secs(6),
        "timed out after {took:?}, not ≈ 1.2 s"
    );
    common::assert_nothing_left(&common::this_test()).await;
}
