//! Pool mode (`TestMeta::pool`, `TESTDOCK_POOL`): test containers in pre-warmed network
//! namespaces. Each test here runs one or more runner tests by hand (`run_test` with
//! `.pool(true)`) and checks, against the real daemon, what a test in pool mode sees
//! (addresses, probes, its own namespace), what a namespace looks like when it is
//! reused, that a dead pause is replaced, and that nothing is left behind.

mod common;
mod runner_support;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use testdock::bollard::Docker;
use testdock::runner::{run_test, TestContext, TestMeta};
use testdock::{Container, ContainerSpec, Exec, Healthcheck, InjectFile, Probe};

use common::sh;
use runner_support::block_on;

/// The pool is process-wide: one test of this file at a time, so each sees the pool as
/// the one before left it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A runner test in pool mode, named `name` under this file.
fn meta(name: &str) -> TestMeta {
    TestMeta::new(format!("pool::{name}"), file!(), line!()).pool(true)
}

/// busybox httpd on `port`, serving `/www/health` (`ok`).
fn web(port: u16) -> ContainerSpec {
    sh(&format!("echo serving; exec httpd -f -p {port} -h /www"))
        .expose(port)
        .file(InjectFile::from_bytes("/www/health", "ok\n"))
}

/// busybox httpd on 8080 in the test's pod, ready, and answering this process.
async fn serving(ctx: &TestContext) -> testdock::Result<Container> {
    let c = ctx
        .adopt(web(8080))
        .wait_for(Probe::http(8080, "/health"))
        .start()
        .await?;
    assert!(get(c.addr(8080)?, "/health").await.ends_with("ok\n"));
    Ok(c)
}

/// One HTTP/1.0 GET from this process; the whole answer.
async fn get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        std::io::Result::Ok(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("the server answers in time")
        .expect("the exchange succeeds")
}

/// The pause whose namespace `c` joined (label `testdock.pod`).
async fn pause_of(c: &Container) -> String {
    let info = c.inspect().await.expect("inspect");
    let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
    labels
        .get(testdock::labels::POD)
        .cloned()
        .expect("a container of a pool-mode test joins a pause")
}

/// Runs pool test `name` serving (and answering one request) on port 8080; returns its
/// pause once the teardown put it back in the pool.
fn serve_once(name: &str) -> String {
    let pause = Arc::new(Mutex::new(String::new()));
    let keep = pause.clone();
    run_test(meta(name), move |ctx| async move {
        let c = serving(&ctx).await?;
        *keep.lock().unwrap() = pause_of(&c).await;
        Ok(())
    });
    let pause = pause.lock().unwrap().clone();
    wait_idle(&pause);
    pause
}

/// Waits until the pause `name` is back in the pool, proven clean.
fn wait_idle(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !testdock::pool::idle().iter().any(|p| p == name) {
        assert!(
            Instant::now() < deadline,
            "pause {name} did not return to the pool"
        );
        block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
    }
}

/// Waits until the pool stops changing (the teardowns of earlier tests are done).
fn settle() {
    let mut last = testdock::pool::idle();
    let mut stable = Instant::now();
    while stable.elapsed() < Duration::from_millis(500) {
        block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
        let now = testdock::pool::idle();
        if now != last {
            (last, stable) = (now, Instant::now());
        }
    }
}

/// Fails if anything of test `name` is left (5 s for the background teardown).
fn assert_nothing_left(name: &str) {
    block_on(common::assert_nothing_left(&format!("pool::{name}")));
}

async fn docker() -> Docker {
    common::docker().await
}

/// The TCP tables (IPv4, IPv6) of the pause `name`'s namespace, as the host sees it.
async fn tcp_table(pause: &str) -> String {
    let info = docker()
        .await
        .inspect_container(pause, None)
        .await
        .expect("inspect pause");
    let pid = info
        .state
        .and_then(|s| s.pid)
        .expect("a running pause has a pid");
    ["tcp", "tcp6"]
        .map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).expect("read a tcp table"))
        .concat()
}

