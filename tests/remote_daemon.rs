//! Against a daemon reached over TCP (the shape of Docker-in-Docker and remote daemons):
//! a second dockerd that the test starts on 127.0.0.1. Published ports are reached on
//! the daemon's address, the reaper runs on the daemon's side, and a test process that
//! ends normally or is killed leaves nothing on that daemon.

mod common;

use std::time::{Duration, Instant};

use common::child::{test_command, ChildTest};
use common::second_daemon::SecondDaemon;
use testdock::runner::{run_test, TestMeta};
use testdock::{labels, Topology};
use tokio::io::AsyncBufReadExt;

/// Holds a web server with a named volume on the test's network, reaches it through its
/// published port, prints `READY <owner>`, and ends when stdin closes.
#[test]
#[ignore = "run as a child process against the second daemon by the test below"]
fn inner_holds_resources_on_a_tcp_daemon() {
    let meta =
        TestMeta::new("remote_daemon::inner_holds_resources", file!(), line!()).per_test_network();
    run_test(meta, |ctx| async move {
        let daemon = testdock::daemon().await?;
        assert_eq!(daemon.topology(), &Topology::Remote);
        let web = common::web_server(ctx.spec(common::busybox()))
            .volume(testdock::shared::unique_name("testdock-remote"), "/data")
            .start()
            .await?;
        let addr = web.addr(8080)?;
        let answer = common::http_get(addr);
        assert!(answer.ends_with("hello\n"), "{answer}");
        println!("REACHED {addr}");
        println!("REAPER {:?}", testdock::prune::reaper());
        println!("READY {}", labels::owner_id());
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        while stdin.read_line(&mut line).await.unwrap_or(0) > 0 {
            line.clear();
        }
        drop(web);
        Ok(())
    });
}

/// Runs the inner test against `daemon`, its reaper container given `socket`; returns
/// it running, its reaper and its owner id.
fn start_inner(
    daemon: &SecondDaemon,
    socket: &std::path::Path,
    session: &str,
) -> (ChildTest, String, String) {
    let mut command = test_command(&[], "inner_holds_resources_on_a_tcp_daemon");
    command.env("DOCKER_HOST", &daemon.docker_host);
    command.env(labels::SESSION_ENV, session);
    command.env("TESTDOCK_REAPER_SOCKET", socket);
    let child = ChildTest::spawn(command);
    let reached = child.expect("REACHED ", Duration::from_secs(180));
    assert!(reached.starts_with("127.0.0.1:"), "{reached}");
    let reaper = child.expect("REAPER ", Duration::from_secs(5));
    let owner = child.expect("READY ", Duration::from_secs(5));
    (child, reaper, owner)
}

#[tokio::test]
async fn over_tcp_ports_are_reached_and_ended_or_killed_tests_leave_nothing() {
    let daemon = SecondDaemon::start();
    let docker = daemon.client();

    // A test that ends normally tears down its own. The daemon-side reaper mounts the
    // daemon's socket as the daemon's host sees it (`/var/run/docker.sock` would be the
    // first daemon's here).
    let (mut child, reaper, owner) = start_inner(&daemon, &daemon.socket, labels::session_id());
    assert_eq!(reaper, "Some(DaemonSide)", "{}", child.output());
    let filter = format!("{}={owner}", labels::OWNER);
    assert_eq!(common::labelled_on(&docker, &filter).await.len(), 3);
    child.hang_up();
    let status = child.child.wait().unwrap();
    assert!(status.success(), "{}", child.output());
    common::assert_gone_within(&docker, &owner, Duration::from_secs(2)).await;

    // A killed one is reaped on the daemon's side.
    let (mut child, reaper, owner) = start_inner(&daemon, &daemon.socket, labels::session_id());
    assert_eq!(reaper, "Some(DaemonSide)", "{}", child.output());
    let filter = format!("{}={owner}", labels::OWNER);
    assert_eq!(common::labelled_on(&docker, &filter).await.len(), 3);
    child.child.kill().unwrap();
    child.child.wait().unwrap();
    common::assert_gone_within(&docker, &owner, Duration::from_secs(2)).await;

    // A reaper container given another daemon's socket says so at once; the process
    // falls back to a local watchdog (pointed at the daemon it resolved), which reaps.
    // (A session of its own: a session's reaper container is made by its first process.)
    let session = format!("{}-wrong-socket", labels::session_id());
    let wrong = std::path::Path::new("/var/run/docker.sock");
    let (mut child, reaper, owner) = start_inner(&daemon, wrong, &session);
    assert_eq!(reaper, "Some(Local)", "{}", child.output());
    let warning = child.output();
    assert!(
        warning.contains("leads to another daemon") && warning.contains("TESTDOCK_REAPER_SOCKET"),
        "{warning}"
    );
    child.child.kill().unwrap();
    child.child.wait().unwrap();
    common::assert_gone_within(&docker, &owner, Duration::from_secs(2)).await;

    // The session's reaper container leaves once it has no watcher to serve.
    let reapers = format!("{}=reaper", labels::ROLE);
    let started = Instant::now();
    while !common::labelled_on(&docker, &reapers).await.is_empty()
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        common::labelled_on(&docker, &reapers).await.is_empty(),
        "the reaper container stayed"
    );
}
