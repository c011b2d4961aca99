//! A second Docker daemon on this machine, reached over TCP on 127.0.0.1: the shape of
//! Docker-in-Docker and remote daemons, for the tests that must not assume a local
//! socket. It has its own socket, data-root, exec-root, pidfile, config file (the
//! machine's `/etc/docker/daemon.json` pins the first daemon's data-root), containerd
//! namespace and bridge, and no iptables rules, so it leaves the first daemon alone.
//! (Never `--bridge none`: that deletes the first daemon's `docker0`.) Needs root.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running second daemon; stopped and cleaned up when dropped.
pub struct SecondDaemon {
    dockerd: Child,
    dir: PathBuf,
    bridge: String,
    /// `tcp://127.0.0.1:<port>`.
    pub docker_host: String,
    /// Its unix socket, as the daemon's host sees it (for `TESTDOCK_REAPER_SOCKET`).
    pub socket: PathBuf,
    addr: std::net::SocketAddr,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SecondDaemon {
    /// Starts the daemon and waits until it answers `/_ping`; panics with what to do if
    /// it cannot.
    #[allow(clippy::disallowed_methods)] // sync code, called before any runtime work
    pub fn start() -> Self {
        let how = "these tests start a second dockerd (root, Debian's docker.io and iproute2)";
        let id = std::process::id();
        let dir = PathBuf::from(format!("/tmp/testdock-dockerd-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        // A bridge of its own, on a /24 derived from the pid (a local-only network).
        let bridge = format!("tdbr{}", id % 100_000);
        let subnet = format!("10.213.{}.1/24", id % 250 + 1);
        let _ = run("ip", &["link", "del", &bridge]);
        run("ip", &["link", "add", &bridge, "type", "bridge"])
            .and_then(|()| run("ip", &["addr", "add", &subnet, "dev", &bridge]))
            .and_then(|()| run("ip", &["link", "set", &bridge, "up"]))
            .unwrap_or_else(|e| panic!("{how}: making bridge {bridge} failed: {e}"));
        let port = free_port();
        let docker_host = format!("tcp://127.0.0.1:{port}");
        let driver = if std::path::Path::new("/usr/bin/fuse-overlayfs").exists() {
            "fuse-overlayfs"
        } else {
            "vfs"
        };
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let d = |sub: &str| dir.join(sub).to_string_lossy().into_owned();
        let dockerd = Command::new("dockerd")
            .args([
                "--host",
                &docker_host,
                "--host",
                &format!("unix://{}", d("docker.sock")),
                "--data-root",
                &d("data"),
                "--exec-root",
                &d("exec"),
                "--pidfile",
                &d("docker.pid"),
                "--config-file",
                &d("daemon.json"),
                "--containerd-namespace",
                &format!("testdock-{id}"),
                "--containerd-plugins-namespace",
                &format!("testdock-{id}-plugins"),
                "--bridge",
                &bridge,
                "--iptables=false",
                "--ip-masq=false",
                "--storage-driver",
                driver,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{how}: dockerd: {e}"));
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut daemon = SecondDaemon {
            dockerd,
            socket: dir.join("docker.sock"),
            dir,
            bridge,
            docker_host,
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !daemon.answers() {
            if Instant::now() > deadline || daemon.dockerd.try_wait().unwrap().is_some() {
                let log = std::fs::read_to_string(daemon.dir.join("dockerd.log"));
                panic!("{how}: the second dockerd did not answer; its log:\n{log:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.ends_with("OK")
    }

    /// A bollard client for this daemon, for the parent's own checks.
    pub fn client(&self) -> testdock::bollard::Docker {
        testdock::bollard::Docker::connect_with_http(
            &self.docker_host,
            120,
            testdock::bollard::API_DEFAULT_VERSION,
        )
        .unwrap()
    }
}

impl Drop for SecondDaemon {
    #[allow(clippy::disallowed_methods)] // a bounded wait for the daemon to stop
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.dockerd.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.dockerd.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.dockerd.kill();
        let _ = self.dockerd.wait();
        let _ = run("ip", &["link", "del", &self.bridge]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
