//! Redis as a service, offline: from the host's `redis-server` when the daemon has no
//! `redis` image, ready when `PING` answers (after `AUTH`).
//!
//! 1. A server of its own with a password and a `redis.conf` setting, used with the
//!    `redis` crate.
//! 2. A shared server and a logical database per test: two "tests" set the same key
//!    and each reads back its own value.
//!
//! Run it with `cargo run --example redis` (Debian: `apt-get install redis-server`; or
//! `TESTDOCK_SERVICES=registry` to pull `redis:7-alpine`).

use std::time::Instant;

use testdock::services::redis::{Redis, TestRedis, SHARED};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A server of its own.
    let started = Instant::now();
    let server = Redis::default()
        .password("secret")
        .setting("maxmemory", "32mb")
        .setting("maxmemory-policy", "allkeys-lru")
        .start()
        .await?;
    println!("Redis ready in {:?} at {}", started.elapsed(), server.url());
    let mut con = redis::Client::open(server.url())?
        .get_multiplexed_async_connection()
        .await?;
    let maxmemory: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query_async(&mut con)
        .await?;
    println!("  CONFIG GET maxmemory: {maxmemory:?}");
    drop(con);
    server.remove().await?;

    // 2. A shared server, a database per test.
    let server = SHARED.get().await?;
    let (a, b) = futures::try_join!(TestRedis::create(server), TestRedis::create(server))?;
    let (seen_a, seen_b) =
        futures::try_join!(set_and_get(&a, "from a"), set_and_get(&b, "from b"))?;
    println!(
        "  db {} reads {seen_a:?}, db {} reads {seen_b:?}",
        a.db(),
        b.db()
    );
    Ok(())
}

/// Sets `greeting` to `value` in the test's database and reads it back.
async fn set_and_get(db: &TestRedis, value: &str) -> redis::RedisResult<String> {
    let mut con = redis::Client::open(db.url())?
        .get_multiplexed_async_connection()
        .await?;
    let () = redis::cmd("SET")
        .arg("greeting")
        .arg(value)
        .query_async(&mut con)
        .await?;
    redis::cmd("GET")
        .arg("greeting")
        .query_async(&mut con)
        .await
}
