//! The `Container` handle against the real daemon: exec, logs, ports, lifecycle
//! operations, inspect, top, commit and remove.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bollard::models::PortBinding;
use futures::StreamExt;
use testdock::{labels, Container, ContainerSpec, Exec, InjectFile, LogStream, Probe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::sh_ready;

/// A container that idles until removed.
const IDLE: &str = "echo ready; exec sleep 1000";

/// An echo server on TCP 8080 (busybox `nc -ll -e cat`) under a shell that exits on
/// SIGTERM, so a graceful stop is quick.
const ECHO_SERVER: &str = "trap 'exit 0' TERM; echo ready; nc -ll -p 8080 -e cat & wait";

/// Sends `line` to `addr` and reads as many bytes back. Retries for a bounded time:
/// docker-proxy accepts connections before the server in the container listens.
async fn echo_round_trip(addr: SocketAddr, line: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.write_all(line.as_bytes()).await?;
            let mut buf = vec![0; line.len()];
            stream.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
        };
        let failure = match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(echoed)) => return Ok(echoed),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 2s".to_owned(),
        };
        if Instant::now() > deadline {
            return Err(format!(
                "no echo from {addr} within 15s; last failure: {failure}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port map as inspect reports it.
type PortMap = HashMap<String, Option<Vec<PortBinding>>>;

/// The published bindings of `key` (e.g. `8080/tcp`) as (host ip, host port) pairs.
fn bindings(map: Option<PortMap>, key: &str) -> Vec<(String, String)> {
    map.unwrap_or_default()
        .remove(key)
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .map(|b| {
            (
                b.host_ip.unwrap_or_default(),
                b.host_port.unwrap_or_default(),
            )
        })
        .collect()
}

/// (running, paused, exit code) from inspect.
async fn state(c: &Container) -> (bool, bool, i64) {
    let state = c.inspect().await.unwrap().state.unwrap_or_default();
    (
        state.running.unwrap_or_default(),
        state.paused.unwrap_or_default(),
        state.exit_code.unwrap_or(-1),
    )
}

#[tokio::test]
async fn exec_returns_stdout_stderr_and_the_exit_code() {
    let c = sh_ready(IDLE).start().await.unwrap();
    let failing = c
        .exec(Exec::new(["sh", "-c", "echo out; echo err >&2; exit 7"]))
        .await
        .unwrap();
    let fine = c.exec(Exec::new(["true"])).await.unwrap();
    let env = c
        .exec(
            Exec::new(["sh", "-c", "echo \"$GREETING $OTHER\""])
                .env("GREETING", "hi")
                .env("OTHER", "a b"),
        )
        .await
        .unwrap();
    let user = c.exec(Exec::new(["id", "-u"]).user("1000")).await.unwrap();
    let root = c.exec(Exec::new(["id", "-u"])).await.unwrap();
    let workdir = c.exec(Exec::new(["pwd"]).workdir("/tmp")).await.unwrap();
    let missing = c.exec(Exec::new(["/no/such/binary"])).await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(failing.stdout_text(), "out\n");
    assert_eq!(failing.stderr_text(), "err\n");
    assert_eq!(failing.exit_code, 7);
    assert!(!failing.success());
    assert_eq!((fine.exit_code, fine.success()), (0, true));
    assert!(fine.stdout.is_empty() && fine.stderr.is_empty(), "{fine:?}");
    assert_eq!(env.stdout_text(), "hi a b\n");
    assert_eq!(user.stdout_text(), "1000\n");
    assert_eq!(root.stdout_text(), "0\n");
    assert_eq!(workdir.stdout_text(), "/tmp\n");
    // Docker 20.10 reports a missing binary as exit code 126, the runtime's error on stdout;
    // Podman as 127 (a shell's "not found"), the error on stderr.
    let missing = missing.unwrap();
    let said = missing.stdout_text() + &missing.stderr_text();
    let not_found = match common::engine().await {
        testdock::Engine::Podman => 127,
        _ => 126,
    };
    assert_eq!(missing.exit_code, not_found, "{said}");
    assert!(said.contains("/no/such/binary"), "{said}");
    // `check` makes a failed command an error that says what ran and what it said.
    assert_eq!(fine.check().unwrap().exit_code, 0);
    let err = missing.check().unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, testdock::Error::ExecFailed { exit_code, .. } if exit_code == not_found),
        "{text}"
    );
    assert!(text.contains("`/no/such/binary`"), "{text}");
    assert!(text.contains(&format!("exit code {not_found}")), "{text}");
    assert!(text.contains("no such file or directory"), "{text}");
    let err = failing.check().unwrap_err().to_string();
    assert!(
        err.contains("exit code 7") && err.contains("| err"),
        "{err}"
    );
}

#[tokio::test]
async fn logs_snapshot_separates_stdout_from_stderr() {
    // Each stream ends with `ready`, and readiness waits for both.
    let c = sh_ready("echo to-out; echo ready; echo to-err >&2; echo ready >&2; exec sleep 1000")
        .wait_for(Probe::log("ready").times(2))
        .start()
        .await
        .unwrap();
    let logs = c.logs().await.unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(logs.stdout, "to-out\nready\n");
    assert_eq!(logs.stderr, "to-err\nready\n");
}

#[tokio::test]
async fn log_stream_follows_lines_printed_after_it_was_opened() {
    let c = sh_ready("echo ready; i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done")
        .start()
        .await
        .unwrap();
    let before = c.logs().await.unwrap();
    let printed_before = before
        .stdout
        .lines()
        .filter(|l| l.starts_with("tick "))
        .count();
    let wanted = format!("tick {}", printed_before + 5);
    let mut stream = Box::pin(c.log_stream());
    let followed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut text = String::new();
        let mut streams = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            streams.push(chunk.stream);
            text.push_str(&String::from_utf8_lossy(&chunk.bytes));
            if text.lines().any(|l| l == wanted) {
                return Ok((text, streams));
            }
        }
        Err(format!("the stream ended before `{wanted}`: {text:?}"))
    })
    .await;
    drop(stream);
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    let (text, streams) = followed
        .unwrap_or_else(|_| panic!("`{wanted}` not streamed within 10s"))
        .unwrap();
    assert!(
        streams.iter().all(|s| *s == LogStream::Stdout),
        "{streams:?}"
    );
    // From the first line on, in order, nothing lost or repeated.
    let mut expected = String::from("ready\n");
    for i in 0..=printed_before + 5 {
        expected.push_str(&format!("tick {i}\n"));
    }
    assert_eq!(text, expected);
}