#[test]
fn every_probe_kind_passes_and_the_service_is_reached_on_the_pause_ip() {
    let _serial = serial();
    // Without healthchecks (Podman without systemd) that container waits for its log.
    let health = match block_on(common::skip_healthchecks()) {
        true => Probe::log("up"),
        false => Probe::healthy(),
    };
    run_test(meta("probes"), |ctx| async move {
        let web = ctx
            .adopt(web(8080))
            .wait_for(Probe::all([
                Probe::log("serving"),
                Probe::tcp(8080),
                Probe::http(8080, "/health").body_contains("ok"),
            ]))
            .start()
            .await?;
        // Its address is the pause's IP and the container port: nothing is published.
        let addr = web.addr(8080)?;
        assert_ne!(
            web.host(),
            "127.0.0.1",
            "pool mode does not use published ports"
        );
        assert_eq!(addr.port(), 8080);
        assert_eq!(web.host_port(8080)?, 8080);
        assert!(get(addr, "/health").await.ends_with("ok\n"));
        let ports = web.inspect().await?.network_settings.and_then(|n| n.ports);
        assert!(
            ports.unwrap_or_default().is_empty(),
            "nothing is published on the host"
        );
        let pod = pause_of(&web).await;

        // The other probe kinds, in containers of the same pod: localhost is shared.
        let healthy = sh("echo up; exec sleep 1000").healthcheck(
            Healthcheck::cmd(["wget", "-q", "-O-", "http://localhost:8080/health"])
                .interval(Duration::from_millis(200)),
        );
        let others = [
            ctx.adopt(healthy).wait_for(health),
            ctx.adopt(sh("sleep 1000")).wait_for(Probe::exec([
                "wget",
                "-q",
                "-O-",
                "http://localhost:8080/health",
            ])),
            ctx.adopt(sh("exit 0")).wait_for(Probe::exit(0)),
            ctx.adopt(sh("sleep 1000"))
                .wait_for(Probe::delay(Duration::from_millis(50))),
            ctx.adopt(sh("echo ready; exec nc -ll -p 9090 -e cat"))
                .expose(9090)
                .wait_for(Probe::any([
                    Probe::tcp(9090).listening_inside(),
                    Probe::log("never"),
                ])),
            ctx.adopt(sh("exec nc -ll -p 9191 -e cat"))
                .expose(9191)
                .wait_for(Probe::custom("connects", |t| async move {
                    let Ok(addr) = t.addr(9191) else { return false };
                    tokio::net::TcpStream::connect(addr).await.is_ok()
                })),
        ];
        // Boxed: six start futures at once are too big for the test thread's stack.
        let starts = others.map(|spec| Box::pin(spec.start()));
        let started = futures::future::try_join_all(starts).await?;
        for c in &started {
            assert_eq!(pause_of(c).await, pod, "one test, one namespace");
            assert_eq!(c.host(), web.host());
        }
        let out = started[0]
            .exec(Exec::new([
                "wget",
                "-q",
                "-O-",
                "http://localhost:8080/health",
            ]))
            .await?;
        assert_eq!(
            out.stdout_text(),
            "ok\n",
            "pod members reach each other on localhost"
        );
        Ok(())
    });
    assert_nothing_left("probes");
}

#[test]
fn two_tests_in_parallel_never_share_a_namespace() {
    let _serial = serial();
    let both = Arc::new(Barrier::new(2));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let runs: Vec<_> = ["parallel_a", "parallel_b"]
        .into_iter()
        .map(|name| {
            let (both, seen) = (both.clone(), seen.clone());
            std::thread::Builder::new()
                .name(format!("pool::{name}"))
                .spawn(move || {
                    run_test(meta(name), move |ctx| async move {
                        let c = serving(&ctx).await?;
                        let pod = pause_of(&c).await;
                        // Both hold their lease at once, both serve port 8080.
                        tokio::task::spawn_blocking(move || both.wait())
                            .await
                            .expect("barrier");
                        let answer = get(c.addr(8080)?, "/health").await;
                        assert!(answer.ends_with("ok\n"), "both serve 8080 at once");
                        seen.lock().unwrap().push((pod, c.host().to_owned()));
                        Ok(())
                    })
                })
                .expect("spawn")
        })
        .collect();
    for run in runs {
        run.join().expect("the test passes");
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0].0, seen[1].0, "two tests, two pauses");
    assert_ne!(seen[0].1, seen[1].1, "two tests, two addresses");
    assert_nothing_left("parallel_a");
    assert_nothing_left("parallel_b");
}

#[test]
fn a_reused_namespace_serves_the_same_port_again_past_time_wait() {
    let _serial = serial();
    settle();
    // httpd closes first: its side of the connection stays in TIME_WAIT.
    let first = serve_once("reuse_first");
    let table = block_on(tcp_table(&first));
    assert!(
        table
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(3) == Some("06")),
        "the first server's connection is in TIME_WAIT in the pooled namespace:\n{table}"
    );
    run_test(meta("reuse_second"), move |ctx| async move {
        let c = serving(&ctx).await?;
        assert_eq!(pause_of(&c).await, first, "the idle namespace is reused");
        Ok(())
    });
    assert_nothing_left("reuse_first");
    assert_nothing_left("reuse_second");
}

