//! `#[container_test]` against the real daemon: each form, concurrency, and teardown.

mod common;

use std::time::{Duration, Instant};

use testdock::runner::{Fixture, TestContext};
use testdock::{container_test, Container, ContainerSpec, Exec, InjectFile, Probe};

#[container_test(
    image = common::busybox(),
    cmd = ["sh", "-c", "echo ready; exec nc -ll -p 7000 -e cat"],
    expose = [7000],
    ready = Probe::log("ready"),
    timeout = "60s"
)]
async fn an_inline_container_is_ready_when_the_body_starts(c: Container) {
    let out = c.exec(Exec::new(["echo", "hi"])).await.unwrap();
    assert_eq!(out.stdout_text(), "hi\n");
    assert!(c.addr(7000).unwrap().ip().is_loopback());
}

/// `pool = true`: the container joins a pooled network namespace and is reached on the
/// pause container's address, with nothing published on the host.
#[container_test(
    image = common::busybox(),
    cmd = ["sh", "-c", "echo ready; exec nc -ll -p 7000 -e cat"],
    expose = [7000],
    ready = Probe::tcp(7000),
    pool = true,
    timeout = "60s"
)]
async fn pool_true_runs_the_container_in_a_pooled_namespace(c: Container) {
    let addr = c.addr(7000).unwrap();
    assert!(!addr.ip().is_loopback(), "{addr}");
    assert_eq!(addr.port(), 7000, "the container port, not a published one");
    let info = c.inspect().await.unwrap();
    let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
    assert!(labels.contains_key(testdock::labels::POD), "{labels:?}");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    conn.write_all(b"echo\n").await.unwrap();
    let mut buf = [0u8; 5];
    conn.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"echo\n");
}

/// A whole spec from a function, refined by the attribute: a file injected before start.
fn echo_spec() -> ContainerSpec {
    ContainerSpec::new(common::busybox())
        .cmd(["sh", "-c", "cat /etc/app.conf; echo ready; exec sleep 1000"])
        .label("made-by", "echo_spec")
}

#[container_test(
    spec = echo_spec(),
    files = [InjectFile::from_bytes("/etc/app.conf", "greeting=hello\n").mode(0o640)],
    ready = Probe::all([Probe::log("greeting=hello"), Probe::log("ready")]),
    timeout = "60s"
)]
async fn a_spec_and_files_from_the_attribute_make_the_test_container(c: Container) {
    let out = c
        .exec(Exec::new(["stat", "-c", "%a", "/etc/app.conf"]))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "640\n");
    let labels = c.inspect().await.unwrap().config.unwrap().labels.unwrap();
    assert_eq!(labels.get("made-by").map(String::as_str), Some("echo_spec"));
}

/// A user type named `Container`: the attribute decides by trait, not by name.
mod mine {
    pub(crate) struct Container(pub(crate) &'static str);

    impl testdock::runner::Fixture for Container {
        async fn setup(_: &testdock::runner::TestContext) -> testdock::Result<Self> {
            Ok(Container("mine"))
        }
    }
}

#[container_test]
async fn a_user_type_named_container_is_its_own_fixture(c: mine::Container) {
    assert_eq!(c.0, "mine");
}

/// A fixture by type: a busybox server that becomes ready after about a second.
struct SlowServer(Container);

impl Fixture for SlowServer {
    async fn setup(ctx: &TestContext) -> testdock::Result<Self> {
        let began = Instant::now();
        let c = ctx
            .spec(common::busybox())
            .cmd(["sh", "-c", "sleep 1; echo up; exec sleep 1000"])
            .wait_for(Probe::log("up"))
            .start()
            .await?;
        SETUPS.lock().unwrap().push((began, Instant::now()));
        Ok(SlowServer(c))
    }
}

async fn slow_server(ctx: &TestContext) -> testdock::Result<SlowServer> {
    SlowServer::setup(ctx).await
}

/// When each `SlowServer` began and finished starting (only one test in this file uses
/// it).
static SETUPS: std::sync::Mutex<Vec<(Instant, Instant)>> = std::sync::Mutex::new(Vec::new());

/// Started together, the two setups run at the same time: each takes over a second, and
/// the second begins long before the first ends (one after the other, it would begin
/// after). Judged by overlap, not by a wall-clock sum, so a loaded machine's slower
/// starts do not decide it.
#[container_test]
async fn two_one_second_fixtures_start_together(a: SlowServer, #[from(slow_server)] b: SlowServer) {
    assert_ne!(a.0.id(), b.0.id());
    let setups = SETUPS.lock().unwrap().clone();
    assert_eq!(setups.len(), 2, "{setups:?}");
    for (began, ended) in &setups {
        assert!(*ended - *began >= Duration::from_secs(1), "{setups:?}");
    }
    let later_start = setups.iter().map(|s| s.0).max().unwrap();
    let first_end = setups.iter().map(|s| s.1).min().unwrap();
    assert!(
        later_start + Duration::from_millis(800) < first_end,
        "fixtures started one after the other: the second began {:?} before the first \
         was ready",
        first_end.saturating_duration_since(later_start)
    );
}

#[container_test(network = true)]
async fn containers_on_the_test_network_reach_each_other_by_alias(
    #[from(pinger_pair)] pair: (Container, Container),
) {
    let (_server, client) = pair;
    let out = client
        .exec(Exec::new(["sh", "-c", "echo ping | nc -w 2 server 7000"]))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "ping\n", "{}", out.stderr_text());
}

async fn pinger_pair(ctx: &TestContext) -> testdock::Result<(Container, Container)> {
    let server = ctx
        .spec(common::busybox())
        .alias("server")
        .cmd(["sh", "-c", "echo ready; exec nc -ll -p 7000 -e cat"])
        .wait_for(Probe::log("ready"));
    let client = ctx.spec(common::busybox()).cmd(["sleep", "1000"]);
    futures::try_join!(server.start(), client.start())
}

#[container_test]
fn a_plain_fn_test_runs_too() {
    assert_eq!(1 + 1, 2);
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"])]
async fn a_result_returning_test_passes_with_ok(c: Container) -> Result<(), String> {
    let out = c
        .exec(Exec::new(["true"]))
        .await
        .map_err(|e| e.to_string())?;
    if out.success() {
        Ok(())
    } else {
        Err("true failed".into())
    }
}

#[container_test(image = common::busybox(), cmd = ["sleep", "1000"])]
#[should_panic(expected = "deliberate")]
async fn should_panic_is_kept_and_the_container_still_goes(c: Container) {
    let _ = c.id();
    panic!("deliberate");
}

#[tokio::test]
async fn zz_every_container_test_above_left_nothing() {
    // The runner labels with the full path; check this binary's session for leftovers
    // of any test in this file once the others had time to finish (they run in parallel
    // threads; give them a bounded wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut left = Vec::new();
        for name in [
            "an_inline_container_is_ready_when_the_body_starts",
            "should_panic_is_kept_and_the_container_still_goes",
        ] {
            left.extend(common::leftovers(&format!("container_test::{name}")).await);
        }
        if left.is_empty() || Instant::now() > deadline {
            assert!(left.is_empty(), "{left:#?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
