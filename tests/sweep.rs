//! Stale resources (their owner provably dead) are swept at first use and by `prune`;
//! everything else is left alone: live owners, owners in another pid namespace or on
//! another host (unknown), kept containers and containers reused across runs. `testdock
//! ps|prune` say which is which. The sweep runs once per session, at the first container
//! of its first process: the test runs it in child processes of sessions of their own.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use testdock::bollard::models::ContainerCreateBody;
use testdock::bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testdock::prune::{Ownership, Selection, Unproven};
use testdock::{labels, ContainerSpec};

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_owned()
}

fn pid_namespace() -> u64 {
    let link = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let link = link.to_str().unwrap();
    link["pid:[".len()..link.len() - 1].parse().unwrap()
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A pid that ran and exited.
fn dead_pid() -> u32 {
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    pid
}

/// An owner as labels: pid and start time, host, pid namespace.
struct Owner {
    owner: String,
    host: String,
    namespace: u64,
}

/// Creates (does not start) a container labelled as testdock's, owned by `owner`,
/// created a minute ago as far as its labels say.
async fn labelled_container(name: &str, owner: &Owner, test: &str) {
    labelled_container_with(name, owner, test, &[]).await;
}

/// [`labelled_container`] with `extra` labels.
async fn labelled_container_with(name: &str, owner: &Owner, test: &str, extra: &[(&str, &str)]) {
    let docker = common::docker().await;
    let image = common::busybox()
        .prepare()
        .await
        .map(|p| p.reference)
        .unwrap();
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let labels = HashMap::from([
        (
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        ),
        (labels::SESSION.to_owned(), "sweep-test".to_owned()),
        (labels::TEST.to_owned(), test.to_owned()),
        (labels::OWNER.to_owned(), owner.owner.clone()),
        (labels::HOST.to_owned(), owner.host.clone()),
        (
            labels::PID_NAMESPACE.to_owned(),
            owner.namespace.to_string(),
        ),
        (labels::CREATED.to_owned(), created.to_string()),
    ]);
    let labels = labels
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["sleep".into(), "1000".into()]),
        labels: Some(labels),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    docker.create_container(Some(options), body).await.unwrap();
}

async fn exists(name: &str) -> bool {
    let docker = common::docker().await;
    docker.inspect_container(name, None).await.is_ok()
}

async fn force_remove(name: &str) {
    let docker = common::docker().await;
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(name, Some(options)).await;
}

/// Starts one container (the first of this process: it starts the sweep, if this is the
/// first process of its session), lets the background sweep run, and removes it.
#[test]
#[ignore = "run as a child process by the test below"]
fn child_starts_a_container() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let c = ContainerSpec::new(common::busybox())
            .cmd(["sleep", "1000"])
            .start()
            .await
            .expect("a container");
        // The sweep runs in the background; a few lists and removals take well under this.
        tokio::time::sleep(Duration::from_secs(3)).await;
        c.remove().await.expect("removed");
    });
}

/// Runs [`child_starts_a_container`] as a process of `session`.
fn run_child(session: &str) -> std::process::ExitStatus {
    common::child::test_command(&[], "child_starts_a_container")
        .env(labels::SESSION_ENV, session)
        .status()
        .expect("the child test process")
}

