//! Teardown off the test's critical path: a dropped handle returns at once under any
//! runtime (its removal goes on in the background), the runner's test returns as soon
//! as its teardown is handed off, and a process that exits with removals still pending
//! loses nothing (its reaper finishes them).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testdock::runner::{run_test, TestMeta};
use testdock::{ContainerSpec, NetworkSpec, VolumeSpec};
use wait_timeout::ChildExt;

/// A busybox container that runs until it is removed.
fn sleeper() -> ContainerSpec {
    ContainerSpec::new(common::busybox()).cmd(["/bin/sleep", "1000"])
}

/// How many handles the drop tests let go of at once.
const HANDLES: usize = 8;

/// The child: 8 containers, a network and a volume, all dropped, then an immediate exit
/// (no time for the background removals). Prints `READY <owner>` and `DROPPED <µs>`.
#[test]
#[ignore = "run as a child process by the test below"]
fn child_drops_everything_and_exits() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (containers, net, vol) = runtime.block_on(async {
        let (net, vol) =
            futures::try_join!(NetworkSpec::new().create(), VolumeSpec::new().create())
                .expect("create the network and the volume");
        let starts = (0..HANDLES).map(|_| sleeper().start());
        let containers = futures::future::try_join_all(starts)
            .await
            .expect("start the containers");
        (containers, net, vol)
    });
    println!("READY {}", testdock::labels::owner_id());
    let dropping = Instant::now();
    runtime.block_on(async move {
        drop(net);
        drop(vol);
        drop(containers);
    });
    println!("DROPPED {}", dropping.elapsed().as_micros());
    std::process::exit(0);
}

#[tokio::test]
async fn a_process_exiting_right_after_its_drops_leaves_nothing() {
    let command = common::child::test_command(&[], "child_drops_everything_and_exits");
    let mut child = common::child::ChildTest::spawn(command);
    let owner = child.expect("READY ", Duration::from_secs(120));
    let dropped: u128 = child
        .expect("DROPPED ", Duration::from_secs(30))
        .parse()
        .expect("microseconds");
    let status = child
        .child
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("the child exits within 30 s");
    assert!(status.success(), "{status}:\n{}", child.output());
    assert!(
        dropped < 500_000,
        "dropping {HANDLES} containers, a network and a volume took {dropped} µs"
    );
    let limit = common::removal_limit(Duration::from_secs(5)).await;
    common::assert_gone_within(&common::docker().await, &owner, limit).await;
}

#[test]
fn dropping_handles_inside_a_current_thread_runtime_returns_at_once() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The removals need this runtime for nothing: they finish while it waits.
    runtime.block_on(drop_started_handles_and_wait_until_gone());
}

/// Starts [`HANDLES`] containers, drops them all at once (asserting the drop returns at
/// once: one removal takes ~100 ms, a drop that waited would take far longer), then
/// waits until nothing of this test is left.
async fn drop_started_handles_and_wait_until_gone() {
    let starts = (0..HANDLES).map(|_| sleeper().start());
    let containers = futures::future::try_join_all(starts)
        .await
        .expect("start the containers");
    let dropping = Instant::now();
    drop(containers);
    let took = dropping.elapsed();
    assert!(took < Duration::from_millis(50), "the drops took {took:?}");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_handles_on_a_multi_thread_runtime_returns_at_once() {
    drop_started_handles_and_wait_until_gone().await;
}

/// One runner test holding a container; returns how long `run_test` took to return
/// after the body ended.
fn one_runner_test(id: &str) -> Duration {
    let body_end = Arc::new(Mutex::new(None::<Instant>));
    let seen = Arc::clone(&body_end);
    let meta = TestMeta::new(id, file!(), line!()).per_test_network();
    run_test(meta, move |ctx| async move {
        let c = ctx
            .spec(common::busybox())
            .cmd(["/bin/sleep", "1000"])
            .start()
            .await?;
        assert!(!c.name().is_empty());
        *seen.lock().unwrap() = Some(Instant::now());
        Ok(())
    });
    let returned = Instant::now();
    let ended = body_end.lock().unwrap().expect("the body ran");
    returned.duration_since(ended)
}

#[test]
fn a_runner_test_returns_right_after_its_body_and_its_container_goes_after() {
    let ids: Vec<String> = (0..3)
        .map(|i| format!("handoff::runner_returns_quickly_{i}_{}", common::unique()))
        .collect();
    let latencies: Vec<Duration> = ids.iter().map(|id| one_runner_test(id)).collect();
    let fastest = latencies.iter().min().copied().unwrap();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        for id in &ids {
            common::assert_nothing_left(id).await;
        }
    });
    // A removal takes ~100 ms; a test that waited for its container and network would
    // take at least that.
    assert!(
        fastest < Duration::from_millis(50),
        "from body end to run_test's return: {latencies:?}"
    );
}
