//! Failures during startup: each gives a precise, readable error and leaves nothing behind.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use testdock::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testdock::{ContainerSpec, Error, InjectFile, Probe, Step};

use common::sh;

#[tokio::test]
async fn a_container_that_exits_before_ready_fails_at_once_with_its_code_and_last_lines() {
    let limit = Duration::from_secs(30);
    let began = Instant::now();
    let err = sh("echo booting; echo fatal: no config >&2; exit 3")
        .wait_for(Probe::log("ready"))
        .startup_timeout(limit)
        .start()
        .await
        .expect_err("the container exits before it prints `ready`");
    let took = began.elapsed();

    let Error::Exited {
        step,
        exit_code,
        oom_killed,
        elapsed,
        ref container,
        ..
    } = err
    else {
        panic!("expected Error::Exited, got: {err:?}");
    };
    assert_eq!(step, Step::Ready);
    assert_eq!(exit_code, 3);
    assert!(!oom_killed);
    // A dead container must be noticed at once, not at the 30 s timeout.
    assert!(took < limit / 4, "noticed the exit only after {took:?}");
    assert!(elapsed < limit / 4, "the error reports {elapsed:?}");
    assert!(container.starts_with("testdock-"), "{container}");

    let logs = &err.logs().expect("an exit carries the logs").lines;
    assert!(logs.iter().any(|l| l == "booting"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "fatal: no config"), "{logs:?}");

    let text = err.to_string();
    assert!(text.contains(container.as_str()), "{text}");
    assert!(text.contains("exited with code 3"), "{text}");
    assert!(text.contains("fatal: no config"), "{text}");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn a_probe_that_never_passes_times_out_at_the_startup_timeout_with_the_logs() {
    let limit = Duration::from_secs(2);
    let began = Instant::now();
    let err = sh("echo starting up; sleep 1000")
        .wait_for(Probe::log("never"))
        .startup_timeout(limit)
        .start()
        .await
        .expect_err("`never` is never printed");
    let took = began.elapsed();

    let Error::Timeout {
        step,
        limit: reported_limit,
        elapsed,
        ref waiting_for,
        ref container,
        ..
    } = err
    else {
        panic!("expected Error::Timeout, got: {err:?}");
    };
    assert_eq!(step, Step::Ready);
    assert_eq!(reported_limit, limit);
    assert!(elapsed >= limit, "timed out early: {elapsed:?}");
    assert!(
        took >= limit && took < Duration::from_secs(10),
        "took {took:?}"
    );
    let waiting_for = waiting_for.as_deref().expect("the probe is named");
    assert!(waiting_for.contains("\"never\""), "{waiting_for}");

    let logs = &err.logs().expect("a timeout carries the logs").lines;
    assert!(logs.iter().any(|l| l == "starting up"), "{logs:?}");

    let text = err.to_string();
    assert!(text.contains(container.as_str()), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert!(text.contains("log line \"never\""), "{text}");
    assert!(text.contains("starting up"), "{text}");
    common::assert_nothing_left(&common::this_test()).await;
}

/// The daemon (20.10) creates the container, then refuses `POST /start` with HTTP 400
/// ("OCI runtime create failed ... exec: \"/no/such/binary\": stat /no/such/binary: no
/// such file or directory"): the process never runs, so this is a start failure, not an
/// exit.
#[tokio::test]
async fn a_missing_entrypoint_is_a_start_failure_naming_the_container_and_the_binary() {
    let err = ContainerSpec::new(common::busybox())
        .entrypoint(["/no/such/binary"])
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .expect_err("the entrypoint does not exist");

    let Error::Docker {
        step,
        ref container,
        ref source,
        ..
    } = err
    else {
        panic!("expected Error::Docker at the start step, got: {err:?}");
    };
    assert_eq!(step, Step::Start, "{err:?}");
    assert!(matches!(err.status_code(), Some(400 | 500)), "{err:?}");
    assert!(source.to_string().contains("/no/such/binary"), "{source}");
    assert!(err.logs().is_some(), "start errors carry the (empty) logs");

    let text = err.to_string();
    assert!(
        text.starts_with("start failed for container `testdock-"),
        "{text}"
    );
    assert!(text.contains(container.as_str()), "{text}");
    assert!(format!("{err:?}").contains("/no/such/binary"), "{err:?}");
    common::assert_nothing_left(&common::this_test()).await;
}

/// Asserts `err` is a failed injection whose daemon message contains `daemon_says`.
fn assert_inject_failure(err: &Error, daemon_says: &str) {
    let Error::Docker {
        step,
        container,
        source,
        ..
    } = err
    else {
        panic!("expected Error::Docker at the inject step, got: {err:?}");
    };
    assert_eq!(*step, Step::Inject, "{err:?}");
    assert!(source.to_string().contains(daemon_says), "{source}");
    let text = err.to_string();
    assert!(
        text.starts_with("inject files failed for container"),
        "{text}"
    );
    assert!(text.contains(container.as_str()), "{text}");
}

/// The daemon answers 500 "Error processing tar file(exit status 1): open
/// /bin/busybox/oops: not a directory".
#[tokio::test]
async fn injecting_below_a_regular_file_fails_at_the_inject_step() {
    let err = sh("echo ready; sleep 1000")
        .file(InjectFile::from_bytes("/bin/busybox/oops", "x"))
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .expect_err("/bin/busybox is a file, not a directory");
    assert_inject_failure(&err, "not a directory");
    common::assert_nothing_left(&common::this_test()).await;
}

/// The daemon answers 500 "container rootfs is marked read-only".
#[tokio::test]
async fn injecting_into_a_read_only_root_filesystem_fails_at_the_inject_step() {
    let err = sh("echo ready; sleep 1000")
        .read_only_rootfs(true)
        .file(InjectFile::from_bytes("/etc/app.conf", "x=1\n"))
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .expect_err("the root filesystem is read-only");
    assert_inject_failure(&err, "read-only");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn a_missing_image_is_an_image_error_naming_it_and_creates_nothing() {
    let reference = "testdock-missing/nothing:1";
    let err = ContainerSpec::new(reference)
        .start()
        .await
        .expect_err("the image exists nowhere and no registry is reachable");
    let Error::Image {
        ref image,
        ref source,
        ..
    } = err
    else {
        panic!("expected Error::Image, got: {err:?}");
    };
    assert_eq!(image, reference);
    assert!(source.is_some(), "the daemon's refusal is kept: {err:?}");
    assert_eq!(err.container(), None);
    let text = err.to_string();
    assert!(text.contains(reference), "{text}");
    common::assert_nothing_left(&common::this_test()).await;
}

/// Containers labelled `test` whose state is one of `states` (all if empty).
async fn containers(test: &str, states: &[&str]) -> Vec<String> {
    let docker = common::docker().await;
    let mut filter = HashMap::from([("label", vec![format!("{}={test}", testdock::labels::TEST)])]);
    if !states.is_empty() {
        filter.insert("status", states.iter().map(|s| s.to_string()).collect());
    }
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filter)
        .build();
    let list = docker.list_containers(Some(options)).await.expect("list");
    list.into_iter().filter_map(|c| c.id).collect()
}

/// Resolves as soon as a container labelled `test` is in one of `states` and its create
/// has completed. (Docker 20.10 lists a container a few ms before it can be looked up:
/// in between, `DELETE` answers 404 and the create still succeeds afterwards.)
async fn until_state(test: &str, states: &[&str]) {
    let docker = common::docker().await;
    let watch = async {
        loop {
            for id in containers(test, states).await {
                if docker.inspect_container(&id, None).await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), watch)
        .await
        .unwrap_or_else(|_| panic!("no container of {test} reached {states:?} within 30 s"));
}

/// Force-removes what a test that found a leak left, so the leak stays in its report.
async fn remove_leaked(test: &str) {
    let docker = common::docker().await;
    for id in containers(test, &[]).await {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = docker.remove_container(&id, Some(options)).await;
    }
}

/// Cancels `start` with an outer timeout after each of `delays`; returns, for each delay
/// after which something labelled `test` was there right after the drop, what was new.
/// What of `test` is still there once the removals a dropped `start()` handed to the
/// background had 5 s to finish (a drop returns at once; it does not wait for them).
async fn left_shortly(test: &str) -> Vec<String> {
    let started = Instant::now();
    let mut left = common::leftovers(test).await;
    while !left.is_empty() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = common::leftovers(test).await;
    }
    left
}

async fn cancel_after(spec: &ContainerSpec, test: &str, delays: &[Duration]) -> Vec<String> {
    let mut leaks = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for &delay in delays {
        let outcome = tokio::time::timeout(delay, spec.clone().start()).await;
        assert!(
            outcome.is_err(),
            "start() beat the {delay:?} timeout: {outcome:?}"
        );
        let new: Vec<String> = left_shortly(test)
            .await
            .into_iter()
            .filter(|l| seen.insert(l.clone()))
            .collect();
        if !new.is_empty() {
            leaks.push(format!("cancelled after {delay:?}: {new:?}"));
        }
    }
    leaks
}

fn ready_after_two_seconds(image: impl Into<testdock::ImageSource>) -> ContainerSpec {
    ContainerSpec::new(image)
        .cmd(["/bin/sh", "-c", "sleep 2; echo ready; sleep 1000"])
        .file(InjectFile::from_bytes("/etc/app.conf", "x=1\n"))
        .wait_for(Probe::log("ready"))
}

/// The leak testcontainers-rs is known for: an outer timeout drops the `start()` future
/// mid-way. Here each cancellation is aimed at a phase: before anything exists (image
/// preparation), once the container exists but is not started (inject/start), while
/// the probe waits, and at fixed points of the 2 s wait. The drop hands the removal to
/// the background: the container must be gone shortly after.
#[tokio::test]
async fn cancelling_start_in_each_phase_leaves_nothing_behind() {
    let test = common::this_test();
    let spec = ready_after_two_seconds(common::busybox());
    let mut leaks = cancel_after(&spec, &test, &[Duration::from_millis(1)]).await;

    for (phase, states) in [
        ("created, not yet running", &["created", "running"][..]),
        ("running, probe waiting", &["running"][..]),
    ] {
        tokio::select! {
            outcome = spec.clone().start() => panic!("start() finished before 2 s: {outcome:?}"),
            () = until_state(&test, states) => {}
        }
        let left = left_shortly(&test).await;
        if !left.is_empty() {
            leaks.push(format!("cancelled when {phase}: {left:?}"));
        }
    }

    let late = [1000, 1500].map(Duration::from_millis);
    leaks.extend(cancel_after(&spec, &test, &late).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    leaks.extend(
        common::leftovers(&test)
            .await
            .into_iter()
            .map(|l| format!("1 s later: {l}")),
    );
    remove_leaked(&test).await;
    assert!(leaks.is_empty(), "cancelled start() left: {leaks:#?}");
    common::assert_nothing_left(&test).await;
}

/// The same, at any instant: the brief's fixed points, then every millisecond across the
/// create request (started from the imported image's reference, so image preparation is
/// one inspect and create begins within a few ms), then across the whole bring-up.
#[tokio::test]
async fn cancelling_start_at_any_instant_leaves_nothing_behind() {
    let test = common::this_test();
    let mut delays: Vec<Duration> = [1, 20, 100, 300, 1000].map(Duration::from_millis).into();
    let mut leaks = cancel_after(&ready_after_two_seconds(common::busybox()), &test, &delays).await;

    let c = sh("true").start().await.expect("import the image");
    let spec = ready_after_two_seconds(c.image());
    c.remove().await.expect("remove");
    let began = Instant::now();
    let c = spec
        .clone()
        .wait_for(Probe::none())
        .start()
        .await
        .expect("start");
    let bring_up = began.elapsed();
    c.remove().await.expect("remove");

    delays = (0..=(bring_up.as_millis() as u64 / 4).max(40))
        .map(Duration::from_millis)
        .collect();
    delays.extend((1..12).map(|i| bring_up * i / 12));
    leaks.extend(cancel_after(&spec, &test, &delays).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    leaks.extend(
        common::leftovers(&test)
            .await
            .into_iter()
            .map(|l| format!("1 s later: {l}")),
    );
    remove_leaked(&test).await;
    assert!(
        leaks.is_empty(),
        "bring-up takes {bring_up:?}; left: {leaks:#?}"
    );
    common::assert_nothing_left(&test).await;
}

/// A start that fails (the container exits) removes its container before returning the
/// error; an outer timeout that fires during that removal (aimed at it: the moment the
/// daemon shows the container as `removing`) must not leave it behind.
#[tokio::test]
async fn cancelling_a_failed_start_during_its_cleanup_leaves_nothing_behind() {
    let test = common::this_test();
    let spec = sh("exit 3").wait_for(Probe::log("ready"));
    let mut caught = None;
    for _attempt in 0..20 {
        tokio::select! {
            outcome = spec.clone().start() => {
                let err = outcome.expect_err("the container exits");
                assert!(matches!(err, Error::Exited { exit_code: 3, .. }), "{err:?}");
                continue; // the cleanup was too quick to be seen: try again
            }
            () = until_state(&test, &["removing"]) => {}
        }
        caught = Some(left_shortly(&test).await);
        break;
    }
    let left = caught.expect("in 20 attempts, never saw the cleanup of a failed start");
    remove_leaked(&test).await;
    assert!(
        left.is_empty(),
        "cancelled during its cleanup, the start left: {left:#?}"
    );
    common::assert_nothing_left(&test).await;
}
