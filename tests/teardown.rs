//! Every way a test can end removes its container: `remove()`, drop under any runtime
//! or none, and panics; with volumes, and with labels that find what is left.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testdock::bollard::errors::Error as DockerError;
use testdock::bollard::models::VolumeCreateRequest;
use testdock::bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveVolumeOptions};
use testdock::{Container, ContainerSpec};

/// A busybox container that runs until it is removed.
fn sleeper() -> ContainerSpec {
    ContainerSpec::new(common::busybox()).cmd(["/bin/sleep", "1000"])
}

fn is_404(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Whether the daemon knows a container called `name`.
async fn container_exists(name: &str) -> bool {
    let docker = common::docker().await;
    match common::read_again_while_stopping(|| docker.inspect_container(name, None)).await {
        Ok(_) => true,
        Err(e) if common::no_such_container(&e) => false,
        Err(e) => panic!("inspect container {name}: {e}"),
    }
}

/// Whether the daemon knows a volume called `name`.
async fn volume_exists(name: &str) -> bool {
    let docker = common::docker().await;
    match docker.inspect_volume(name).await {
        Ok(_) => true,
        Err(e) if is_404(&e) => false,
        Err(e) => panic!("inspect volume {name}: {e}"),
    }
}

/// Waits up to 5 s for container `name` to be gone (a drop removes in the background);
/// fails if it is still there.
async fn assert_container_gone(name: &str) {
    let started = std::time::Instant::now();
    while container_exists(name).await && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!container_exists(name).await, "{name} is still there");
}

/// Waits up to 5 s for volume `name` to be gone; fails if it is still there.
async fn assert_volume_gone(name: &str) {
    let started = std::time::Instant::now();
    while volume_exists(name).await && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!volume_exists(name).await, "volume {name} is still there");
}

