//! Redis: [`Redis`] (the configuration), [`RedisServer`] (a running server) and
//! [`TestRedis`] (a logical database of one test in a shared server).
//!
//! ```no_run
//! use testdock::container_test;
//! use testdock::services::redis::{Redis, RedisServer, TestRedis};
//!
//! #[container_test]
//! async fn own_server(redis: RedisServer) {
//!     println!("{}", redis.url()); // redis://127.0.0.1:32768/0
//! }
//!
//! #[container_test]
//! async fn own_database(redis: TestRedis) {
//!     println!("{}", redis.url()); // redis://127.0.0.1:32769/7: flushed after the test
//! }
//!
//! # async fn demo() -> testdock::Result<()> {
//! let redis = Redis::default()
//!     .password("secret")
//!     .setting("maxmemory", "64mb")
//!     .start()
//!     .await?;
//! # let _ = redis; Ok(()) }
//! ```
//!
//! Ready when `PING` answers `PONG` (after `AUTH` when a password is set). The server
//! is talked to in RESP by testdock itself (a few commands: `PING`, `AUTH`, `INCR`,
//! `SELECT`, `FLUSHDB`), so no Redis client is needed; tests use the `redis` crate or
//! any other with [`RedisServer::url`].

mod database;

use std::net::SocketAddr;
use std::time::Duration;

pub use database::TestRedis;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::image::HostImage;
use crate::inject::InjectFile;
use crate::runner::{Fixture, TestContext};
use crate::services::{
    exchange_probe, start, start_for_test, ImageChoice, Service, ServiceContainer, ServiceSource,
    SharedService,
};
use crate::spec::ContainerSpec;

/// The port Redis listens on in its container.
pub const PORT: u16 = 6379;

/// Where the spec puts `redis.conf`.
const CONF_PATH: &str = "/etc/testdock/redis.conf";

/// Debian's server binary.
const HOST_BINARY: &str = "/usr/bin/redis-server";

/// The server [`TestRedis`] arguments use: `Redis::default()`, shared by the run.
pub static SHARED: SharedService<Redis> = SharedService::new("testdock-redis", Redis::default);

/// A Redis server's configuration.
///
/// Defaults: `redis:7-alpine` or the host's `redis-server` (see
/// [`ServiceSource`]), no password, no persistence (`save ""`, `appendonly no`),
/// `protected-mode no`, 1024 logical databases (for [`TestRedis`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct Redis {
    tag: String,
    registry: Option<String>,
    source: Option<ServiceSource>,
    password: Option<String>,
    settings: Vec<(String, String)>,
    startup_timeout: Duration,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            tag: "7-alpine".to_owned(),
            registry: None,
            source: None,
            password: None,
            settings: Vec::new(),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

/// Settings every test server gets unless overridden.
const TEST_DEFAULTS: [(&str, &str); 6] = [
    ("bind", "0.0.0.0"),
    ("protected-mode", "no"),
    ("save", "\"\""),
    ("appendonly", "no"),
    ("dir", "/data"),
    ("databases", "1024"),
];

impl Redis {
    /// The official image's tag (default `7-alpine`); the host binary is whatever
    /// version the host has.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    /// The official image's whole reference, for a mirror or a private registry
    /// (default `redis:<tag>`).
    pub fn registry(mut self, reference: impl Into<String>) -> Self {
        self.registry = Some(reference.into());
        self
    }

    /// Where the image comes from, overriding `TESTDOCK_SERVICES`.
    pub fn source(mut self, source: ServiceSource) -> Self {
        self.source = Some(source);
        self
    }

    /// Requires this password (`requirepass`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// A `redis.conf` directive (`maxmemory 64mb`, `maxmemory-policy allkeys-lru`),
    /// written as `key value` after the defaults (a later one wins).
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Limit for the start (default 30 s).
    pub fn startup_timeout(mut self, limit: Duration) -> Self {
        self.startup_timeout = limit;
        self
    }

    /// Starts a server of its own, removed when the handle is dropped.
    pub async fn start(self) -> Result<RedisServer> {
        start(self).await
    }

    /// `redis.conf`: the defaults, the settings, the password.
    fn conf(&self) -> String {
        let mut out = String::from("# written by testdock\nport 6379\n");
        for (key, value) in TEST_DEFAULTS {
            if !self.settings.iter().any(|(k, _)| k == key) {
                out.push_str(&format!("{key} {value}\n"));
            }
        }
        for (key, value) in &self.settings {
            out.push_str(&format!("{key} {value}\n"));
        }
        if let Some(password) = &self.password {
            out.push_str(&format!("requirepass {}\n", conf_quote(password)));
        }
        out
    }

    /// Commands that authenticate a connection (none without a password).
    pub(crate) fn auth(&self) -> Vec<u8> {
        match &self.password {
            Some(password) => command(&["AUTH", password]),
            None => Vec::new(),
        }
    }

