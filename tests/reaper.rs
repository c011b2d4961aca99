//! Nothing is left when a test process dies, however it dies: each case runs a child
//! process (this test binary, running one of the ignored `child_*` tests) that creates
//! a container, a named volume and a network, then ends in the way under test. The
//! parent asserts that everything the child owned is gone within 2 s.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testdock::runner::{run_test, TestMeta};
use wait_timeout::ChildExt;

/// What the child prints once its resources exist: `READY <owner>`.
const READY: &str = "READY ";

/// The child: resources on a per-test network, then the ending named by `REAPER_END`.
#[test]
#[ignore = "run as a child process by the tests below"]
fn child_holds_resources() {
    let meta = TestMeta::new("reaper::child_holds_resources", file!(), line!()).per_test_network();
    run_test(meta, |ctx| async move {
        let c = common::hold_resources(&ctx).await;
        match std::env::var("REAPER_END").as_deref() {
            Ok("panic") => panic!("the child panics on purpose"),
            Ok("exit") => std::process::exit(0),
            _ => {
                // Wait to be signalled.
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
        }
        drop(c);
        Ok(())
    });
}

fn spawn_child(end: &str) -> (Child, String) {
    let mut command = common::child::test_command(&[], "child_holds_resources");
    command.env("REAPER_END", end);
    let child = common::child::ChildTest::spawn(command);
    let owner = child.expect(READY, Duration::from_secs(60));
    (child.child, owner)
}

/// Ends the child as `how` and asserts its resources go within 2 s of its death (6 s
/// on Podman: [`common::removal_limit`]).
async fn assert_cleaned_after(end: &str, how: impl FnOnce(&mut Child)) {
    let (mut child, owner) = spawn_child(end);
    let before = common::owned_by(&owner).await;
    assert_eq!(
        before.len(),
        3,
        "the child holds a container, a volume and a network: {before:?}"
    );
    how(&mut child);
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("the child ends within 30 s");
    let died = Instant::now();
    let mut left = common::owned_by(&owner).await;
    while !left.is_empty() && died.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = common::owned_by(&owner).await;
    }
    let took = died.elapsed();
    assert!(
        left.is_empty(),
        "after the child's {end} ({status}) these are left: {left:?}"
    );
    let limit = common::removal_limit(Duration::from_secs(2)).await;
    assert!(took < limit, "cleanup after {end} took {took:?}");
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{name} failed");
}

#[tokio::test]
async fn a_child_killed_with_sigkill_leaves_nothing() {
    assert_cleaned_after("sigkill", |c| c.kill().unwrap()).await;
}

#[tokio::test]
async fn a_child_interrupted_with_sigint_leaves_nothing() {
    assert_cleaned_after("sigint", |c| signal(c, "INT")).await;
}

#[tokio::test]
async fn a_child_terminated_with_sigterm_leaves_nothing() {
    assert_cleaned_after("sigterm", |c| signal(c, "TERM")).await;
}

#[tokio::test]
async fn a_child_that_panics_leaves_nothing() {
    assert_cleaned_after("panic", |_| {}).await;
}

#[tokio::test]
async fn a_child_that_exits_without_teardown_leaves_nothing() {
    assert_cleaned_after("exit", |_| {}).await;
}

/// The child for the image test: imports an image unique to this run, then exits.
#[tokio::test]
#[ignore = "run as a child process by the test below"]
async fn child_imports_an_image() {
    let marker = std::env::var("REAPER_MARKER").unwrap();
    let image = common::busybox().file(testdock::InjectFile::from_bytes("/marker", marker));
    let reference = image.prepare().await.map(|p| p.reference).unwrap();
    println!("IMAGE {reference}");
}

#[tokio::test]
async fn images_a_process_made_are_removed_at_its_end_when_asked() {
    let marker = format!("{}-{:?}", std::process::id(), Instant::now());
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_imports_an_image",
            "--nocapture",
        ])
        .env("REAPER_MARKER", &marker)
        .env("TESTDOCK_REMOVE_IMAGES", "1")
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reference = stdout
        .lines()
        .find_map(|l| l.split_once("IMAGE ").map(|(_, r)| r.trim().to_owned()))
        .unwrap_or_else(|| panic!("the child printed no image: {stdout}"));
    let docker = common::docker().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while docker.inspect_image(&reference).await.is_ok() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        docker.inspect_image(&reference).await.is_err(),
        "{reference} is still there after the child ended"
    );
}