/// A name no other run uses.
fn unique(what: &str) -> String {
    format!("testdock-test-{what}-{}", common::unique())
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Starts a sleeper, checks it runs, and returns it with its name.
async fn started() -> (Container, String) {
    let c = sleeper().start().await.expect("start");
    let name = c.name().to_owned();
    assert!(container_exists(&name).await, "{name} should be running");
    (c, name)
}

#[tokio::test]
async fn remove_at_the_end_deletes_the_container_before_it_returns() {
    let (c, name) = started().await;
    c.remove().await.expect("remove");
    assert!(!container_exists(&name).await, "{name} is still there");
    common::assert_nothing_left(&common::this_test()).await;
}

/// `remove()` takes the container by value, so when an outer timeout drops that future
/// mid-way nothing else is left to remove it: the drop itself must.
#[tokio::test]
async fn cancelling_remove_midway_still_removes_the_container() {
    let mut left = Vec::new();
    for ms in [0, 1, 5] {
        let (c, name) = started().await;
        let outcome = tokio::time::timeout(Duration::from_millis(ms), c.remove()).await;
        if outcome.is_err() {
            left.push((ms, name));
        }
    }
    // The drop of the cancelled removal goes on in the background: give it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let mut still = Vec::new();
        for (ms, name) in left {
            if container_exists(&name).await {
                still.push((ms, name));
            }
        }
        left = still;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Force-remove what leaked before failing, so the failure leaves nothing behind.
    let docker = common::docker().await;
    for (_, name) in &left {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = docker.remove_container(name, Some(options)).await;
    }
    assert!(
        left.is_empty(),
        "cancelled after (ms) and still there: {left:?}"
    );
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn dropping_under_a_current_thread_runtime_removes_the_container() {
    let name = {
        let (_c, name) = started().await;
        name
    };
    assert_container_gone(&name).await;
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_under_a_multi_thread_runtime_removes_the_container() {
    let (c, name) = started().await;
    drop(c);
    assert_container_gone(&name).await;
    common::assert_nothing_left(&common::this_test()).await;
}

#[test]
fn dropping_outside_any_runtime_removes_the_container() {
    let spec = sleeper();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let c = runtime.block_on(spec.start()).expect("start");
    let name = c.name().to_owned();
    drop(runtime);
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "this drop must happen outside any runtime"
    );
    drop(c);
    current_thread_runtime().block_on(async {
        assert_container_gone(&name).await;
        common::assert_nothing_left(&common::this_test()).await;
    });
}

#[test]
fn a_panic_while_holding_a_container_removes_it() {
    let started_name = Arc::new(Mutex::new(None::<String>));
    let seen = Arc::clone(&started_name);
    let outcome = std::panic::catch_unwind(move || {
        current_thread_runtime().block_on(async move {
            let (c, name) = started().await;
            *seen.lock().unwrap() = Some(name);
            panic!("deliberate panic while holding {}", c.name());
        })
    });
    let payload = outcome.expect_err("the block panics");
    let message = payload
        .downcast_ref::<String>()
        .expect("panic! with arguments gives a String");
    assert!(message.starts_with("deliberate panic"), "{message}");
    let name = started_name
        .lock()
        .unwrap()
        .clone()
        .expect("the container started before the panic");
    current_thread_runtime().block_on(async {
        assert_container_gone(&name).await;
        common::assert_nothing_left(&common::this_test()).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_holding_a_container_removes_it() {
    let spec = sleeper(); // made here, so it carries this test's label
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let c = spec.start().await.expect("start");
        tx.send(c.name().to_owned()).expect("receiver alive");
        panic!("deliberate panic in a task holding {}", c.name());
    });
    let err = task.await.expect_err("the task panics");
    assert!(err.is_panic(), "{err}");
    let name = rx.await.expect("the task started its container");
    assert_container_gone(&name).await;
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn volumes_made_for_the_container_go_with_it_and_existing_ones_stay() {
    let docker = common::docker().await;
    let existing = unique("existing");
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(existing.clone()),
            ..Default::default()
        })
        .await
        .expect("create a volume testdock does not own");
    let fresh = unique("fresh");

    let c = sleeper()
        .anonymous_volume("/data")
        .volume(&fresh, "/cache")
        .volume(&existing, "/existing")
        .start()
        .await
        .expect("start");
    let name = c.name().to_owned();
    let mounts = c
        .inspect()
        .await
        .expect("inspect")
        .mounts
        .unwrap_or_default();
    let anonymous = mounts
        .iter()
        .find(|m| m.destination.as_deref() == Some("/data"))
        .and_then(|m| m.name.clone())
        .expect("a volume is mounted at /data");
    let fresh_labels = docker.inspect_volume(&fresh).await.expect("fresh").labels;
    assert_eq!(
        fresh_labels.get(testdock::labels::CONTAINER),
        Some(&name),
        "{fresh_labels:?}"
    );
    c.remove().await.expect("remove");

    let anonymous_left = volume_exists(&anonymous).await;
    let fresh_left = volume_exists(&fresh).await;
    let existing_kept = docker.inspect_volume(&existing).await;
    // Clean up our own volume before asserting, so a failure leaks nothing.
    let _ = docker
        .remove_volume(&existing, None::<RemoveVolumeOptions>)
        .await;
    assert!(
        !anonymous_left,
        "anonymous volume {anonymous} is still there"
    );
    assert!(
        !fresh_left,
        "named volume {fresh} made for {name} is still there"
    );
    let existing_kept = existing_kept.expect("the pre-existing volume is kept");
    assert!(
        existing_kept.labels.is_empty(),
        "{:?}",
        existing_kept.labels
    );
    assert!(!volume_exists(&existing).await, "our own cleanup failed");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn dropping_a_container_also_removes_its_volumes() {
    let fresh = unique("dropped");
    let c = sleeper()
        .anonymous_volume("/data")
        .volume(&fresh, "/cache")
        .start()
        .await
        .expect("start");
    let mounts = c
        .inspect()
        .await
        .expect("inspect")
        .mounts
        .unwrap_or_default();
    let anonymous = mounts
        .iter()
        .find(|m| m.destination.as_deref() == Some("/data"))
        .and_then(|m| m.name.clone())
        .expect("a volume is mounted at /data");
    drop(c);
    assert_volume_gone(&anonymous).await;
    assert_volume_gone(&fresh).await;
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn a_started_container_carries_the_labels_that_find_it() {
    let (c, _name) = started().await;
    let labels: HashMap<String, String> = c
        .inspect()
        .await
        .expect("inspect")
        .config
        .and_then(|config| config.labels)
        .unwrap_or_default();
    let expect = [
        (testdock::labels::MANAGED_BY, "testdock".to_owned()),
        (
            testdock::labels::SESSION,
            testdock::labels::session_id().to_owned(),
        ),
        (testdock::labels::TEST, common::this_test()),
        (testdock::labels::PID, std::process::id().to_string()),
    ];
    for (key, value) in expect {
        assert_eq!(labels.get(key), Some(&value), "label {key}: {labels:?}");
    }
    assert_eq!(testdock::labels::MANAGED_BY, "testdock.managed-by");
    assert_eq!(testdock::labels::SESSION, "testdock.session");
    assert_eq!(testdock::labels::TEST, "testdock.test");
    assert_eq!(testdock::labels::PID, "testdock.pid");
    c.remove().await.expect("remove");
    common::assert_nothing_left(&common::this_test()).await;
}
