//! A remote daemon over TLS: `DOCKER_HOST=tcp://…` with `DOCKER_TLS_VERIFY=1` and
//! `DOCKER_CERT_PATH`, exercised for real through a mutual-TLS proxy (stunnel) in front of
//! the local daemon's socket. Its own test binary, because the daemon connection is
//! chosen once per process.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testdock::docker::Endpoint;
use testdock::{ContainerSpec, Exec, Probe};

const LOCAL_SOCKET: &str = "/var/run/docker.sock";

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (`sudo apt-get install -y openssl stunnel4`)",
                args[0]
            )
        });
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as the Docker CLI
/// expects them in `DOCKER_CERT_PATH` (`ca.pem`, `cert.pem`, `key.pem`).
fn make_certs(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    let steps: &[&[&str]] = &[
        &[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=testdock-ca",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ],
        &[
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server-key.pem",
            "-out",
            "server.csr",
        ],
        &[
            "openssl",
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server-cert.pem",
        ],
        &[
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=testdock-client",
            "-keyout",
            "key.pem",
            "-out",
            "client.csr",
        ],
        &[
            "openssl",
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "client.ext",
            "-out",
            "cert.pem",
        ],
    ];
    for step in steps {
        run(dir, step);
    }
}

/// The proxy process, killed when dropped.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_proxy(dir: &Path) -> (Proxy, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "foreground = yes\npid =\n[docker]\naccept = 127.0.0.1:{port}\nconnect = {LOCAL_SOCKET}\n\
         cert = server-cert.pem\nkey = server-key.pem\nCAfile = ca.pem\nverifyChain = yes\n"
    );
    std::fs::write(dir.join("stunnel.conf"), config).unwrap();
    let child = Command::new("stunnel")
        .arg("stunnel.conf")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the TLS test needs stunnel: `sudo apt-get install -y stunnel4 openssl`");
    let proxy = Proxy(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "stunnel did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (proxy, port)
}

#[tokio::test]
async fn a_tls_daemon_named_by_docker_host_runs_containers() {
    assert!(
        Path::new(LOCAL_SOCKET).exists(),
        "this test proxies {LOCAL_SOCKET}: start dockerd"
    );
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let (_proxy, port) = start_proxy(dir.path()).await;
    std::env::set_var("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"));
    std::env::set_var("DOCKER_TLS_VERIFY", "1");
    std::env::set_var("DOCKER_CERT_PATH", dir.path());

    let daemon = testdock::daemon().await.expect("connect over TLS");
    match &daemon.endpoint().endpoint {
        Endpoint::Tcp {
            addr,
            tls: Some(tls),
        } => {
            assert_eq!(addr, &format!("127.0.0.1:{port}"));
            assert_eq!(tls.ca, dir.path().join("ca.pem"));
        }
        other => panic!("expected a TLS endpoint, got {other}"),
    }
    assert_eq!(daemon.host(), "127.0.0.1");

    let c = ContainerSpec::new(common::busybox())
        .expose(8080)
        .cmd(["sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .expect("start through the TLS daemon");
    let out = c.exec(Exec::new(["echo", "over tls"])).await.unwrap();
    let port_ok = c.addr(8080).unwrap().ip().is_loopback();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(out.stdout_text(), "over tls\n");
    assert!(port_ok);
}
