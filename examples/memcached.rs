//! memcached as a service, offline: from the host's `memcached` when the daemon has no
//! `memcached` image, ready when `version` answers.
//!
//! 1. A server of its own with a memory limit and a connection limit, used with the
//!    `memcache` crate; the limits read back from `stats settings`.
//! 2. A shared server and a key prefix per test: two "tests" set the same logical key
//!    and each reads back its own value.
//!
//! Run it with `cargo run --example memcached` (Debian: `apt-get install memcached`; or
//! `TESTDOCK_SERVICES=registry` to pull `memcached:1.6-alpine`).

use std::time::Instant;

use testdock::services::memcached::{Memcached, TestMemcached, SHARED};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. A server of its own.
    let started = Instant::now();
    let server = Memcached::default()
        .memory_mb(16)
        .max_connections(128)
        .start()
        .await?;
    println!(
        "memcached ready in {:?} at {}",
        started.elapsed(),
        server.url()
    );
    let settings = server.stats("settings").await?;
    println!(
        "  maxbytes {}, maxconns {}",
        settings["maxbytes"], settings["maxconns"]
    );
    let url = server.url();
    let greeting = tokio::task::spawn_blocking(move || {
        let client = memcache::connect(url.as_str())?;
        client.set("greeting", "hello", 0)?;
        client.get::<String>("greeting")
    })
    .await??;
    println!("  get greeting: {greeting:?}");
    server.remove().await?;

    // 2. A shared server, a key prefix per test.
    let server = SHARED.get().await?;
    let (a, b) = (TestMemcached::new(server), TestMemcached::new(server));
    let (seen_a, seen_b) = (
        set_and_get(&a, "from a").await?,
        set_and_get(&b, "from b").await?,
    );
    println!(
        "  {} reads {seen_a:?}, {} reads {seen_b:?}",
        a.key("greeting"),
        b.key("greeting")
    );
    Ok(())
}

/// Sets the test's `greeting` to `value` and reads it back.
async fn set_and_get(mc: &TestMemcached, value: &'static str) -> Result<Option<String>, BoxError> {
    let (url, key) = (mc.url(), mc.key("greeting"));
    let got = tokio::task::spawn_blocking(move || {
        let client = memcache::connect(url.as_str())?;
        client.set(&key, value, 0)?;
        client.get::<String>(&key)
    })
    .await??;
    Ok(got)
}
