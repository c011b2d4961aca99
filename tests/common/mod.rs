//! Shared helpers of the integration tests: the daemon's client, the test image and the
//! specs made from it, unique names, and the leak check.
//!
//! Every test runs against the real daemon. The image is built from the host's static
//! busybox (Debian's `busybox-static`), so no registry is needed.

#![allow(dead_code, unreachable_pub)]

pub mod child;
pub mod examples;
pub mod second_daemon;

use std::collections::HashMap;
use std::path::Path;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use testdock::{ContainerSpec, HostImage, ImageSource, Probe};

/// Where the tests expect a static busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// An image with busybox and all its applets as symlinks in `/bin`.
pub fn busybox() -> HostImage {
    assert!(
        Path::new(BUSYBOX).exists(),
        "the tests need a static busybox at {BUSYBOX}: `sudo apt-get install -y busybox-static`"
    );
    let list = std::process::Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .expect("run busybox --list");
    let mut image = HostImage::new().binary_at(BUSYBOX, "/bin/busybox");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" {
            image = image.symlink(format!("/bin/{applet}"), "busybox");
        }
    }
    image
}

/// The daemon's client (the test fails, saying how to get one, if no daemon answers).
pub async fn docker() -> testdock::bollard::Docker {
    testdock::daemon().await.map(|d| d.client().clone()).expect(
        "no Docker daemon: start one (`sudo apt-get install -y docker.io && sudo dockerd &`) or set DOCKER_HOST",
    )
}

/// The reference of the busybox test image, imported if missing (nothing is started).
pub async fn busybox_ref() -> String {
    busybox()
        .prepare()
        .await
        .map(|p| p.reference)
        .expect("import the busybox test image")
}

/// A busybox container running `script` with `sh -c`.
pub fn sh(script: &str) -> ContainerSpec {
    ContainerSpec::new(busybox()).cmd(["/bin/sh", "-c", script])
}

/// A busybox container running `script` with `sh -c`, ready once it printed `ready`.
pub fn sh_ready(script: &str) -> ContainerSpec {
    sh(script).wait_for(Probe::log("ready"))
}

/// A container of `image` (which has a `sh`) that prints `ready` and idles until
/// removed; ready once it printed that.
pub fn idle(image: impl Into<ImageSource>) -> ContainerSpec {
    ContainerSpec::new(image)
        .cmd(["/bin/sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::log("ready"))
}

/// Text no other run uses (`<pid>-<nanoseconds since the epoch>`), for names and for
/// contents that must be new to the daemon.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// Removes an image reference (a tag or a digest reference) if it is there.
pub async fn remove_image(reference: &str) {
    let options = RemoveImageOptionsBuilder::default().noprune(false).build();
    match docker()
        .await
        .remove_image(reference, Some(options), None)
        .await
    {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => panic!("remove image {reference}: {e}"),
    }
}

/// The test id testdock gives resources created on this thread (the test's path).
pub fn this_test() -> String {
    std::thread::current()
        .name()
        .expect("tests run on named threads")
        .to_owned()
}

/// What the daemon still holds that is labelled with `test_id`.
pub async fn leftovers(test_id: &str) -> Vec<String> {
    labelled(&format!("{}={test_id}", testdock::labels::TEST)).await
}

/// What the daemon still holds that is owned by `owner` (`<pid>-<start time>`).
pub async fn owned_by(owner: &str) -> Vec<String> {
    labelled(&format!("{}={owner}", testdock::labels::OWNER)).await
}

/// Containers, volumes and networks carrying the label `filter` (`key=value`).
pub async fn labelled(filter: &str) -> Vec<String> {
    labelled_on(&docker().await, filter).await
}

/// [`labelled`] on the daemon of `docker`.
pub async fn labelled_on(docker: &testdock::bollard::Docker, filter: &str) -> Vec<String> {
    let filter = HashMap::from([("label", vec![filter.to_owned()])]);
    let mut left = Vec::new();
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filter)
        .build();
    let containers = read_again_while_stopping(|| docker.list_containers(Some(options.clone())))
        .await
        .expect("list containers");
    left.extend(
        containers
            .into_iter()
            .map(|c| format!("container {:?} {:?}", c.names, c.state)),
    );
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .expect("list volumes");
    left.extend(
        volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| format!("volume {}", v.name)),
    );
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .expect("list networks");
    left.extend(
        networks
            .into_iter()
            .map(|n| format!("network {:?}", n.name)),
    );
    left
}

/// `call`'s answer, asked again (up to 5 s) while bollard cannot read it because a
/// container is in Podman's transient `stopped` state (testdock does the same inside).
pub async fn read_again_while_stopping<T, F, Fut>(mut call: F) -> Result<T, bollard::errors::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, bollard::errors::Error>>,
{
    let started = std::time::Instant::now();
    loop {
        match call().await {
            Err(bollard::errors::Error::JsonDataError { message, .. })
                if message.contains("`stopped`") && started.elapsed().as_secs() < 5 =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            answer => return answer,
        }
    }
}

/// Whether `e` says the container does not exist: Docker's 404, or Podman's 500 for
/// one removed while the request ran.
pub fn no_such_container(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => true,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } => message.ends_with("no such container"),
        _ => false,
    }
}

/// How long removals measured against `docker_limit` on Docker may take here: three
/// times that on Podman, which kills and removes containers and networks slower.
pub async fn removal_limit(docker_limit: std::time::Duration) -> std::time::Duration {
    match engine().await {
        testdock::Engine::Podman => docker_limit * 3,
        _ => docker_limit,
    }
}