#[tokio::test]
async fn exposed_ports_are_published_on_localhost_and_answer() {
    let c = sh_ready("echo ready; exec nc -ll -p 8080 -e cat")
        .expose(8080)
        .expose_udp(9999)
        .start()
        .await
        .unwrap();
    let info = c.inspect().await.unwrap();
    let addr = c.addr(8080);
    let tcp = c.host_port(8080);
    let udp = c.host_port_udp(9999);
    let udp_as_tcp = c.host_port(9999).map_err(|e| e.to_string());
    let unexposed = c.host_port(1234).map_err(|e| e.to_string());
    let echoed = match &addr {
        Ok(addr) => echo_round_trip(*addr, "hello testdock\n").await,
        Err(e) => Err(e.to_string()),
    };
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    let (addr, tcp, udp) = (addr.unwrap(), tcp.unwrap(), udp.unwrap());
    let podman_records_ports = common::engine().await == testdock::Engine::Podman;
    assert_eq!(addr, SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), tcp));
    let requested = info.host_config.unwrap_or_default().port_bindings;
    // Docker keeps the request (any port: ""); Podman records the port it chose.
    let any_port = |port: u16| match podman_records_ports {
        true => port.to_string(),
        false => String::new(),
    };
    assert_eq!(
        bindings(requested.clone(), "8080/tcp"),
        [("127.0.0.1".into(), any_port(tcp))]
    );
    assert_eq!(
        bindings(requested, "9999/udp"),
        [("127.0.0.1".into(), any_port(udp))]
    );
    let published = info.network_settings.unwrap_or_default().ports;
    assert_eq!(
        bindings(published.clone(), "8080/tcp"),
        [("127.0.0.1".into(), tcp.to_string())]
    );
    assert_eq!(
        bindings(published, "9999/udp"),
        [("127.0.0.1".into(), udp.to_string())]
    );
    assert_ne!(udp, 0);
    assert_eq!(echoed.unwrap(), "hello testdock\n");
    let err = udp_as_tcp.expect_err("UDP 9999 was returned as a TCP port");
    assert!(err.contains("9999/tcp"), "{err}");
    let err = unexposed.expect_err("an unexposed port has a host port");
    assert!(err.contains("1234"), "{err}");
}

