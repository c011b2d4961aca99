//! Each readiness probe passing against the real daemon, and what the test can rely on
//! once `start` returned: the awaited output is in the logs, the service answers at once.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use testdock::{Container, ContainerSpec, Error, Exec, Healthcheck, InjectFile, Probe, Step};

use common::sh;

/// A TCP echo service on port 8080 that starts listening `after` the container started.
fn echo_server(after: &str) -> ContainerSpec {
    sh(&format!(
        "echo booting; sleep {after}; echo listening; exec nc -ll -p 8080 -e cat"
    ))
    .expose(8080)
}

/// busybox httpd on port 8080 serving `/www`, with `/www/health` saying `ok`.
fn web() -> ContainerSpec {
    sh("echo serving; exec httpd -f -p 8080 -h /www")
        .expose(8080)
        .file(InjectFile::from_bytes("/www/health", "ok\n"))
}

/// Starts `spec`, returning the container and how long `start` took.
async fn timed_start(spec: ContainerSpec) -> (Container, Duration) {
    let began = Instant::now();
    let c = spec.start().await.expect("the probe passes");
    (c, began.elapsed())
}

/// Sends a line to an echo service and reads it back.
async fn round_trip(addr: SocketAddr) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"ping\n").await?;
        let mut answer = [0u8; 5];
        stream.read_exact(&mut answer).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// One raw HTTP/1.0 request; the whole answer as text.
async fn http(addr: SocketAddr, request_line: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{request_line} HTTP/1.0\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Removes the container and checks nothing of this test is left.
async fn finish(c: Container) {
    c.remove().await.expect("remove");
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn a_log_probe_passes_once_the_substring_is_printed() {
    let spec = sh("echo booting; sleep 0.5; echo 'server is ready to accept'; sleep 1000")
        .wait_for(Probe::log("ready to accept"));
    let (c, took) = timed_start(spec).await;
    assert!(took >= Duration::from_millis(450), "ready after {took:?}");
    let logs = c.logs().await.expect("logs");
    assert_eq!(logs.stdout, "booting\nserver is ready to accept\n");
    finish(c).await;
}

#[tokio::test]
async fn a_regex_log_probe_passes_only_on_a_matching_line() {
    let spec =
        sh("echo listening on port soon; sleep 0.5; echo listening on port 8080; sleep 1000")
            .wait_for(Probe::log_regex(r"listening on port \d+"));
    let (c, took) = timed_start(spec).await;
    assert!(
        took >= Duration::from_millis(450),
        "`soon` matched: {took:?}"
    );
    let logs = c.logs().await.expect("logs");
    assert!(logs.stdout.ends_with("port 8080\n"), "{logs:?}");
    finish(c).await;
}

/// Starts `script` twice: once waiting on `counts`, once on `ignored` with a 1 s limit.
async fn only_one_stream_counts(script: &str, counts: Probe, ignored: Probe) {
    let (c, _) = timed_start(sh(script).wait_for(counts)).await;
    let err = sh(script)
        .wait_for(ignored.within(Duration::from_secs(1)))
        .startup_timeout(Duration::from_secs(30))
        .start()
        .await
        .expect_err("the pattern is printed on the other stream only");
    let Error::Timeout {
        step, ref state, ..
    } = err
    else {
        panic!("expected a timeout, got: {err:?}");
    };
    assert_eq!(step, Step::Ready);
    assert_eq!(state.as_deref(), Some("running"), "{err}");
    let logs = &err.logs().expect("logs").lines;
    assert!(logs.iter().any(|l| l == "ready"), "{logs:?}");
    finish(c).await;
}

#[tokio::test]
async fn a_stderr_log_probe_ignores_the_same_text_on_stdout() {
    let script = "echo ready >&2; sleep 1000";
    let err_probe = Probe::log("ready").stderr();
    only_one_stream_counts(script, err_probe, Probe::log("ready").stdout()).await;
}

#[tokio::test]
async fn a_stdout_log_probe_ignores_the_same_text_on_stderr() {
    let script = "echo ready; sleep 1000";
    let out_probe = Probe::log("ready").stdout();
    only_one_stream_counts(script, out_probe, Probe::log("ready").stderr()).await;
}

#[tokio::test]
async fn a_log_probe_for_the_second_occurrence_waits_for_the_second_line() {
    let spec =
        sh("echo ready; sleep 1; echo ready; sleep 1000").wait_for(Probe::log("ready").times(2));
    let (c, took) = timed_start(spec).await;
    assert!(
        took >= Duration::from_millis(950),
        "passed on the first line: {took:?}"
    );
    assert_eq!(c.logs().await.expect("logs").stdout, "ready\nready\n");
    finish(c).await;
}

#[tokio::test]
async fn a_tcp_probe_listening_inside_waits_for_the_service_behind_the_proxy() {
    let spec = echo_server("1").wait_for(Probe::tcp(8080).listening_inside());
    let (c, took) = timed_start(spec).await;
    assert!(
        took >= Duration::from_millis(950),
        "passed before nc listened: {took:?}"
    );
    let addr = c.addr(8080).expect("published");
    assert_eq!(
        round_trip(addr).await.expect("the service answers at once"),
        "ping\n"
    );
    finish(c).await;
}

#[tokio::test]
async fn a_plain_tcp_probe_passes_once_the_published_port_accepts() {
    let spec = echo_server("0").wait_for(Probe::tcp(8080));
    let (c, _) = timed_start(spec).await;
    let addr = c.addr(8080).expect("published");
    // docker-proxy accepts before nc listens (hence `listening_inside`): allow a moment.
    let mut answer = round_trip(addr).await;
    for _ in 0..50 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = round_trip(addr).await;
    }
    assert_eq!(answer.expect("the echo service answers"), "ping\n");
    finish(c).await;
}

#[tokio::test]
async fn an_http_probe_passes_when_the_body_contains_the_text() {
    let (c, _) =
        timed_start(web().wait_for(Probe::http(8080, "/health").body_contains("ok"))).await;
    let answer = http(c.addr(8080).expect("published"), "GET /health").await;
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 "),
        "{answer}"
    );
    assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
    finish(c).await;
}

