//! memcached: [`Memcached`] (the configuration), [`MemcachedServer`] (a running server)
//! and [`TestMemcached`] (the keys of one test in a shared server).
//!
//! ```no_run
//! use testdock::container_test;
//! use testdock::services::memcached::{Memcached, MemcachedServer, TestMemcached};
//!
//! #[container_test]
//! async fn own_server(mc: MemcachedServer) {
//!     println!("{}", mc.url()); // memcache://127.0.0.1:32768
//! }
//!
//! #[container_test]
//! async fn own_keys(mc: TestMemcached) {
//!     println!("{}", mc.key("user:1")); // test_1f2e3d4c5b6a:user:1, deleted after the test
//! }
//!
//! # async fn demo() -> testdock::Result<()> {
//! let mc = Memcached::default()
//!     .memory_mb(16)
//!     .max_connections(256)
//!     .setting("slab_chunk_max", "512k")
//!     .start()
//!     .await?;
//! # let _ = mc; Ok(()) }
//! ```
//!
//! Ready when `version` answers `VERSION `. testdock talks to the server in its text
//! protocol itself (`version`, `stats`, `lru_crawler metadump`, `delete`), so no client
//! is needed; tests use the `memcache` crate or any other with [`MemcachedServer::url`]
//! or [`MemcachedServer::addr`].
//!
//! This file and its submodule `memcached/keys.rs` are written with testdock's public
//! API alone (`testdock::` paths, no `crate::`), as a service of your own would be:
//! they are the worked example of `docs/writing_a_service.md`, and
//! `tests/service_template.rs` compiles them again from outside the crate to prove it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use testdock::runner::{Fixture, TestContext};
use testdock::services::{
    exchange, exchange_probe, start, start_for_test, ImageChoice, Service, ServiceContainer,
    ServiceSource, SharedService,
};
use testdock::{Container, ContainerSpec, Error, HostImage, ImageSource, Result};

// An explicit path, so that `tests/service_template.rs` (which loads this file with
// `#[path]`) finds the submodule where the crate does.
#[path = "memcached/keys.rs"]
mod keys;

pub use keys::TestMemcached;

/// The port memcached listens on in its container.
pub const PORT: u16 = 11211;

/// Debian's server binary.
const HOST_BINARY: &str = "/usr/bin/memcached";

/// The uid and gid of the `memcache` user, as in the official image: memcached refuses
/// to run as root without `-u`, so both images run it as this user.
const MEMCACHE_UID: u32 = 11211;

/// The server [`TestMemcached`] arguments use: `Memcached::default()`, shared by the run.
pub static SHARED: SharedService<Memcached> =
    SharedService::new("testdock-memcached", Memcached::default);

/// A memcached server's configuration.
///
/// Defaults: `memcached:1.6-alpine` or the host's `memcached` (see [`ServiceSource`]),
/// 64 MB of memory (`-m 64`), 1024 connections (`-c 1024`), run as the unprivileged
/// user `memcache`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct Memcached {
    tag: String,
    registry: Option<String>,
    source: Option<ServiceSource>,
    host_binary: String,
    memory_mb: u32,
    max_connections: u32,
    settings: Vec<(String, String)>,
    args: Vec<String>,
    startup_timeout: Duration,
}

