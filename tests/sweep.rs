//! Stale resources (their owner process is gone) are swept at first use and by
//! `prune`; resources of live owners are left alone; `testdock ps|prune` say so.
//! Its own binary: the sweep runs once per process, at the first container.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use testdock::bollard::models::ContainerCreateBody;
use testdock::bollard::query_parameters::CreateContainerOptionsBuilder;
use testdock::{labels, ContainerSpec};

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_owned()
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// Creates (does not start) a container labelled as testdock's, owned by `owner`.
async fn labelled_container(name: &str, owner: &str, test: &str) {
    let docker = testdock::client().await.unwrap();
    let image = common::busybox().reference().await.unwrap();
    let labels = HashMap::from([
        (
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        ),
        (labels::SESSION.to_owned(), "sweep-test".to_owned()),
        (labels::TEST.to_owned(), test.to_owned()),
        (labels::OWNER.to_owned(), owner.to_owned()),
        (labels::HOST.to_owned(), boot_id()),
    ]);
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
    let docker = testdock::client().await.unwrap();
    docker.inspect_container(name, None).await.is_ok()
}

#[tokio::test]
async fn stale_resources_are_swept_and_live_ones_are_left_alone() {
    let test = common::this_test();
    // A dead owner: a process that ran and exited.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let dead = format!("testdock-sweep-dead-{}", std::process::id());
    labelled_container(&dead, &format!("{dead_pid}-12345"), &test).await;
    // A live owner that is not this process: a sleeping child.
    let mut alive_child = Command::new("sleep").arg("60").spawn().unwrap();
    let alive_pid = alive_child.id();
    let live = format!("testdock-sweep-live-{}", std::process::id());
    labelled_container(
        &live,
        &format!("{alive_pid}-{}", start_time(alive_pid)),
        &test,
    )
    .await;

    // `testdock ps` tells them apart.
    let ps = Command::new(env!("CARGO_BIN_EXE_testdock"))
        .arg("ps")
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
    let line_of = |name: &str| {
        ps.lines()
            .find(|l| l.contains(name))
            .unwrap_or("")
            .to_owned()
    };
    assert!(line_of(&dead).contains("stale"), "{ps}");
    assert!(line_of(&live).contains("alive"), "{ps}");

    // The first container of this process starts the sweep.
    let c = ContainerSpec::new(common::busybox())
        .cmd(["sleep", "1000"])
        .start()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while exists(&dead).await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead_left = exists(&dead).await;
    let live_left = exists(&live).await;
    c.remove().await.unwrap();

    // `testdock prune` keeps the live one; `prune --all` would not.
    let prune = Command::new(env!("CARGO_BIN_EXE_testdock"))
        .arg("prune")
        .output()
        .unwrap();
    let prune_out = String::from_utf8_lossy(&prune.stdout).into_owned();
    let live_after_prune = exists(&live).await;

    alive_child.kill().unwrap();
    alive_child.wait().unwrap();
    // Now its owner is gone: prune removes it.
    let removed = testdock::prune::prune(false).await.unwrap();
    let live_gone = !exists(&live).await;

    assert!(!dead_left, "the stale container survived the sweep");
    assert!(live_left, "the sweep removed a container of a live owner");
    assert!(prune.status.success(), "{prune_out}");
    assert!(!prune_out.contains(&live), "{prune_out}");
    assert!(
        live_after_prune,
        "prune removed a container of a live owner"
    );
    assert!(removed.iter().any(|r| r.name == live), "{removed:?}");
    assert!(live_gone);
    common::assert_nothing_left(&test).await;
}
