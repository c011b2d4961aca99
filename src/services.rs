//! Services in one line: PostgreSQL, Redis and memcached, from the official image or
//! the host's binaries, ready when they answer their own protocol.
//!
//! ## Picking a service
//!
//! Each service is a configuration ([`postgres::Postgres`], [`redis::Redis`],
//! [`memcached::Memcached`]) and the handle of a running server
//! ([`postgres::PostgresServer`], [`redis::RedisServer`],
//! [`memcached::MemcachedServer`]), used three ways:
//!
//! | how | what you write | the server |
//! |---|---|---|
//! | an argument of a [`container_test`](crate::container_test) | `pg: PostgresServer` | the test's own, default config, removed with the test |
//! | the fixture API | `Postgres::default().password("x").start().await?` | its own, removed when the handle drops |
//! | shared by the run | `static PG: SharedService<Postgres> = SharedService::new("pg", Postgres::default);` then `PG.get().await?` | one per test binary (per session under nextest), removed when the run ends |
//!
//! A server per test costs a container start each (PostgreSQL from host binaries:
//! 1.7 s to ready on a loaded 2-core machine); a shared server costs it once, and a
//! fresh database in it 74 ms (`cargo bench --bench services`: a 16-test suite ran
//! 9.7× faster). Tests sharing a server isolate themselves with a fresh database each: [`postgres::TestDatabase`] (a copy of a migrated
//! [`postgres::DatabaseTemplate`]), [`redis::TestRedis`] (a logical database) and
//! [`memcached::TestMemcached`] (a key prefix: memcached has no databases), all usable
//! as arguments and dropped after the test.
//!
//! ```no_run
//! use testdock::container_test;
//! use testdock::services::postgres::TestDatabase;
//!
//! #[container_test]
//! async fn writes_alone(db: TestDatabase) {
//!     let client = db.connect().await.unwrap();
//!     client.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)").await.unwrap();
//! }
//! ```
//!
//! ## Where the image comes from
//!
//! | [`ServiceSource`] | image |
//! |---|---|
//! | `auto` (default) | the official image if the daemon has it (`postgres:17-alpine`, `redis:7-alpine`, `memcached:1.6-alpine`); else the host's binaries (Debian's `postgresql-<major>`, `redis-server`, `memcached`) packed into an image; else the official image, pulled |
//! | `host` | the host's binaries only: no registry (air-gapped CI) |
//! | `registry` | the official image only, pulled if missing |
//!
//! Choose per service with its builder (`.source(ServiceSource::Host)`) or for the whole
//! run with `TESTDOCK_SERVICES=auto|host|registry`. When nothing works,
//! [`Error::ServiceUnavailable`](crate::Error::ServiceUnavailable) lists each source
//! tried, why it failed and the command that fixes it (`apt-get install
//! postgresql-16`, `docker pull postgres:16-alpine`). An image made from host binaries
//! honours the official image's contract (its environment variables, paths and
//! arguments), so a service's spec is the same whatever the source.
//!
//! | variable | effect |
//! |---|---|
//! | `TESTDOCK_SERVICES` | `auto`, `host` or `registry`: the image source of services whose builder does not choose |
//!
//! ## Writing a service
//!
//! A service of your own uses the same public pieces: [`Service`] (the config that
//! makes a [`ContainerSpec`](crate::ContainerSpec)), [`ImageChoice`] (official image or
//! host binaries, with [`HostImage::user_account`](crate::HostImage::user_account) for
//! programs that run as a user of their own), a readiness probe in its own protocol
//! ([`exchange_probe`] for text protocols, [`Probe::custom`](crate::Probe::custom)
//! otherwise), [`start`], [`start_for_test`] and [`SharedService`] for the three
//! ways to run it, and [`spawn_cleanup`] for a per-test handle that undoes its part of
//! a shared server when dropped.
//!
//! [`memcached`] is written with these public pieces alone (`testdock::` paths, no
//! `crate::`), and `tests/service_template.rs` compiles its file again from outside the
//! crate to prove it. The walkthrough that follows it step by step is
//! [`docs/writing_a_service.md`](https://github.com/testdock/testdock/blob/main/docs/writing_a_service.md).

pub mod memcached;
#[cfg(feature = "postgres")]
pub mod postgres;
mod ready;
pub mod redis;
mod service;
mod source;

pub use ready::{exchange, exchange_probe};
pub use service::{spawn_cleanup, start, start_for_test, Service, ServiceContainer, SharedService};
pub use source::{ImageChoice, ServiceSource, SOURCE_ENV};

/// Percent-encodes all but RFC 3986's unreserved characters (for URLs' user info).
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_encode_what_they_must() {
        assert_eq!(super::percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        assert_eq!(super::percent_encode("plain-1.2_~"), "plain-1.2_~");
    }
}