#[tokio::test]
async fn lifecycle_operations_change_the_container_state() {
    let c = sh_ready(ECHO_SERVER).expose(8080).start().await.unwrap();
    let info = c.inspect().await.unwrap();
    let top = c.top().await.unwrap();

    c.pause().await.unwrap();
    let paused = state(&c).await;
    let name = c.name().to_owned();
    let exec_while_paused = c.exec(Exec::new(["echo", "paused?"])).await.map(|_| ());
    c.unpause().await.unwrap();
    let unpaused = state(&c).await;

    let stop_started = Instant::now();
    c.stop().await.unwrap();
    let stop_took = stop_started.elapsed();
    let stopped = state(&c).await;

    c.restart().await.unwrap();
    let restarted = state(&c).await;
    let echoed = echo_round_trip(c.addr(8080).unwrap(), "after restart\n").await;

    c.kill("SIGKILL").await.unwrap();
    let killed = state(&c).await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    let labels_of = info.config.unwrap_or_default().labels.unwrap_or_default();
    assert_eq!(labels_of[labels::MANAGED_BY], labels::MANAGED_BY_VALUE);
    assert_eq!(labels_of[labels::SESSION], labels::session_id());
    assert_eq!(labels_of[labels::TEST], common::this_test());
    assert_eq!(labels_of[labels::PID], std::process::id().to_string());

    // Docker's top shows host pids; Podman's (the image's own `ps`) the container's.
    let main_pid = match common::engine().await {
        testdock::Engine::Podman => "1".to_owned(),
        _ => info.state.unwrap_or_default().pid.unwrap().to_string(),
    };
    let titles = top.titles.unwrap_or_default();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .expect("a PID column");
    let cmd_col = titles
        .iter()
        .position(|t| t == "CMD" || t == "COMMAND")
        .expect("a CMD (Docker) or COMMAND (Podman, busybox ps) column");
    let processes = top.processes.unwrap_or_default();
    let main = processes
        .iter()
        .find(|row| row[pid_col] == main_pid)
        .unwrap_or_else(|| panic!("main process {main_pid} not in top: {processes:?}"));
    assert!(main[cmd_col].starts_with("/bin/sh -c trap"), "{main:?}");
    assert!(
        processes
            .iter()
            .any(|row| row[cmd_col].contains("nc -ll -p 8080")),
        "{processes:?}"
    );

    assert_eq!((paused.0, paused.1), (true, true), "after pause");
    let err = exec_while_paused.expect_err("exec in a paused container");
    assert_eq!(err.status_code(), Some(409), "{err:?}");
    // The container field names the container; the command has its own.
    assert_eq!(err.container(), Some(name.as_str()), "{err:?}");
    let testdock::Error::Exec { ref command, .. } = err else {
        panic!("expected Error::Exec, got {err:?}");
    };
    assert_eq!(command, "echo paused?");
    assert!(err.to_string().contains("exec of `echo paused?`"), "{err}");
    assert_eq!((unpaused.0, unpaused.1), (true, false), "after unpause");
    assert_eq!(
        stopped,
        (false, false, 0),
        "after stop (the shell exits 0 on SIGTERM)"
    );
    assert!(
        stop_took < Duration::from_secs(5),
        "stop took {stop_took:?}: SIGTERM was not sent"
    );
    assert_eq!((restarted.0, restarted.1), (true, false), "after restart");
    assert_eq!(echoed.unwrap(), "after restart\n");
    assert_eq!(killed, (false, false, 137), "after SIGKILL");
}