#[tokio::test]
async fn an_http_probe_accepts_a_404_when_told_to() {
    let (c, _) = timed_start(web().wait_for(Probe::http(8080, "/missing").status(404))).await;
    let answer = http(c.addr(8080).expect("published"), "GET /missing").await;
    assert!(answer.contains(" 404 "), "{answer}");
    finish(c).await;
}

/// An HTTP server on port 8080 (busybox `nc` running this script per connection) that
/// records each request's head in `/tmp/requests` and answers `200 ok`.
const RECORDER: &str = r#"#!/bin/sh
while IFS= read -r line; do
  line=${line%?}
  [ -z "$line" ] && break
  echo "$line" >> /tmp/requests
done
printf 'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n'
"#;

/// Starts the recorder until `probe` passes; the head of the request that passed, in
/// lower case.
async fn request_passing(probe: Probe) -> Vec<String> {
    let spec = sh("exec nc -ll -p 8080 -e /bin/record")
        .expose(8080)
        .file(InjectFile::from_bytes("/bin/record", RECORDER).mode(0o755));
    let (c, _) = timed_start(spec.wait_for(probe)).await;
    let out = c
        .exec(Exec::new(["cat", "/tmp/requests"]))
        .await
        .expect("exec");
    finish(c).await;
    let text = out.stdout_text().to_ascii_lowercase();
    text.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn an_http_probe_can_send_head_requests() {
    let head = request_passing(Probe::http(8080, "/health").method("head")).await;
    assert_eq!(head[0], "head /health http/1.1", "{head:?}");
}

#[tokio::test]
async fn an_http_probe_sends_its_headers() {
    let probe = Probe::http(8080, "/health")
        .header("X-Token", "secret")
        .header("Accept", "*/*");
    let head = request_passing(probe).await;
    assert!(head.iter().any(|h| h == "x-token: secret"), "{head:?}");
    assert!(head.iter().any(|h| h == "accept: */*"), "{head:?}");
}

/// Two `Host` fields make an HTTP/1.1 server answer 400 (RFC 9112 §3.2): virtual-host
/// readiness checks (nginx `server_name`, ingress) can never pass.
#[tokio::test]
async fn an_http_probes_host_header_replaces_the_default_one() {
    let head = request_passing(Probe::http(8080, "/").header("Host", "api.example")).await;
    let hosts: Vec<&String> = head.iter().filter(|h| h.starts_with("host:")).collect();
    assert_eq!(hosts, ["host: api.example"], "{head:?}");
}

/// A throwaway self-signed key and certificate, in one PEM, made by the host's `openssl`.
async fn self_signed() -> Vec<u8> {
    let args = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                -subj /CN=localhost -keyout /dev/stdout -out /dev/stdout";
    let out = tokio::process::Command::new("openssl")
        .args(args.split_whitespace())
        .output()
        .await
        .expect("this test needs `openssl` on the host");
    assert!(out.status.success(), "openssl failed: {out:?}");
    out.stdout
}

#[tokio::test]
async fn an_https_probe_passes_against_a_tls_server_with_a_self_signed_certificate() {
    // stunnel (from the host) terminates TLS in front of busybox httpd. glibc dlopens
    // libgcc_s for pthread_exit, a dependency HostImage cannot see: add it by hand.
    let libgcc = format!("/lib/{}-linux-gnu/libgcc_s.so.1", std::env::consts::ARCH);
    let image = common::busybox()
        .binary("/usr/bin/stunnel4")
        .file(InjectFile::from_host_file(&libgcc, &libgcc));
    let conf = "foreground = yes\npid =\n[https]\naccept = 8443\nconnect = 127.0.0.1:8080\n\
                cert = /etc/tls/key-and-cert.pem\n";
    let script = "httpd -p 127.0.0.1:8080 -h /www && exec stunnel4 /etc/tls/stunnel.conf";
    let spec = ContainerSpec::new(image)
        .cmd(["/bin/sh", "-c", script])
        .expose(8443)
        .file(InjectFile::from_bytes("/www/health", "ok\n"))
        .file(InjectFile::from_bytes("/etc/tls/key-and-cert.pem", self_signed().await).mode(0o600))
        .file(InjectFile::from_bytes("/etc/tls/stunnel.conf", conf))
        .wait_for(Probe::http(8443, "/health").https().body_contains("ok"));
    let (c, _) = timed_start(spec).await;
    // stunnel logs each TLS connection it accepted: the probe spoke TLS to it.
    let logs = c.logs().await.expect("logs");
    assert!(logs.stderr.contains("accepted connection"), "{logs:?}");
    finish(c).await;
}

#[tokio::test]
async fn an_exec_probe_passes_once_the_command_succeeds_inside() {
    let spec = sh("sleep 0.5; touch /tmp/ready; sleep 1000").wait_for(Probe::exec([
        "test",
        "-f",
        "/tmp/ready",
    ]));
    let (c, took) = timed_start(spec).await;
    assert!(
        took >= Duration::from_millis(450),
        "passed before the touch: {took:?}"
    );
    let out = c
        .exec(Exec::new(["test", "-f", "/tmp/ready"]))
        .await
        .expect("exec");
    assert_eq!(out.exit_code, 0);
    finish(c).await;
}

/// Starts a service that becomes healthy after `secs` seconds, checked every 100 ms.
async fn healthy_after(secs: f32, check: Healthcheck) {
    let spec = sh(&format!("sleep {secs}; touch /tmp/ok; sleep 1000"))
        .healthcheck(check.interval(Duration::from_millis(100)))
        .wait_for(Probe::healthy());
    let (c, took) = timed_start(spec).await;
    assert!(
        took.as_secs_f32() >= secs - 0.05,
        "healthy before the touch: {took:?}"
    );
    let health = c
        .inspect()
        .await
        .expect("inspect")
        .state
        .and_then(|s| s.health);
    let status = health.and_then(|h| h.status).map(|s| s.to_string());
    assert_eq!(status.as_deref(), Some("healthy"));
    finish(c).await;
}

#[tokio::test]
async fn a_healthy_probe_passes_once_the_healthcheck_does() {
    if common::skip_healthchecks().await {
        return;
    }
    healthy_after(2.0, Healthcheck::cmd(["test", "-f", "/tmp/ok"])).await;
}

#[tokio::test]
async fn a_healthy_probe_passes_once_the_healthcheck_does_within_its_start_period() {
    if common::skip_healthchecks().await {
        return;
    }
    let check = Healthcheck::cmd(["test", "-f", "/tmp/ok"]).start_period(Duration::from_secs(30));
    healthy_after(0.5, check).await;
}

/// The same recovering healthcheck fails an exec probe, though not a log probe (only
/// non-log probes run the fail-fast watcher, which also treats `unhealthy` as final).
#[tokio::test]
async fn an_exec_probe_is_not_failed_by_a_healthcheck_that_recovers() {
    let check = Healthcheck::cmd(["test", "-f", "/tmp/ok"]).interval(Duration::from_millis(100));
    let spec = sh("sleep 2; touch /tmp/ok /tmp/ready; sleep 1000")
        .healthcheck(check)
        .wait_for(Probe::exec(["test", "-f", "/tmp/ready"]));
    let (c, _) = timed_start(spec).await;
    finish(c).await;
}

#[tokio::test]
async fn an_exit_probe_passes_for_a_one_shot_job_that_succeeded() {
    let spec = sh("echo migrated; exit 0").wait_for(Probe::exit(0));
    let (c, _) = timed_start(spec).await;
    let state = c.inspect().await.expect("inspect").state.expect("state");
    assert_eq!(
        state.status.map(|s| s.to_string()).as_deref(),
        Some("exited")
    );
    assert_eq!(state.exit_code, Some(0));
    assert_eq!(c.logs().await.expect("logs").stdout, "migrated\n");
    finish(c).await;
}

#[tokio::test]
async fn a_delay_probe_passes_after_the_delay() {
    let spec = sh("sleep 1000").wait_for(Probe::delay(Duration::from_millis(700)));
    let (c, took) = timed_start(spec).await;
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    finish(c).await;
}

#[tokio::test]
async fn an_all_probe_waits_for_every_probe() {
    let probe = Probe::all([Probe::log("listening"), Probe::tcp(8080).listening_inside()]);
    let (c, took) = timed_start(echo_server("0.5").wait_for(probe)).await;
    assert!(took >= Duration::from_millis(450), "{took:?}");
    let addr = c.addr(8080).expect("published");
    assert_eq!(
        round_trip(addr).await.expect("the service answers"),
        "ping\n"
    );
    finish(c).await;
}

#[tokio::test]
async fn an_any_probe_passes_when_one_probe_passes() {
    let probe = Probe::any([
        Probe::log("never printed"),
        Probe::exec(["test", "-f", "/tmp/ready"]),
    ]);
    let spec = sh("sleep 0.3; touch /tmp/ready; sleep 1000")
        .wait_for(probe)
        .startup_timeout(Duration::from_secs(30));
    let (c, took) = timed_start(spec).await;
    assert!(
        took < Duration::from_secs(10),
        "waited for the log probe: {took:?}"
    );
    finish(c).await;
}

#[tokio::test]
async fn a_custom_probe_reaches_the_container_through_its_target() {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let probe = Probe::custom("echo answers", move |target| {
        let record = record.clone();
        async move {
            let Ok(addr) = target.addr(8080) else {
                return false;
            };
            let ok = round_trip(addr).await.is_ok_and(|a| a == "ping\n");
            let what = (
                target.id().to_owned(),
                target.host_port(8080),
                target.host().to_owned(),
            );
            *record.lock().unwrap() = Some(what);
            ok
        }
    });
    let (c, took) = timed_start(echo_server("0.5").wait_for(probe)).await;
    assert!(took >= Duration::from_millis(450), "{took:?}");
    let (id, host_port, host) = seen.lock().unwrap().clone().expect("the check ran");
    assert_eq!(id, c.id());
    assert_eq!(host_port, Some(c.host_port(8080).expect("published")));
    assert_eq!(host, c.host());
    finish(c).await;
}
