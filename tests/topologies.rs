//! testdock where CI runs it: inside a job container that shares the host's daemon
//! socket, and in another pid namespace (`unshare --pid --fork --mount-proc`).
//!
//! The job container is made the way CI images are: its root holds only symlinks into
//! `/usr`, and the host's `/usr` is mounted read-only (Debian's `/bin` and `/lib` point
//! into it), with the daemon's socket mounted. It runs this very test binary, which
//! then runs one of the ignored `inner_*` tests.

mod common;

use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

use common::child::{test_command, ChildTest};
use testdock::prune::Selection;
use testdock::runner::{run_test, TestMeta};
use testdock::{labels, Container, ContainerSpec, HostImage, Probe, Topology};

const SOCKET: &str = "/var/run/docker.sock";

/// A root of symlinks into `/usr`, as merged-usr distributions have.
fn job_image() -> HostImage {
    HostImage::new()
        .symlink("/bin", "usr/bin")
        .symlink("/sbin", "usr/sbin")
        .symlink("/lib", "usr/lib")
        .symlink("/lib64", "usr/lib64")
}

/// A job container running test `inner` of this binary, with the host's `/usr` and the
/// daemon's socket.
fn job(inner: &str) -> ContainerSpec {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_owned();
    ContainerSpec::new(job_image())
        .bind_read_only("/usr", "/usr")
        .bind(SOCKET, SOCKET)
        .bind_read_only(&dir, dir.to_string_lossy())
        .env(labels::SESSION_ENV, labels::session_id())
        .cmd([
            exe.to_string_lossy().into_owned(),
            "--ignored".into(),
            "--exact".into(),
            inner.into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ])
        .startup_timeout(Duration::from_secs(180))
}

async fn job_output(job: &Container) -> String {
    let logs = job.logs().await.unwrap();
    format!("{}\n{}", logs.stdout, logs.stderr)
}

fn value_after(logs: &str, marker: &str) -> Option<String> {
    logs.lines()
        .find_map(|l| l.split_once(marker).map(|(_, v)| v.trim().to_owned()))
}

#[tokio::test]
#[ignore = "run inside a job container by the test below"]
async fn inner_reaches_a_service_from_a_job_container() {
    let daemon = testdock::daemon().await.unwrap();
    println!("TOPOLOGY {}", daemon.topology());
    let web = common::web_server(ContainerSpec::new(common::busybox()))
        .start()
        .await
        .unwrap();
    let addr = web.addr(8080).unwrap();
    let answer = common::http_get(addr);
    println!("REAPER {:?}", testdock::prune::reaper());
    assert!(answer.ends_with("hello\n"), "{answer}");
    assert!(
        matches!(daemon.topology(), Topology::JobContainer { .. }),
        "{}",
        daemon.topology()
    );
    web.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    println!("INNER OK {addr}");
}

#[tokio::test]
async fn a_test_in_a_job_container_reaches_its_service_and_leaves_nothing() {
    let inner = "inner_reaches_a_service_from_a_job_container";
    let job = job(inner)
        .wait_for(Probe::exit(0))
        .start()
        .await
        .unwrap_or_else(|e| panic!("the test in the job container failed: {e}"));
    let logs = job_output(&job).await;
    job.remove().await.unwrap();
    assert!(logs.contains("INNER OK"), "{logs}");
    let addr = value_after(&logs, "INNER OK").unwrap();
    assert!(
        !addr.starts_with("127."),
        "from a job container, a service is reached on its own IP, not loopback: {logs}"
    );
    assert!(
        value_after(&logs, "REAPER").as_deref() == Some("Some(DaemonSide)"),
        "{logs}"
    );
    common::assert_nothing_left(inner).await;
    common::assert_nothing_left(&common::this_test()).await;
}