    fn choice(&self) -> ImageChoice {
        let image = HostImage::new()
            .binary_at(HOST_BINARY, "/usr/local/bin/redis-server")
            .file(InjectFile::dir("/data").owner(999, 999))
            .user_account("redis", 999, "/data")
            .default_user("redis")
            .default_workdir("/data")
            .default_env("PATH", "/usr/local/bin")
            .default_cmd(["redis-server"]);
        let official = self
            .registry
            .clone()
            .unwrap_or_else(|| format!("redis:{}", self.tag));
        ImageChoice::new("Redis", official).host(
            image,
            [HOST_BINARY],
            "apt-get install redis-server",
        )
    }

    fn spec_for(&self, image: crate::image::ImageSource) -> Result<ContainerSpec> {
        if let Some((key, _)) = self.settings.iter().find(|(k, v)| {
            k.trim().is_empty() || k.contains(char::is_whitespace) || v.contains('\n')
        }) {
            return Err(Error::InvalidInput {
                container: "(not created) Redis".to_owned(),
                message: format!("the redis.conf setting {key:?} is not one directive on one line"),
            });
        }
        let mut ping = self.auth();
        ping.extend(command(&["PING"]));
        Ok(ContainerSpec::new(image)
            .name_prefix("testdock-redis")
            .file(InjectFile::from_bytes(CONF_PATH, self.conf()).mode(0o644))
            .cmd(["redis-server", CONF_PATH])
            .expose(PORT)
            .wait_for(exchange_probe(PORT, ping, "+PONG"))
            .startup_timeout(self.startup_timeout))
    }
}

/// A RESP command (an array of bulk strings): safe for any bytes in the arguments.
pub(crate) fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{arg}\r\n", arg.len()).bytes());
    }
    out
}

/// A `redis.conf` argument: double-quoted, with `\` and `"` escaped.
fn conf_quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Service for Redis {
    type Server = RedisServer;

    async fn spec(&self) -> Result<ContainerSpec> {
        let image = self.choice().choose(self.source).await?;
        self.spec_for(image)
    }

    fn server(self, container: ServiceContainer) -> Result<RedisServer> {
        let addr = container.addr(PORT)?;
        Ok(RedisServer {
            config: self,
            container,
            addr,
        })
    }
}

/// A running Redis server.
#[derive(Debug)]
pub struct RedisServer {
    config: Redis,
    container: ServiceContainer,
    addr: SocketAddr,
}

impl RedisServer {
    /// The container it runs in.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// The host address of its port 6379.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configured password, if any.
    pub fn password(&self) -> Option<&str> {
        self.config.password.as_deref()
    }

    /// `redis://[:password@]host:port/0`.
    pub fn url(&self) -> String {
        self.url_for(0)
    }

    pub(crate) fn url_for(&self, db: u32) -> String {
        let auth = match &self.config.password {
            Some(p) => format!(":{}@", super::percent_encode(p)),
            None => String::new(),
        };
        format!("redis://{auth}{}/{db}", self.addr)
    }

    /// The number of logical databases it has.
    pub(crate) fn databases(&self) -> u32 {
        let setting = self
            .config
            .settings
            .iter()
            .rev()
            .find(|(k, _)| k == "databases");
        setting.and_then(|(_, v)| v.parse().ok()).unwrap_or(1024)
    }

    /// Sends `commands` (authenticated first, then a `PING`) and reads the answers
    /// until its `PONG`: for the few commands testdock sends itself.
    pub(crate) async fn send(&self, commands: &[&[&str]]) -> Result<Vec<u8>> {
        let mut request = self.config.auth();
        for c in commands {
            request.extend(command(c));
        }
        request.extend(command(&["PING"]));
        super::exchange(self.addr, &request, b"+PONG\r\n")
            .await
            .map_err(|e| Error::Service {
                service: "Redis".to_owned(),
                container: self.container.name().to_owned(),
                action: format!(
                    "sending {}",
                    commands.iter().map(|c| c[0]).collect::<Vec<_>>().join(", ")
                ),
                message: e.to_string(),
                logs: None,
            })
    }

    /// Removes its container now (when it is its own; a shared one stays for the run).
    pub async fn remove(self) -> Result<()> {
        self.container.remove().await
    }
}

/// A `RedisServer` argument: a server of the test's own, `Redis::default()`.
impl Fixture for RedisServer {
    async fn setup(ctx: &TestContext) -> Result<Self> {
        start_for_test(Redis::default(), ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_has_test_defaults_settings_and_password() {
        let conf = Redis::default()
            .setting("maxmemory", "64mb")
            .setting("databases", "16")
            .password("p\"w")
            .conf();
        assert!(conf.contains("save \"\"\n"), "{conf}");
        assert!(conf.contains("maxmemory 64mb\n"), "{conf}");
        assert!(
            conf.contains("databases 16\n") && !conf.contains("databases 1024"),
            "{conf}"
        );
        assert!(conf.ends_with("requirepass \"p\\\"w\"\n"), "{conf}");
        assert_eq!(
            command(&["AUTH", "a b"]),
            b"*2\r\n$4\r\nAUTH\r\n$3\r\na b\r\n"
        );
        let err = Redis::default()
            .setting("max memory", "1")
            .spec_for("redis:7".into());
        assert!(err.is_err());
    }
}