#[tokio::test]
async fn only_proven_deaths_are_swept_and_kept_containers_survive_until_asked() {
    let test = common::this_test();
    let me = std::process::id();
    let here = |owner: String| Owner {
        owner,
        host: boot_id(),
        namespace: pid_namespace(),
    };
    // A dead owner here: stale.
    let dead = format!("testdock-sweep-dead-{me}");
    labelled_container(&dead, &here(format!("{}-12345", dead_pid())), &test).await;
    // A live owner that is not this process: a sleeping child.
    let mut alive_child = Command::new("sleep").arg("60").spawn().unwrap();
    let alive_pid = alive_child.id();
    let live = format!("testdock-sweep-live-{me}");
    let live_owner = here(format!("{alive_pid}-{}", start_time(alive_pid)));
    labelled_container(&live, &live_owner, &test).await;
    // The same dead pid, but in another pid namespace (a job container): unknown.
    let foreign = format!("testdock-sweep-otherns-{me}");
    let mut other_ns = here(format!("{}-12345", dead_pid()));
    other_ns.namespace += 1;
    labelled_container(&foreign, &other_ns, &test).await;
    // Another host sharing the daemon: unknown.
    let remote = format!("testdock-sweep-otherhost-{me}");
    let mut other_host = here(format!("{}-12345", dead_pid()));
    other_host.host = "another-boot-id".to_owned();
    labelled_container(&remote, &other_host, &test).await;
    // A container kept for debugging, its owner long dead.
    let kept = format!("testdock-sweep-{me}-kept");
    labelled_container(&kept, &here(format!("{}-12345", dead_pid())), &test).await;
    // A container reused across runs (`TESTDOCK_REUSE`), even one whose labels name an
    // owner long dead: no one owns it.
    let reused = format!("testdock-reuse-sweep-{me}");
    let reuse_label = [(labels::REUSE, "0123abcd")];
    let dead_owner = here(format!("{}-12345", dead_pid()));
    labelled_container_with(&reused, &dead_owner, &test, &reuse_label).await;

    // `testdock ps` tells them apart.
    let ps = Command::new(env!("CARGO_BIN_EXE_testdock"))
        .arg("ps")
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
    let line_of = |name: &str| {
        ps.lines()
            .find(|l| l.contains(&format!("{name} ")))
            .unwrap_or("")
            .to_owned()
    };
    assert!(line_of(&dead).contains("stale"), "{ps}");
    assert!(line_of(&live).contains("alive"), "{ps}");
    assert!(
        line_of(&foreign).contains("unknown (another pid namespace)"),
        "{ps}"
    );
    assert!(line_of(&remote).contains("unknown (another host)"), "{ps}");
    assert!(line_of(&kept).contains("kept"), "{ps}");
    assert!(line_of(&reused).contains("reused"), "{ps}");
    let listed = testdock::prune::ps(Selection::all()).await.unwrap();
    let ownership = |name: &str| {
        listed
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.ownership.clone())
    };
    assert_eq!(
        ownership(&foreign),
        Some(Ownership::Unknown(Unproven::OtherPidNamespace))
    );

    // The first process of a session sweeps at its first container.
    let session = format!("sweep-test-{me}-{}", common::unique());
    assert!(run_child(&session).success());
    let dead_left = exists(&dead).await;
    let survivors = [
        exists(&live).await,
        exists(&foreign).await,
        exists(&remote).await,
        exists(&kept).await,
        exists(&reused).await,
    ];
    // (That a later process of the session skips the sweep is a unit test of
    // `first_in_session`: here, any other process on this host may sweep a stale
    // container first, as it should.)

    // `testdock prune` removes no more than the sweep did.
    let prune = Command::new(env!("CARGO_BIN_EXE_testdock"))
        .arg("prune")
        .output()
        .unwrap();
    let prune_out = String::from_utf8_lossy(&prune.stdout).into_owned();
    let after_prune = [
        exists(&live).await,
        exists(&foreign).await,
        exists(&remote).await,
        exists(&kept).await,
        exists(&reused).await,
    ];

    // `prune --kept` removes the kept container when asked (of this test: the daemon
    // may be shared).
    let prune_kept = Command::new(env!("CARGO_BIN_EXE_testdock"))
        .args(["prune", "--kept", "--test", &test])
        .output()
        .unwrap();
    let kept_gone = !exists(&kept).await;
    let reused_still_there = exists(&reused).await;
    // `prune --reused` removes the reused one when asked.
    let prune_reused = Command::new(env!("CARGO_BIN_EXE_testdock"))
        .args(["prune", "--reused", "--test", &test])
        .output()
        .unwrap();
    let reused_gone = !exists(&reused).await;

    alive_child.kill().unwrap();
    alive_child.wait().unwrap();
    // Now its owner is gone: prune removes it.
    let removed = testdock::prune::prune(Selection::stale()).await.unwrap();
    let live_gone = !exists(&live).await;
    // The unknown ones are not ours to sweep: remove them by hand.
    force_remove(&foreign).await;
    force_remove(&remote).await;
    force_remove(&reused).await;

    assert!(!dead_left, "the stale container survived the sweep");
    assert_eq!(
        survivors, [true; 5],
        "the sweep removed a live, unknown, kept or reused container"
    );
    assert!(prune.status.success(), "{prune_out}");
    assert_eq!(
        after_prune, [true; 5],
        "prune removed too much: {prune_out}"
    );
    assert!(prune_kept.status.success());
    assert!(kept_gone, "prune --kept left the kept container");
    assert!(
        reused_still_there,
        "prune --kept removed the reused container"
    );
    assert!(prune_reused.status.success());
    assert!(reused_gone, "prune --reused left the reused container");
    assert!(removed.iter().any(|r| r.name == live), "{removed:?}");
    assert!(live_gone);
    common::assert_nothing_left(&test).await;
}