/// Holds a container, a named volume and a network; on a `SWEEP` line from stdin,
/// sweeps stale resources and prints what it removed; ends when stdin closes (or never,
/// in a job container, whose stdin is closed from the start: there it sleeps).
#[test]
#[ignore = "run as a child process by the tests below"]
fn inner_holds_resources_then_sweeps() {
    let meta =
        TestMeta::new("topologies::inner_holds_resources", file!(), line!()).per_test_network();
    run_test(meta, |ctx| async move {
        let c = common::hold_resources(&ctx).await;
        if std::env::var_os("INNER_SLEEP").is_some() {
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        // The parent says SWEEP, then hangs up.
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        while stdin.read_line(&mut line).await.unwrap_or(0) > 0 {
            if line.trim() == "SWEEP" {
                let removed = testdock::prune::prune(Selection::stale()).await.unwrap();
                let names: Vec<String> = removed.into_iter().map(|r| r.name).collect();
                println!("SWEPT [{}]", names.join(","));
            }
            line.clear();
        }
        drop(c);
        Ok(())
    });
}

#[tokio::test]
async fn killing_a_job_container_leaves_nothing_of_it_within_2_s() {
    let job = job("inner_holds_resources_then_sweeps")
        .env("INNER_SLEEP", "1")
        .wait_for(Probe::log("READY "))
        .start()
        .await
        .unwrap_or_else(|e| panic!("the job container did not get ready: {e}"));
    let logs = job_output(&job).await;
    let owner = value_after(&logs, "READY ").expect("an owner");
    assert_eq!(
        value_after(&logs, "REAPER").as_deref(),
        Some("Some(DaemonSide)"),
        "{logs}"
    );
    let held = common::owned_by(&owner).await;
    assert_eq!(held.len(), 3, "a container, a volume, a network: {held:?}");

    job.kill("SIGKILL").await.unwrap();
    let docker = common::docker().await;
    while docker
        .inspect_container(job.id(), None)
        .await
        .ok()
        .and_then(|i| i.state?.running)
        == Some(true)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    common::assert_gone_within(&docker, &owner, Duration::from_secs(2)).await;
    job.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
}

const UNSHARE: &[&str] = &["unshare", "--pid", "--fork", "--mount-proc"];

fn unshare_available() {
    let ok = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "these tests need `unshare --pid --fork --mount-proc` (Debian's util-linux) and \
         the right to make pid namespaces (root)"
    );
}

#[tokio::test]
async fn owners_in_different_pid_namespaces_never_remove_each_others_resources() {
    unshare_available();
    let mut namespaced =
        ChildTest::spawn(test_command(UNSHARE, "inner_holds_resources_then_sweeps"));
    let ns_owner = namespaced.expect("READY ", Duration::from_secs(120));
    let mut on_host = ChildTest::spawn(test_command(&[], "inner_holds_resources_then_sweeps"));
    let host_owner = on_host.expect("READY ", Duration::from_secs(60));

    // Each sweeps for stale resources while the other holds its own.
    namespaced.say("SWEEP");
    let ns_swept = namespaced.expect("SWEPT ", Duration::from_secs(30));
    on_host.say("SWEEP");
    let host_swept = on_host.expect("SWEPT ", Duration::from_secs(30));
    let ns_held = common::owned_by(&ns_owner).await;
    let host_held = common::owned_by(&host_owner).await;

    // Each then ends normally and removes its own.
    namespaced.hang_up();
    on_host.hang_up();
    let ns_status = namespaced.child.wait().unwrap();
    let host_status = on_host.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && !(common::owned_by(&ns_owner).await.is_empty()
            && common::owned_by(&host_owner).await.is_empty())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(
        ns_held.len(),
        3,
        "the namespaced owner's: {ns_held:?} (host swept {host_swept})"
    );
    assert_eq!(
        host_held.len(),
        3,
        "the host owner's: {host_held:?} (namespace swept {ns_swept})"
    );
    assert!(
        ns_status.success() && host_status.success(),
        "{ns_status} {host_status}"
    );
    assert!(common::owned_by(&ns_owner).await.is_empty());
    assert!(common::owned_by(&host_owner).await.is_empty());
}

/// The host pid of the process whose parent is `parent`.
fn child_of(parent: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[tokio::test]
async fn sigkill_of_a_pid_namespaces_first_process_leaves_nothing_within_2_s() {
    unshare_available();
    let mut namespaced =
        ChildTest::spawn(test_command(UNSHARE, "inner_holds_resources_then_sweeps"));
    let reaper = namespaced.expect("REAPER ", Duration::from_secs(120));
    let owner = namespaced.expect("READY ", Duration::from_secs(5));
    let held = common::owned_by(&owner).await;
    // The test process is pid 1 of its namespace: its death takes every process of the
    // namespace with it, a local watchdog included.
    let pid1 = child_of(namespaced.child.id()).expect("unshare's child");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid1.to_string()])
        .status()
        .unwrap()
        .success();
    namespaced.child.wait().unwrap();
    assert!(killed);
    assert_eq!(reaper, "Some(DaemonSide)");
    assert_eq!(held.len(), 3, "{held:?}");
    let docker = common::docker().await;
    common::assert_gone_within(&docker, &owner, Duration::from_secs(2)).await;
}
