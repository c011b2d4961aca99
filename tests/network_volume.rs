//! `NetworkSpec`/`Network` and `VolumeSpec`/`Volume` against the real daemon: containers
//! meet on a network and share data through a volume; both are labelled, removed by
//! `remove()`, on drop (with or without a runtime, before or after their containers)
//! and by the runner, even when its test panics. Each test checks it left nothing.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use testdock::bollard::Docker;
use testdock::runner::{run_test, Fixture, TestMeta};
use testdock::{
    container_test, ContainerSpec, Exec, Network, NetworkSpec, Probe, Volume, VolumeSpec,
};

async fn docker() -> Docker {
    testdock::daemon()
        .await
        .map(|d| d.client().clone())
        .expect("daemon")
}

fn status(e: &testdock::bollard::errors::Error) -> Option<u16> {
    match e {
        testdock::bollard::errors::Error::DockerResponseServerError { status_code, .. } => {
            Some(*status_code)
        }
        _ => None,
    }
}

/// Whether the daemon knows network `name` (inspect answers 404 once it is gone).
async fn network_exists(name: &str) -> bool {
    match docker().await.inspect_network(name, None).await {
        Ok(_) => true,
        Err(e) if status(&e) == Some(404) => false,
        Err(e) => panic!("inspect network {name}: {e}"),
    }
}

/// Whether the daemon knows volume `name`.
async fn volume_exists(name: &str) -> bool {
    match docker().await.inspect_volume(name).await {
        Ok(_) => true,
        Err(e) if status(&e) == Some(404) => false,
        Err(e) => panic!("inspect volume {name}: {e}"),
    }
}

/// Waits (up to `limit`) until nothing labelled with `test_id` is left, then asserts it.
async fn assert_nothing_left_within(test_id: &str, limit: Duration) {
    let started = Instant::now();
    let mut left = common::leftovers(test_id).await;
    while !left.is_empty() && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = common::leftovers(test_id).await;
    }
    assert!(
        left.is_empty(),
        "`{test_id}` left behind after {limit:?}: {left:#?}"
    );
}

/// A busybox echo server on port 7000 (answers with what it reads).
fn echo_server() -> ContainerSpec {
    ContainerSpec::new(common::busybox())
        .cmd(["sh", "-c", "echo ready; exec nc -ll -p 7000 -e cat"])
        .wait_for(Probe::log("ready"))
}

fn sleeper() -> ContainerSpec {
    ContainerSpec::new(common::busybox()).cmd(["sleep", "1000"])
}