/// The engine behind the daemon (Docker or Podman).
pub async fn engine() -> testdock::Engine {
    testdock::daemon()
        .await
        .map(|d| d.engine())
        .expect("a daemon answers")
}

/// Whether the daemon is Podman; if it is, says on stderr (past the harness's capture)
/// that the calling test skips
/// (all or part of) what it checks, and why. Never true on Docker.
pub async fn skip_on_podman(why: &str) -> bool {
    let podman = engine().await == testdock::Engine::Podman;
    if podman {
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        use std::io::Write;
        let line = format!("SKIPPED on Podman in `{}`: {why}\n", this_test());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    podman
}

/// Whether healthchecks cannot run here: Podman runs them from systemd timers, so
/// without systemd (`/run/systemd/system`) they stay `starting`. Says so on stderr when
/// the calling test skips for it. Never true on Docker.
pub async fn skip_healthchecks() -> bool {
    let systemd = Path::new("/run/systemd/system").exists();
    !systemd
        && skip_on_podman("Podman runs healthchecks from systemd timers; no systemd here").await
}

/// Fails the test if anything labelled with `test_id` is still there 5 s from now
/// (dropped handles and the runner remove in the background: give them that long).
pub async fn assert_nothing_left(test_id: &str) {
    assert_nothing_left_within(test_id, std::time::Duration::from_secs(5)).await;
}

/// Fails the test if anything labelled with `test_id` is still there after `limit`.
pub async fn assert_nothing_left_within(test_id: &str, limit: std::time::Duration) {
    let started = std::time::Instant::now();
    let mut left = leftovers(test_id).await;
    while !left.is_empty() && started.elapsed() < limit {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = leftovers(test_id).await;
    }
    assert!(
        left.is_empty(),
        "test `{test_id}` left resources behind after {limit:?}: {left:#?}"
    );
}

/// A container with a named volume (on the test's network, if it has one); prints
/// `REAPER <kind>` and `READY <owner>` for a parent process to read.
pub async fn hold_resources(ctx: &testdock::runner::TestContext) -> testdock::Container {
    let c = ctx
        .spec(busybox())
        .volume(testdock::shared::unique_name("testdock-held"), "/data")
        .cmd(["sh", "-c", "echo up; exec sleep 1000"])
        .wait_for(testdock::Probe::log("up"))
        .start()
        .await
        .expect("start the held container");
    println!("REAPER {:?}", testdock::prune::reaper());
    println!("READY {}", testdock::labels::owner_id());
    c
}

/// Checks the errors of a service none of whose images can be had, started with the
/// sources `auto` and `host`: `auto`'s lists each source tried with its fix (each of
/// `expected` in it); `host`'s names that source, points to the registry and to
/// `install`, and pulled nothing.
pub fn assert_unavailable(
    auto: &testdock::Error,
    host: &testdock::Error,
    expected: &[&str],
    install: &str,
) {
    let text = auto.to_string();
    assert!(
        matches!(auto, testdock::Error::ServiceUnavailable { .. }),
        "{text}"
    );
    for expected in expected {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    let text = host.to_string();
    assert!(text.contains("(source `host`)"), "{text}");
    assert!(text.contains("TESTDOCK_SERVICES=registry"), "{text}");
    assert!(text.contains(install), "{text}");
    assert!(!text.contains("pulling"), "host only: {text}");
}

/// Runs a test by hand under the runner (what `#[container_test]` expands to), then
/// fails unless the runner removed everything labelled with the test's id: for the
/// tests that check the runner's teardown of fixtures.
pub fn run_then_assert_nothing_left<F, Fut>(meta: testdock::runner::TestMeta, test: F)
where
    F: FnOnce(testdock::runner::TestContext) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = testdock::Result<()>> + Send + 'static,
{
    let id = meta.id().to_owned();
    testdock::runner::run_test(meta, test);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(assert_nothing_left(&id));
}

/// Waits until `n` callers reached `point`, so that the tests of a file overlap
/// (cargo test runs them on parallel threads). Under nextest (a process per test) they
/// never meet: it returns at once.
pub async fn meet(point: &std::sync::atomic::AtomicUsize, n: usize) {
    use std::sync::atomic::Ordering;
    point.fetch_add(1, Ordering::SeqCst);
    if std::env::var_os("NEXTEST").is_some() {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while point.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A busybox HTTP server answering `hello` on 8080, ready when it answers.
pub fn web_server(spec: testdock::ContainerSpec) -> testdock::ContainerSpec {
    spec.expose(8080)
        .cmd([
            "sh",
            "-c",
            "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www",
        ])
        .wait_for(testdock::Probe::http(8080, "/"))
}

/// The answer to `GET /` at `addr`.
pub fn http_get(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(5);
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(timeout)).unwrap();
    write!(stream, "GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Waits (up to 10 s, or `limit` if longer) until nothing owned by `owner` is left on `docker`'s daemon;
/// fails unless that took less than `limit`.
pub async fn assert_gone_within(
    docker: &testdock::bollard::Docker,
    owner: &str,
    limit: std::time::Duration,
) {
    let filter = format!("{}={owner}", testdock::labels::OWNER);
    let started = std::time::Instant::now();
    let mut left = labelled_on(docker, &filter).await;
    let wait = limit.max(std::time::Duration::from_secs(10));
    while !left.is_empty() && started.elapsed() < wait {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        left = labelled_on(docker, &filter).await;
    }
    let took = started.elapsed();
    assert!(left.is_empty(), "left behind by {owner}: {left:?}");
    assert!(took < limit, "cleanup after {owner} took {took:?}");
}