#[tokio::test]
async fn committed_container_starts_again_with_its_files() {
    let tag = format!("t{}", common::unique());
    let reference = format!("testdock-test/committed:{tag}");
    let marker = format!("marker {tag}\n");
    let c = sh_ready(IDLE).start().await.unwrap();
    c.write_files([InjectFile::from_bytes("/marker", marker.clone())])
        .await
        .unwrap();
    let id = c
        .commit(
            "testdock-test/committed",
            &tag,
            &["CMD [\"sh\",\"-c\",\"cat /marker; echo ready; sleep 1000\"]"],
        )
        .await;
    let second = match &id {
        Ok(_) => Some(
            ContainerSpec::new(reference.as_str())
                .wait_for(Probe::log("ready"))
                .start()
                .await,
        ),
        Err(_) => None,
    };
    let second_logs = match second {
        Some(Ok(second)) => {
            let logs = second.logs().await.map_err(|e| e.to_string());
            second.remove().await.unwrap();
            logs
        }
        Some(Err(e)) => Err(format!("the committed image did not start: {e}")),
        None => Err("commit failed".to_owned()),
    };
    c.remove().await.unwrap();
    let docker = common::docker().await;
    let image = docker.inspect_image(&reference).await;
    let removed = testdock::remove_image(&reference).await;
    let id = id.unwrap();
    let gone = docker.inspect_image(&id).await;
    common::assert_nothing_left(&common::this_test()).await;

    assert!(id.starts_with("sha256:"), "{id}");
    let image = image.unwrap();
    assert_eq!(image.id.as_deref(), Some(id.as_str()));
    let image_labels = image.config.unwrap_or_default().labels.unwrap_or_default();
    assert_eq!(image_labels[labels::MANAGED_BY], labels::MANAGED_BY_VALUE);
    let logs = second_logs.unwrap();
    assert_eq!(logs.stdout, format!("{marker}ready\n"));
    removed.unwrap();
    match gone {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        other => panic!("the committed image is still there: {other:?}"),
    }
}

#[tokio::test]
async fn remove_returns_only_when_the_container_is_gone() {
    let c = sh_ready(IDLE).start().await.unwrap();
    let (name, id) = (c.name().to_owned(), c.id().to_owned());
    c.remove().await.unwrap();
    let docker = common::docker().await;
    let by_name = docker.inspect_container(&name, None).await;
    let by_id = docker.inspect_container(&id, None).await;
    common::assert_nothing_left(&common::this_test()).await;

    for (what, result) in [("name", by_name), ("id", by_id)] {
        match result {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            other => panic!("inspect by {what} right after remove: {other:?}"),
        }
    }
}

#[tokio::test]
async fn run_returns_the_exit_code_and_output_and_removes_the_container() {
    let out = ContainerSpec::new(common::busybox())
        .cmd(["sh", "-c", "echo migrated; echo warned >&2; exit 3"])
        .run()
        .await
        .unwrap();
    let ok = ContainerSpec::new(common::busybox())
        .cmd(["true"])
        .run()
        .await
        .unwrap();
    let slow = ContainerSpec::new(common::busybox())
        .cmd(["sleep", "60"])
        .startup_timeout(Duration::from_secs(2))
        .run()
        .await;
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(out.exit_code, 3);
    assert!(!out.success());
    assert_eq!(out.logs.stdout, "migrated\n");
    assert_eq!(out.logs.stderr, "warned\n");
    assert!(ok.success());
    let err = slow.unwrap_err();
    assert_eq!(err.step(), Some(testdock::Step::Wait), "{err}");
    assert!(err.to_string().contains("the container to exit"), "{err}");
}

#[tokio::test]
async fn wait_returns_the_exit_code_and_stats_report_memory() {
    let c = sh_ready("echo ready; sleep 4; exit 5")
        .start()
        .await
        .unwrap();
    let stats = c.stats().await.unwrap();
    let code = c.wait().await.unwrap();
    let again = c.wait().await.unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!((code, again), (5, 5));
    let memory = stats.memory_stats.and_then(|m| m.usage).unwrap_or(0);
    assert!(memory > 0, "a running container uses memory");
}