/// What `echo ping | nc <host> 7000` prints in `client`.
async fn ping(client: &testdock::Container, host: &str) -> String {
    let script = format!("echo ping | nc -w 2 {host} 7000");
    let out = client.exec(Exec::new(["sh", "-c", &script])).await.unwrap();
    format!("{}{}", out.stdout_text(), out.stderr_text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_on_a_network_reach_each_other_by_name_and_alias() {
    let net = NetworkSpec::new()
        .create()
        .await
        .expect("create the network");
    assert!(net.name().starts_with("testdock-net-"), "{}", net.name());
    let (server, client) = futures::try_join!(
        echo_server().network(&net).alias("echo").start(),
        sleeper().network(&net).start(),
    )
    .expect("start both");
    assert_eq!(ping(&client, "echo").await, "ping\n");
    assert_eq!(ping(&client, server.name()).await, "ping\n");
    let attached = net
        .inspect()
        .await
        .expect("inspect")
        .containers
        .unwrap_or_default();
    assert_eq!(attached.len(), 2, "{attached:?}");

    futures::try_join!(server.remove(), client.remove()).expect("remove the containers");
    let name = net.name().to_owned();
    net.remove().await.expect("remove the network");
    assert!(!network_exists(&name).await, "{name} is still there");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn a_volume_carries_data_from_one_container_to_the_next() {
    let data = VolumeSpec::new().create().await.expect("create the volume");
    assert!(data.name().starts_with("testdock-vol-"), "{}", data.name());
    let wrote = ContainerSpec::new(common::busybox())
        .volume(&data, "/data")
        .cmd(["sh", "-c", "echo hello > /data/greeting"])
        .run()
        .await
        .expect("the writer runs");
    assert!(wrote.success(), "{wrote:?}");
    // The writer's removal leaves a volume it did not create.
    assert!(volume_exists(data.name()).await);
    let read = ContainerSpec::new(common::busybox())
        .volume_read_only(&data, "/data")
        .cmd([
            "sh",
            "-c",
            "cat /data/greeting; touch /data/x || echo read-only",
        ])
        .run()
        .await
        .expect("the reader runs");
    assert_eq!(read.logs.stdout, "hello\nread-only\n", "{read:?}");

    let name = data.name().to_owned();
    data.remove().await.expect("remove the volume");
    assert!(!volume_exists(&name).await, "{name} is still there");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_and_volume_are_labelled_like_containers_and_go_when_dropped() {
    let (net, data) = futures::try_join!(
        NetworkSpec::new().internal().label("team", "db").create(),
        VolumeSpec::new().label("team", "db").create(),
    )
    .expect("create both");
    let net_info = net.inspect().await.expect("inspect the network");
    assert_eq!(net_info.id.as_deref(), Some(net.id()));
    assert_eq!(net_info.internal, Some(true));
    let vol_labels = data.inspect().await.expect("inspect the volume").labels;
    let expect: HashMap<&str, String> = HashMap::from([
        (testdock::labels::MANAGED_BY, "testdock".to_owned()),
        (
            testdock::labels::SESSION,
            testdock::labels::session_id().to_owned(),
        ),
        (
            testdock::labels::OWNER,
            testdock::labels::owner_id().to_owned(),
        ),
        (testdock::labels::TEST, common::this_test()),
        ("team", "db".to_owned()),
    ]);
    for labels in [net_info.labels.unwrap_or_default(), vol_labels] {
        for (key, value) in &expect {
            assert_eq!(labels.get(*key), Some(value), "label {key}: {labels:?}");
        }
    }
    let owned = common::owned_by(testdock::labels::owner_id()).await;
    assert!(owned.iter().any(|r| r.contains(net.name())), "{owned:?}");
    assert!(owned.iter().any(|r| r.contains(data.name())), "{owned:?}");

    let (net_name, vol_name) = (net.name().to_owned(), data.name().to_owned());
    drop(net);
    drop(data);
    // The drops hand the removals to the background: give them a moment.
    common::assert_nothing_left(&common::this_test()).await;
    assert!(
        !network_exists(&net_name).await,
        "{net_name} is still there"
    );
    assert!(!volume_exists(&vol_name).await, "{vol_name} is still there");
    common::assert_nothing_left(&common::this_test()).await;
}

#[test]
fn dropping_outside_any_runtime_removes_network_and_volume() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (net, data) = runtime
        .block_on(async {
            futures::try_join!(NetworkSpec::new().create(), VolumeSpec::new().create())
        })
        .expect("create both");
    drop(runtime);
    assert!(tokio::runtime::Handle::try_current().is_err());
    let (net_name, vol_name) = (net.name().to_owned(), data.name().to_owned());
    drop(net);
    drop(data);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        common::assert_nothing_left(&common::this_test()).await;
        assert!(
            !network_exists(&net_name).await,
            "{net_name} is still there"
        );
        assert!(!volume_exists(&vol_name).await, "{vol_name} is still there");
        common::assert_nothing_left(&common::this_test()).await;
    });
}

/// The create request runs on after its future is dropped: the removal waits for its
/// answer, so a cancelled create leaves nothing behind.
#[tokio::test]
async fn cancelling_create_midway_leaves_nothing() {
    for ms in [0, 1, 5, 20] {
        let limit = Duration::from_millis(ms);
        let _ = tokio::time::timeout(limit, NetworkSpec::new().create()).await;
        let _ = tokio::time::timeout(limit, VolumeSpec::new().create()).await;
    }
    assert_nothing_left_within(&common::this_test(), Duration::from_secs(5)).await;
}

#[tokio::test]
async fn reserved_labels_are_refused_and_nothing_is_created() {
    let net = NetworkSpec::new()
        .label("testdock.owner", "me")
        .create()
        .await;
    let vol = VolumeSpec::new().label("testdock.test", "x").create().await;
    for err in [net.map(drop).unwrap_err(), vol.map(drop).unwrap_err()] {
        assert!(
            matches!(err, testdock::Error::InvalidInput { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("is reserved"), "{err}");
    }
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_and_volume_dropped_before_their_container_go_right_after_it() {
    let (net, data) = futures::try_join!(NetworkSpec::new().create(), VolumeSpec::new().create())
        .expect("create both");
    let c = sleeper()
        .network(&net)
        .volume(&data, "/data")
        .start()
        .await
        .expect("start");
    let (net_name, vol_name) = (net.name().to_owned(), data.name().to_owned());
    let dropping = Instant::now();
    drop(net);
    drop(data);
    let took = dropping.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the drops waited for the container: {took:?}"
    );
    assert!(
        network_exists(&net_name).await,
        "the container still uses {net_name}"
    );
    assert!(
        volume_exists(&vol_name).await,
        "the container still uses {vol_name}"
    );
    drop(c);
    assert_nothing_left_within(&common::this_test(), Duration::from_secs(5)).await;
    assert!(!network_exists(&net_name).await && !volume_exists(&vol_name).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_network_in_use_says_so_and_the_removal_follows_the_container() {
    let net = NetworkSpec::new().create().await.expect("create");
    let name = net.name().to_owned();
    let c = sleeper().network(&net).start().await.expect("start");
    let err = net
        .remove()
        .await
        .expect_err("a container still uses the network");
    assert!(matches!(err.status_code(), Some(403 | 409)), "{err:?}");
    assert!(err.to_string().contains("containers still use it"), "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    c.remove().await.expect("remove the container");
    assert_nothing_left_within(&common::this_test(), Duration::from_secs(5)).await;
}

#[container_test]
async fn network_and_volume_arguments_are_fresh_fixtures(a: Network, b: Network, data: Volume) {
    assert_ne!(a.name(), b.name());
    let info = data.inspect().await.unwrap();
    assert_eq!(
        info.labels.get(testdock::labels::TEST).map(String::as_str),
        Some("network_volume::network_and_volume_arguments_are_fresh_fixtures")
    );
}

/// A runner test holding a network, a volume and a container on both; it panics if
/// `panic` is set. Returns the names of the network and the volume.
fn run_holding(test: &str, panic: bool) -> (String, String) {
    let names = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = names.clone();
    let meta = TestMeta::new(test, file!(), line!());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        run_test(meta, move |ctx| async move {
            let (net, data) = futures::try_join!(Network::setup(&ctx), Volume::setup(&ctx))?;
            *seen.lock().unwrap() = Some((net.name().to_owned(), data.name().to_owned()));
            let server = ctx.spec(common::busybox()).network(&net).alias("echo");
            let server = server.volume(&data, "/data").cmd([
                "sh",
                "-c",
                "echo ready; exec nc -ll -p 7000 -e cat",
            ]);
            let server = server.wait_for(Probe::log("ready")).start().await?;
            let client = ctx
                .spec(common::busybox())
                .network(&net)
                .cmd(["sleep", "1000"])
                .start()
                .await?;
            assert_eq!(ping(&client, "echo").await, "ping\n");
            let _held = (server, client, net, data);
            assert!(!panic, "deliberate panic holding a network and a volume");
            Ok(())
        })
    }));
    assert_eq!(
        outcome.is_err(),
        panic,
        "the runner re-raises the body's panic"
    );
    let names = names
        .lock()
        .unwrap()
        .clone()
        .expect("the fixtures were created");
    names
}

#[test]
fn a_runner_test_removes_its_networks_and_volumes_after_its_containers() {
    let test = "network_volume::held_by_a_passing_runner_test";
    let (net, vol) = run_holding(test, false);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        common::assert_nothing_left(test).await;
        assert!(!network_exists(&net).await && !volume_exists(&vol).await);
    });
}

#[test]
fn a_panicking_runner_test_leaves_neither_network_nor_volume() {
    let test = "network_volume::held_by_a_panicking_runner_test";
    let (net, vol) = run_holding(test, true);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        common::assert_nothing_left(test).await;
        assert!(!network_exists(&net).await && !volume_exists(&vol).await);
    });
}
