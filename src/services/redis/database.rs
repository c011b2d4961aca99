//! A logical database of one test in a shared Redis: [`TestRedis`] takes the next free
//! index (counted by the server itself, so processes sharing it under nextest never
//! collide) and flushes it when dropped.

use super::{RedisServer, SHARED};
use crate::error::{Error, Result};
use crate::runner::{Fixture, TestContext};

/// The key in database 0 that hands out database indexes.
const COUNTER: &str = "testdock:next-db";

/// A logical database (`SELECT <index>`) of one test in a shared server, flushed in
/// the background when dropped (after the test, also when it panics). Indexes run from
/// 1 to the server's `databases` minus one (1023 by default), then wrap around; the
/// server is removed when the run ends in any case. [`prefix`](Self::prefix) is a key
/// prefix unique to the test too, for code that cannot choose its database.
#[derive(Debug)]
pub struct TestRedis {
    server: &'static RedisServer,
    db: u32,
    prefix: String,
}

impl TestRedis {
    /// A fresh database in `server`.
    pub async fn create(server: &'static RedisServer) -> Result<TestRedis> {
        let answer = server.send(&[&["INCR", COUNTER]]).await?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let databases = u64::from(server.databases()).saturating_sub(1).max(1);
        let parse = || -> Option<u32> {
            let count: u64 = text
                .lines()
                .find_map(|l| l.strip_prefix(':'))?
                .trim()
                .parse()
                .ok()?;
            Some((1 + (count.max(1) - 1) % databases) as u32)
        };
        let db = parse().ok_or_else(|| Error::Service {
            service: "Redis".to_owned(),
            container: server.container().name().to_owned(),
            action: "choosing a database for the test".to_owned(),
            message: format!("unexpected answer {text:?}"),
            logs: None,
        })?;
        Ok(TestRedis {
            server,
            db,
            prefix: format!("{}:", crate::shared::unique_name("test")),
        })
    }

    /// Its index, for `SELECT`.
    pub fn db(&self) -> u32 {
        self.db
    }

    /// A key prefix no other test uses (`test_<hex>:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `redis://[:password@]host:port/<index>`.
    pub fn url(&self) -> String {
        self.server.url_for(self.db)
    }

    /// The server it is in.
    pub fn server(&self) -> &'static RedisServer {
        self.server
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (server, db) = (self.server, self.db.to_string());
        let flush = async move {
            if let Err(e) = server.send(&[&["SELECT", &db], &["FLUSHDB"]]).await {
                tracing::warn!(db = %db, error = %e, "could not flush the test's Redis database");
            }
        };
        crate::services::spawn_cleanup(flush);
    }
}

/// A `TestRedis` argument: a fresh database in [`SHARED`].
impl Fixture for TestRedis {
    async fn setup(_: &TestContext) -> Result<Self> {
        TestRedis::create(SHARED.get().await?).await
    }
}