#[test]
fn a_dead_pause_is_replaced_at_lease_time() {
    let _serial = serial();
    let first = serve_once("dead_first");
    // Kill every idle pause by hand: the next lease must find them dead.
    block_on(async {
        let docker = docker().await;
        let filter = std::collections::HashMap::from([(
            "label",
            vec![
                format!("{}=pause", testdock::labels::ROLE),
                format!(
                    "{}={}",
                    testdock::labels::OWNER,
                    testdock::labels::owner_id()
                ),
            ],
        )]);
        let options = testdock::bollard::query_parameters::ListContainersOptionsBuilder::default()
            .filters(&filter)
            .build();
        for c in docker.list_containers(Some(options)).await.expect("list") {
            docker
                .kill_container(
                    &c.id.unwrap_or_default(),
                    None::<testdock::bollard::query_parameters::KillContainerOptions>,
                )
                .await
                .expect("kill the pause");
        }
    });
    let replaced = first.clone();
    run_test(meta("dead_second"), move |ctx| async move {
        let c = serving(&ctx).await?;
        assert_ne!(pause_of(&c).await, replaced, "a dead pause is not leased");
        Ok(())
    });
    let gone = block_on(async {
        docker()
            .await
            .inspect_container(&first, None)
            .await
            .is_err()
    });
    assert!(gone, "the dead pause {first} was removed");
    assert_nothing_left("dead_first");
    assert_nothing_left("dead_second");
}

#[test]
fn a_failed_start_leaves_the_lease_clean_for_the_next_container() {
    let _serial = serial();
    run_test(meta("failed_start"), |ctx| async move {
        // It listens on 8080, then dies before it is ready.
        let failing = ctx
            .adopt(sh("nc -ll -p 8080 -e cat & sleep 0.3; echo dying; exit 3"))
            .expose(8080)
            .wait_for(Probe::log("never"))
            .start()
            .await;
        assert!(
            matches!(failing, Err(testdock::Error::Exited { exit_code: 3, .. })),
            "{failing:?}"
        );
        serving(&ctx).await?;
        Ok(())
    });
    assert_nothing_left("failed_start");
}

#[test]
fn containers_with_their_own_network_settings_keep_the_bridge_path() {
    let _serial = serial();
    run_test(meta("own_network").per_test_network(), |ctx| async move {
        let on_net = ctx
            .adopt(web(8080))
            .wait_for(Probe::http(8080, "/health"))
            .start()
            .await?;
        let fixed = ctx
            .adopt(web(8080).hostname("named"))
            .wait_for(Probe::http(8080, "/health"))
            .start()
            .await?;
        for c in [&on_net, &fixed] {
            let labels = c
                .inspect()
                .await?
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default();
            assert!(
                !labels.contains_key(testdock::labels::POD),
                "{} stays off the pool",
                c.name()
            );
            assert_eq!(c.host(), "127.0.0.1");
            assert_ne!(c.host_port(8080)?, 8080);
        }
        Ok(())
    });
    assert_nothing_left("own_network");
}

#[test]
#[ignore = "run as a child process by the_pool_is_removed_when_its_process_ends"]
fn child_leaves_a_pooled_pause() {
    let pause = serve_once("child");
    println!("PAUSE {pause} OWNER {}", testdock::labels::owner_id());
}

#[test]
fn the_pool_is_removed_when_its_process_ends() {
    let run =
        runner_support::run_child("child_leaves_a_pooled_pause", &[], Duration::from_secs(60));
    run.assert_passed();
    let named = run
        .stdout
        .lines()
        .find_map(|l| l.split_once("PAUSE "))
        .map(|(_, rest)| rest);
    let words: Vec<&str> = named
        .unwrap_or_else(|| panic!("the child names its pause:\n{run}"))
        .split_whitespace()
        .collect();
    let (pause, owner) = (words[0], words[2]);
    // Its reaper removes what the process owned once it is gone (within 2 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = block_on(common::owned_by(owner));
    while !left.is_empty() && Instant::now() < deadline {
        block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
        left = block_on(common::owned_by(owner));
    }
    assert!(
        left.is_empty(),
        "the child's pool ({pause}) outlived it: {left:#?}"
    );
}
