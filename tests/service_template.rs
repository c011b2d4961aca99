//! A service written with testdock's public API alone: `src/services/memcached.rs`
//! (with its submodule `memcached/keys.rs`), compiled here a second time as a module of
//! this test crate, outside testdock. If
//! it used anything private (`crate::` paths, `pub(crate)` items), this target would
//! not build. Its copy is then used against the daemon, the three ways a service runs.

mod common;

#[path = "../src/services/memcached.rs"]
#[allow(dead_code, unreachable_pub)]
mod memcached;

use memcached::{Memcached, MemcachedServer, TestMemcached};
use testdock::runner::{Fixture, TestMeta};

/// `request` sent to `addr` in memcached's text protocol, answered up to `until`.
async fn talk(addr: std::net::SocketAddr, request: &str, until: &str) -> String {
    let answer = testdock::services::exchange(addr, request.as_bytes(), until.as_bytes())
        .await
        .unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn the_copy_outside_the_crate_starts_sets_and_gets() {
    let server = Memcached::default().memory_mb(8).start().await.unwrap();
    let stored = talk(server.addr(), "set k 0 0 5\r\nhello\r\n", "\r\n").await;
    let got = talk(server.addr(), "get k\r\n", "END\r\n").await;
    let settings = server.stats("settings").await.unwrap();
    server.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(stored, "STORED\r\n");
    assert_eq!(got, "VALUE k 0 5\r\nhello\r\nEND\r\n");
    assert_eq!(settings["maxbytes"], (8 * 1024 * 1024).to_string());
}

/// The copy's `Fixture` impls, through the runner: a server of the test's own, and
/// keys in the copy's shared server.
#[test]
fn the_copys_fixtures_run_under_the_runner() {
    let meta = TestMeta::new(concat!(module_path!(), "::fixtures"), file!(), line!());
    common::run_then_assert_nothing_left(meta, |ctx| async move {
        let (own, keys) =
            futures::try_join!(MemcachedServer::setup(&ctx), TestMemcached::setup(&ctx))?;
        let set = format!("set {} 0 0 1\r\n1\r\n", keys.key("n"));
        assert_eq!(talk(keys.addr(), &set, "\r\n").await, "STORED\r\n");
        assert_ne!(
            own.addr(),
            keys.addr(),
            "its own server is not the shared one"
        );
        Ok(())
    });
}