impl Default for Memcached {
    fn default() -> Self {
        Memcached {
            tag: "1.6-alpine".to_owned(),
            registry: None,
            source: None,
            host_binary: HOST_BINARY.to_owned(),
            memory_mb: 64,
            max_connections: 1024,
            settings: Vec::new(),
            args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

impl Memcached {
    /// The official image's tag (default `1.6-alpine`); the host binary is whatever
    /// version the host has.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    /// The official image's whole reference, for a mirror or a private registry
    /// (default `memcached:<tag>`).
    pub fn registry(mut self, reference: impl Into<String>) -> Self {
        self.registry = Some(reference.into());
        self
    }

    /// Where the image comes from, overriding `TESTDOCK_SERVICES`.
    pub fn source(mut self, source: ServiceSource) -> Self {
        self.source = Some(source);
        self
    }

    /// The host's `memcached` to pack into an image when the host source is used
    /// (default Debian's `/usr/bin/memcached`), e.g. one built into `/usr/local/bin`.
    pub fn host_binary(mut self, path: impl Into<String>) -> Self {
        self.host_binary = path.into();
        self
    }

    /// Memory for items, in megabytes (`-m`, default 64).
    pub fn memory_mb(mut self, megabytes: u32) -> Self {
        self.memory_mb = megabytes;
        self
    }

    /// Simultaneous connections (`-c`, default 1024).
    pub fn max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections;
        self
    }

    /// An extended option, passed as `-o key=value` (`slab_chunk_max`, `hashpower`,
    /// `lru_crawler`...); `value` may be empty for a flag (`-o key`).
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Command-line arguments after testdock's own (`-t 2`, `-I 2m`, `-vv`).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Limit for the start (default 30 s).
    pub fn startup_timeout(mut self, limit: Duration) -> Self {
        self.startup_timeout = limit;
        self
    }

    /// Starts a server of its own, removed when the handle is dropped.
    pub async fn start(self) -> Result<MemcachedServer> {
        start(self).await
    }

    /// The official image, or the host's binary packed into an image that honours the
    /// same contract (`memcached` on the `PATH`, run as `memcache`).
    fn choice(&self) -> ImageChoice {
        let image = HostImage::new()
            .binary_at(&self.host_binary, "/usr/local/bin/memcached")
            .user_account("memcache", MEMCACHE_UID, "/tmp")
            .default_user("memcache")
            .default_env("PATH", "/usr/local/bin")
            .default_cmd(["memcached"]);
        let official = self
            .registry
            .clone()
            .unwrap_or_else(|| format!("memcached:{}", self.tag));
        ImageChoice::new("memcached", official).host(
            image,
            [&self.host_binary],
            "apt-get install memcached",
        )
    }

    /// `memcached -m <mb> -c <n> [-o key=value,...] <args>`.
    fn command(&self) -> Result<Vec<String>> {
        let bad = |c: char| c == ',' || c.is_whitespace();
        if let Some((key, value)) = self
            .settings
            .iter()
            .find(|(k, v)| k.is_empty() || k.contains('=') || k.contains(bad) || v.contains(bad))
        {
            return Err(Error::InvalidInput {
                container: "(not created) memcached".to_owned(),
                message: format!(
                    "the setting {key:?}={value:?} is not one `-o key=value` option: \
                     keys and values have no commas or spaces"
                ),
            });
        }
        let mut command = vec![
            "memcached".to_owned(),
            "-m".to_owned(),
            self.memory_mb.to_string(),
            "-c".to_owned(),
            self.max_connections.to_string(),
        ];
        if !self.settings.is_empty() {
            let options: Vec<String> = self
                .settings
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            command.extend(["-o".to_owned(), options.join(",")]);
        }
        command.extend(self.args.iter().cloned());
        Ok(command)
    }

    fn spec_for(&self, image: ImageSource) -> Result<ContainerSpec> {
        Ok(ContainerSpec::new(image)
            .name_prefix("testdock-memcached")
            .cmd(self.command()?)
            .expose(PORT)
            .wait_for(exchange_probe(PORT, "version\r\n", "VERSION "))
            .startup_timeout(self.startup_timeout))
    }
}

impl Service for Memcached {
    type Server = MemcachedServer;

    async fn spec(&self) -> Result<ContainerSpec> {
        // Bad input fails before an image is looked for, let alone a container made.
        self.command()?;
        let image = self.choice().choose(self.source).await?;
        self.spec_for(image)
    }

    fn server(self, container: ServiceContainer) -> Result<MemcachedServer> {
        let addr = container.addr(PORT)?;
        Ok(MemcachedServer {
            config: self,
            container,
            addr,
        })
    }
}

/// A running memcached server.
#[derive(Debug)]
pub struct MemcachedServer {
    config: Memcached,
    container: ServiceContainer,
    addr: SocketAddr,
}

impl MemcachedServer {
    /// The container it runs in.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// The host address of its port 11211.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Memcached {
        &self.config
    }

    /// `memcache://host:port`, as the `memcache` crate's `Client::connect` takes it.
    pub fn url(&self) -> String {
        format!("memcache://{}", self.addr)
    }

    /// The statistics of `stats <group>` (`""` for the general ones, `"settings"`,
    /// `"slabs"`...), by name: `stats("settings")` has `maxbytes` and `maxconns`.
    pub async fn stats(&self, group: &str) -> Result<BTreeMap<String, String>> {
        let request = format!("stats {group}").trim_end().to_owned() + "\r\n";
        let answer = self.send(request.as_bytes(), b"END\r\n", "stats").await?;
        Ok(answer
            .lines()
            .filter_map(|line| {
                let mut words = line.strip_prefix("STAT ")?.splitn(2, ' ');
                Some((words.next()?.to_owned(), words.next()?.trim().to_owned()))
            })
            .collect())
    }

    /// Sends `request` (text protocol commands) and returns the answer up to `until`;
    /// `action` names it in the error.
    async fn send(&self, request: &[u8], until: &[u8], action: &str) -> Result<String> {
        let answer = exchange(self.addr, request, until)
            .await
            .map_err(|e| self.error(action, e))?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        if text.starts_with("ERROR") || text.starts_with("CLIENT_ERROR") {
            return Err(self.error(action, text.trim()));
        }
        Ok(text)
    }

    /// The error of a step (`action`) testdock took on the server.
    fn error(&self, action: &str, message: impl ToString) -> Error {
        Error::Service {
            service: "memcached".to_owned(),
            container: self.container.name().to_owned(),
            action: action.to_owned(),
            message: message.to_string(),
            logs: None,
        }
    }

    /// Removes its container now (when it is its own; a shared one stays for the run).
    pub async fn remove(self) -> Result<()> {
        self.container.remove().await
    }
}

/// A `MemcachedServer` argument: a server of the test's own, `Memcached::default()`.
impl Fixture for MemcachedServer {
    async fn setup(ctx: &TestContext) -> Result<Self> {
        start_for_test(Memcached::default(), ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_has_limits_settings_and_args() {
        let command = Memcached::default()
            .memory_mb(16)
            .max_connections(99)
            .setting("hashpower", "12")
            .setting("no_lru_crawler", "")
            .args(["-t", "2"])
            .command()
            .unwrap();
        assert_eq!(
            command.join(" "),
            "memcached -m 16 -c 99 -o hashpower=12,no_lru_crawler -t 2"
        );
        let err = Memcached::default()
            .setting("hashpower", "12,evil")
            .command()
            .unwrap_err();
        assert!(err.to_string().contains("no commas or spaces"), "{err}");
    }
}
