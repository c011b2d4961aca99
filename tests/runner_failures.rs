//! The failure paths of `#[container_test]`, each checked from outside the failing test.
//!
//! A failing test cannot check its own failure, nor what its process leaves behind. So
//! each failing test here is `#[ignore]`d and run by a driver test in a child process of
//! this binary (`--ignored --exact NAME`), bounded in time; the driver checks the child's
//! exit, its output, its diagnostics files, and that nothing labelled with the child's
//! test id (`runner_failures::NAME`) is left on the daemon.

mod common;
mod runner_support;

use std::time::Duration;

use runner_support::{run_child, ChildRun};
use testdock::runner::TestContext;
use testdock::{container_test, Container, Probe};

// ---------------------------------------------------------------------------------------
// The failing tests, run only as children.

#[container_test(
    image = common::busybox(),
    cmd = ["sh", "-c", "echo hello-from-diag; sleep 1000"],
    ready = Probe::log("hello-from-diag")
)]
#[ignore = "run as a child process by a_panicking_body_* driver tests"]
async fn child_body_panics(c: Container) {
    let _ = c.id();
    panic!("deliberate panic in the body");
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"])]
#[ignore = "run as a child process by an_err_from_the_body_fails_the_test_and_removes_its_container"]
async fn child_body_returns_an_error(c: Container) -> Result<(), String> {
    let _ = c.id();
    Err("deliberate error from the body".into())
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"], timeout = "2s")]
#[ignore = "run as a child process by a_body_awaiting_forever_fails_at_the_timeout_and_is_torn_down"]
async fn child_body_awaits_forever(c: Container) {
    eprintln!("body of {} started", c.name());
    std::future::pending::<()>().await;
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"], timeout = "2s")]
#[ignore = "run as a child process by an_async_body_blocked_in_sync_code_fails_at_the_timeout_and_is_torn_down"]
// Blocking a runtime worker is the point: the runner must not wait for this body.
#[allow(clippy::disallowed_methods)]
async fn child_async_body_blocks(c: Container) {
    eprintln!("body of {} started", c.name());
    std::thread::sleep(Duration::from_secs(600));
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"], timeout = "2s")]
#[ignore = "run as a child process by a_plain_fn_body_blocked_* driver tests"]
// Blocking is the point: the runner must not wait for a body stuck in synchronous code.
#[allow(clippy::disallowed_methods)]
fn child_plain_body_blocks(c: Container) {
    eprintln!("body of {} started", c.name());
    std::thread::sleep(Duration::from_secs(600));
}

/// A fixture that starts fine and says so (the inline container of the test below
/// sleeps a second first, so this one is ready before that one dies).
async fn healthy(ctx: &TestContext) -> testdock::Result<Container> {
    let c = ctx
        .spec(common::busybox())
        .cmd(["sh", "-c", "echo up; exec sleep 1000"])
        .wait_for(Probe::log("up"))
        .start()
        .await?;
    eprintln!("healthy fixture {} is ready", c.name());
    Ok(c)
}

#[container_test(
    image = common::busybox(),
    cmd = ["sh", "-c", "sleep 1; echo dying; exit 3"],
    ready = Probe::log("never")
)]
#[ignore = "run as a child process by a_fixture_that_exits_before_ready_fails_the_test_and_both_containers_go"]
async fn child_fixture_dies(#[from(healthy)] good: Container, dying: Container) {
    unreachable!("the body ran with {} and {}", good.name(), dying.name());
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"])]
#[ignore = "run as a child process by should_panic_on_a_panicking_container_test_passes_and_removes_its_container"]
#[should_panic(expected = "expected panic")]
async fn child_should_panic(c: Container) {
    let _ = c.id();
    panic!("expected panic in the body");
}

#[container_test(
    image = common::busybox(),
    cmd = ["sh", "-c", "echo kept-for-debugging; exec sleep 1000"],
    ready = Probe::log("kept-for-debugging")
)]
#[ignore = "run as a child process by the keep_failed_* driver tests"]
async fn child_kept_after_failure(c: Container) {
    let _ = c.id();
    panic!("deliberate panic with TESTDOCK_KEEP_FAILED set");
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"])]
#[ignore = "run as a child process by the without_a_daemon_* driver tests"]
async fn child_without_a_daemon(c: Container) {
    let _ = c.id();
}

// ---------------------------------------------------------------------------------------
// The drivers.

/// For children that should end within seconds (a slow first image import included).
const QUICK: Duration = Duration::from_secs(60);

/// Asserts the failure report of `run` describes exactly one container (name, image,
/// last log lines with `line`) and that its log and inspect JSON were saved; returns it.
fn assert_report_describes_one_container(run: &ChildRun, line: &str) -> String {
    let dir = runner_support::artifact_dir(&run.name);
    run.assert_output_has(&format!("(saved under {})", dir.display()));
    run.assert_output_has("last log lines:");
    run.assert_output_has(&format!("| {line}"));
    let reported = runner_support::reported_containers(&run.stderr);
    assert_eq!(reported.len(), 1, "one container described:\n{run}");
    let (container, image) = reported[0].clone();
    assert!(image.starts_with("testdock/host:"), "the image: {image}");

    let log = dir.join(format!("{container}.log"));
    let log = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(log.contains(line), "{log:?}");
    let inspect = dir.join(format!("{container}.inspect.json"));
    let inspect =
        std::fs::read_to_string(&inspect).unwrap_or_else(|e| panic!("{}: {e}", inspect.display()));
    let json: serde_json::Value = serde_json::from_str(&inspect).expect("inspect is JSON");
    assert_eq!(json["Name"], format!("/{container}"), "{inspect}");
    assert_eq!(json["Config"]["Image"], image, "{inspect}");
    container
}

/// Runs the child `name` after removing its diagnostics directory of earlier runs.
fn run_fresh(name: &str, env: &[(&str, &str)]) -> ChildRun {
    runner_support::run_child_fresh(name, env, QUICK)
}

#[test]
fn a_panicking_body_fails_the_test_with_its_message_and_removes_its_container() {
    let run = run_fresh("child_body_panics", &[]);
    run.assert_failed();
    run.assert_output_has("panicked at tests/runner_failures.rs");
    run.assert_output_has(
        "testdock: test runner_failures::child_body_panics failed: deliberate panic in the body",
    );
    let dir = runner_support::artifact_dir(&run.name);
    run.assert_output_has(&format!("(saved under {})", dir.display()));
    assert!(dir.is_dir(), "{} was not made", dir.display());
    run.assert_nothing_left();
}

#[test]
fn a_panicking_body_s_report_describes_its_container_and_saves_its_logs() {
    let run = run_fresh("child_body_panics", &[]);
    run.assert_failed();
    assert_report_describes_one_container(&run, "hello-from-diag");
    run.assert_nothing_left();
}

#[test]
fn an_err_from_the_body_fails_the_test_and_removes_its_container() {
    let run = run_child("child_body_returns_an_error", &[], QUICK);
    run.assert_failed();
    run.assert_output_has("the test returned an error: \"deliberate error from the body\"");
    run.assert_nothing_left();
}

/// Runs `name` (a 2 s limit) and asserts it failed at its timeout, promptly, leaving
/// nothing; returns the run.
fn assert_times_out(name: &str) -> ChildRun {
    let run = run_child(name, &[], Duration::from_secs(30));
    run.assert_failed();
    run.assert_output_has("body of ");
    run.assert_output_has(&format!("runner_failures::{name}: timed out after"));
    run.assert_output_has("(limit 2s)");
    assert!(
        run.elapsed < Duration::from_secs(20),
        "the child took {:?} for a 2 s timeout:\n{run}",
        run.elapsed
    );
    run.assert_nothing_left();
    run
}

#[test]
fn a_body_awaiting_forever_fails_at_the_timeout_and_is_torn_down() {
    assert_times_out("child_body_awaits_forever");
}

#[test]
fn a_timed_out_test_s_panic_points_at_the_test_not_at_testdock() {
    let run = assert_times_out("child_body_awaits_forever");
    let output = run.output();
    let locations: Vec<&str> = output
        .lines()
        .filter_map(|line| Some(line.split_once("panicked at ")?.1))
        .collect();
    assert_eq!(locations.len(), 1, "one panic:\n{run}");
    assert!(
        locations[0].starts_with("tests/runner_failures.rs:"),
        "the panic points at {:?}, not at the test:\n{run}",
        locations[0]
    );
}

#[test]
fn an_async_body_blocked_in_sync_code_fails_at_the_timeout_and_is_torn_down() {
    let run = assert_times_out("child_async_body_blocks");
    run.assert_output_has("the body was still running");
}

#[test]
fn a_plain_fn_body_blocked_in_sync_code_fails_at_the_timeout_and_is_torn_down() {
    assert_times_out("child_plain_body_blocks");
}

#[test]
fn a_plain_fn_body_blocked_in_sync_code_is_reported_as_still_running() {
    let run = assert_times_out("child_plain_body_blocks");
    run.assert_output_has("the body was still running");
}

#[test]
fn a_fixture_that_exits_before_ready_fails_the_test_and_both_containers_go() {
    let run = run_child("child_fixture_dies", &[], QUICK);
    run.assert_failed();
    run.assert_output_has("healthy fixture ");
    run.assert_output_has("runner_failures::child_fixture_dies: a fixture failed to start");
    run.assert_output_has("exited with code 3");
    run.assert_output_has("| dying");
    run.assert_nothing_left();
}

#[test]
fn should_panic_on_a_panicking_container_test_passes_and_removes_its_container() {
    let run = run_child("child_should_panic", &[], QUICK);
    run.assert_passed();
    run.assert_output_has("expected panic in the body");
    run.assert_nothing_left();
}

const KEPT: &str = "child_kept_after_failure";

/// Runs the failing child with `TESTDOCK_KEEP_FAILED=1` and checks what it said; returns
/// the run and the container its report describes.
fn run_keep_failed() -> (ChildRun, String) {
    let run = run_fresh(KEPT, &[(testdock::runner::KEEP_FAILED_ENV, "1")]);
    run.assert_failed();
    run.assert_output_has("deliberate panic with TESTDOCK_KEEP_FAILED set");
    run.assert_output_has(&format!(
        "testdock: keeping the containers of failed test runner_failures::{KEPT}"
    ));
    run.assert_output_has("no reaper or sweep removes them: `testdock prune --kept`");
    // Described after the body panicked: the runner, not the handle's Drop, decided.
    let kept = assert_report_describes_one_container(&run, "kept-for-debugging");
    (run, kept)
}

#[test]
fn keep_failed_keeps_the_container_through_the_report_and_says_how_to_remove_it() {
    run_keep_failed();
    runner_support::remove_containers_of(KEPT);
    let left = runner_support::wait_until_nothing_left(KEPT, Duration::from_secs(10));
    assert!(left.is_empty(), "{left:#?}");
}

#[test]
fn keep_failed_leaves_the_failed_tests_container_after_the_process_exits() {
    let (run, kept) = run_keep_failed();
    assert_eq!(run.left_at_exit.len(), 1, "kept at exit:\n{run}");
    // Whatever cleans up after a dead process has had its chance after a few seconds.
    runner_support::wait_until_nothing_left(KEPT, Duration::from_secs(5));
    let still_there = runner_support::remove_containers_of(KEPT);
    assert_eq!(
        still_there,
        [format!("/{kept}-kept")],
        "the kept container (renamed) was gone within 5 s of the child's exit:\n{run}"
    );
}

#[test]
fn in_pool_mode_the_report_and_keep_failed_work_and_the_pause_is_kept_too() {
    let run = run_fresh(
        KEPT,
        &[
            (testdock::runner::KEEP_FAILED_ENV, "1"),
            (testdock::pool::POOL_ENV, "1"),
        ],
    );
    run.assert_failed();
    let kept = assert_report_describes_one_container(&run, "kept-for-debugging");
    let pause = run
        .stderr
        .split([' ', ',', ';'])
        .find(|w| w.starts_with("testdock-pause-") && w.ends_with("-kept"))
        .unwrap_or_else(|| panic!("the kept pause is named:\n{run}"))
        .to_owned();
    let mode = runner_support::block_on(async {
        let docker = common::docker().await;
        let kept = docker
            .inspect_container(&format!("{kept}-kept"), None)
            .await;
        let mode = kept
            .expect("the container is kept")
            .host_config
            .and_then(|h| h.network_mode);
        let removed = docker.remove_container(
            &pause,
            Some(
                testdock::bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        );
        assert!(removed.await.is_ok(), "the pause {pause} is kept with it");
        mode
    });
    runner_support::remove_containers_of(KEPT);
    assert!(
        mode.is_some_and(|m| m.starts_with("container:")),
        "it ran in the pool"
    );
}

const NO_DAEMON: &str = "unix:///nonexistent.sock";

#[test]
fn without_a_daemon_the_test_fails_listing_the_endpoints_tried() {
    let name = "child_without_a_daemon";
    let run = run_child(name, &[("DOCKER_HOST", NO_DAEMON)], QUICK);
    run.assert_failed();
    run.assert_output_has(&format!("runner_failures::{name} needs Docker"));
    run.assert_output_has("no Docker daemon answered; tried:");
    run.assert_output_has(NO_DAEMON);
    run.assert_output_has("(set TESTDOCK_SKIP_WITHOUT_DOCKER=1 to skip such tests instead)");
}

#[test]
fn without_a_daemon_and_skip_set_the_test_passes_with_a_skipped_line() {
    let name = "child_without_a_daemon";
    let skip = (testdock::runner::SKIP_WITHOUT_DOCKER_ENV, "1");
    let run = run_child(name, &[("DOCKER_HOST", NO_DAEMON), skip], QUICK);
    run.assert_passed();
    run.assert_output_has(&format!(
        "testdock: SKIPPED runner_failures::{name} (tests/runner_failures.rs:"
    ));
    run.assert_output_has("no Docker daemon (TESTDOCK_SKIP_WITHOUT_DOCKER is set)");
}
