//! A real registry for the registry tests: Debian's `docker-registry` (the distribution
//! registry v2) on `127.0.0.1:<free port>`, which the daemon treats as an insecure
//! (plain HTTP) registry by default. Also pushing images into it, and a fake registry
//! that stops answering.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures::StreamExt;
use testdock::HostImage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry process, killed when dropped.
pub struct LocalRegistry {
    /// `127.0.0.1:<port>`.
    pub host: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    /// A registry anyone may pull from and push to.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A registry that requires HTTP basic auth as `user`:`password`.
    pub async fn start_with_login(user: &str, password: &str) -> Self {
        Self::start_with(Some((user, password))).await
    }

    async fn start_with(login: Option<(&str, &str)>) -> Self {
        assert!(
            std::path::Path::new(REGISTRY_BIN).exists(),
            "the registry tests need {REGISTRY_BIN}: `sudo apt-get install -y docker-registry`"
        );
        let mut last_log = String::new();
        // A port found free can be taken before the registry binds it: try a few.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(&config, config_text(dir.path(), &host, login)).unwrap();
            let log = dir.path().join("registry.log");
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("run docker-registry");
            let mut registry = LocalRegistry {
                host,
                child,
                log,
                _dir: dir,
            };
            if registry.wait_ready().await {
                return registry;
            }
            last_log = registry.log_text();
        }
        panic!("docker-registry did not come up; its last log:\n{last_log}");
    }

    /// Waits until `GET /v2/` answers (200, or 401 with auth); false if the process died.
    async fn wait_ready(&mut self) -> bool {
        let limit = testdock::timeouts::scaled(Duration::from_secs(15));
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Some(status) = http_status(&self.host, "/v2/").await {
                if status == 200 || status == 401 {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "docker-registry at {} did not answer GET /v2/ within {limit:?}; its log:\n{}",
            self.host,
            self.log_text()
        );
    }

    /// What the registry printed (its access log included).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many manifest requests for `path:tag` the registry has answered.
    pub fn manifest_requests(&self, path: &str, tag: &str) -> usize {
        let needle = format!("/v2/{path}/manifests/{tag} ");
        self.log_text().matches(&needle).count()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(dir: &std::path::Path, host: &str, login: Option<(&str, &str)>) -> String {
    let mut text = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {host}\n  secret: testdock-{}\n",
        dir.join("data").display(),
        rand_suffix()
    );
    if let Some((user, password)) = login {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .unwrap_or_else(|e| {
                panic!("run htpasswd ({e}): `sudo apt-get install -y apache2-utils`")
            });
        assert!(out.status.success(), "htpasswd failed");
        let file = dir.join("htpasswd");
        std::fs::write(&file, out.stdout).unwrap();
        text.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: testdock\n    path: {}\n",
            file.display()
        ));
    }
    text
}

/// The status code of `GET path` on `host`, or `None` if it does not answer.
async fn http_status(host: &str, path: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = TcpStream::connect(host).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = vec![0; 64];
        let n = stream.read(&mut head).await.ok()?;
        let text = String::from_utf8_lossy(&head[..n]).into_owned();
        text.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

/// A random tag, so tests never share images.
pub fn rand_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The local reference of a host image (imported on the way).
pub async fn local_reference(image: HostImage) -> String {
    image
        .prepare()
        .await
        .map(|p| p.reference)
        .expect("import the host image")
}

/// Tags `local` as `repo:tag`, pushes it, and removes the local `repo:tag` again;
/// returns the digest the registry gave it.
pub async fn push(local: &str, repo: &str, tag: &str, creds: Option<DockerCredentials>) -> String {
    let docker = crate::common::docker().await;
    tag_as(local, repo, tag).await;
    let mut stream = docker.push_image(
        repo,
        Some(PushImageOptionsBuilder::default().tag(tag).build()),
        creds,
    );
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.unwrap_or_else(|e| panic!("push {repo}:{tag}: {e}"));
        if let Some(status) = info.status {
            if let Some(rest) = status.split("digest: ").nth(1) {
                digest = rest.split_whitespace().next().map(str::to_owned);
            }
        }
    }
    crate::common::remove_image(&format!("{repo}:{tag}")).await;
    digest.unwrap_or_else(|| panic!("the push of {repo}:{tag} reported no digest"))
}

/// Tags `local` as `repo:tag` (moving the tag if it exists).
pub async fn tag_as(local: &str, repo: &str, tag: &str) {
    let docker = crate::common::docker().await;
    docker
        .tag_image(
            local,
            Some(
                TagImageOptionsBuilder::default()
                    .repo(repo)
                    .tag(tag)
                    .build(),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("tag {local} as {repo}:{tag}: {e}"));
}

/// Whether the daemon has `reference`.
pub async fn has_image(reference: &str) -> bool {
    let docker = crate::common::docker().await;
    docker.inspect_image(reference).await.is_ok()
}

/// A fake registry: answers `GET /v2/` and then never answers anything else, like a
/// registry that hangs. TLS attempts are refused so the daemon falls back to HTTP.
pub async fn hanging_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                let Ok(n) = stream.read(&mut buf).await else {
                    return;
                };
                if n == 0 || buf[0] == 0x16 {
                    return; // a TLS handshake: close, the daemon retries over HTTP
                }
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                if request.starts_with("GET /v2/ ") {
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\
                              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                        )
                        .await;
                }
                // Hold the connection open and say nothing more.
                let _ = stream.read(&mut buf).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    host
}
