//! memcached as a service, against the real daemon and with the `memcache` crate:
//! settings, set/get, bad input, the registry source, a server by type, and keys per
//! test in a shared server under parallel tests. Every test checks that it left
//! nothing behind.

mod common;

use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use testdock::container_test;
use testdock::runner::{run_test, Fixture, TestMeta};
use testdock::services::memcached::{Memcached, MemcachedServer, TestMemcached};
use testdock::services::ServiceSource;

/// The `memcache` crate's client is blocking: each call runs on the blocking pool.
async fn client<T: Send + 'static>(
    url: String,
    f: impl FnOnce(memcache::Client) -> Result<T, memcache::MemcacheError> + Send + 'static,
) -> Result<T, memcache::MemcacheError> {
    tokio::task::spawn_blocking(move || f(memcache::connect(url.as_str())?))
        .await
        .expect("the client call panicked")
}

#[tokio::test]
async fn settings_take_effect_and_the_client_sets_and_gets() {
    let server = Memcached::default()
        .memory_mb(16)
        .max_connections(99)
        .setting("hashpower", "12")
        .args(["-t", "2"])
        .start()
        .await
        .unwrap();
    let settings = server.stats("settings").await.unwrap();
    let general = server.stats("").await.unwrap();
    let got = client(server.url(), |c| {
        c.set("greeting", "hello", 0)?;
        c.get::<String>("greeting")
    })
    .await;
    server.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(settings["maxbytes"], (16 * 1024 * 1024).to_string());
    assert_eq!(settings["maxconns"], "99");
    assert_eq!(settings["hashpower_init"], "12");
    assert_eq!(settings["num_threads"], "2");
    assert!(general["version"].starts_with("1."), "{general:?}");
    assert_eq!(got.unwrap().as_deref(), Some("hello"));
}

#[tokio::test]
async fn an_unknown_flag_fails_fast_with_the_last_log_lines() {
    let started = Instant::now();
    let err = Memcached::default()
        .args(["--no-such-flag"])
        .start()
        .await
        .unwrap_err();
    let took = started.elapsed();
    common::assert_nothing_left(&common::this_test()).await;
    let text = err.to_string();
    assert!(matches!(err, testdock::Error::Exited { .. }), "{text}");
    assert!(
        text.contains("unrecognized option '--no-such-flag'"),
        "memcached's own message: {text}"
    );
    assert!(
        took < Duration::from_secs(15),
        "not at the timeout: {took:?}"
    );
}

#[tokio::test]
async fn a_setting_that_is_not_one_option_is_refused_before_anything_starts() {
    let err = Memcached::default()
        .setting("hashpower", "12,maxconns_fast")
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    assert!(matches!(err, testdock::Error::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn the_registry_source_never_falls_back_to_host_binaries() {
    // A registry that refuses connections: the pull fails at once, offline too.
    let err = Memcached::default()
        .registry("127.0.0.1:1/library/memcached:1.6-alpine")
        .source(ServiceSource::Registry)
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1:1/library/memcached:1.6-alpine"),
        "{text}"
    );
    assert!(!text.contains("testdock/host"), "no host image: {text}");
}

#[tokio::test]
async fn missing_host_binaries_say_what_was_tried_and_how_to_fix_each() {
    let missing = || {
        Memcached::default()
            .host_binary("/nonexistent/memcached")
            .registry("127.0.0.1:1/library/memcached:1.6-alpine")
    };
    let auto = missing()
        .source(ServiceSource::Auto)
        .start()
        .await
        .unwrap_err();
    let host = missing()
        .source(ServiceSource::Host)
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    common::assert_unavailable(
        &auto,
        &host,
        &[
            "`127.0.0.1:1/library/memcached:1.6-alpine` on the daemon: not there",
            "`/nonexistent/memcached` not found (fix: `apt-get install memcached`)",
            "pulling `127.0.0.1:1/library/memcached:1.6-alpine`",
        ],
        "apt-get install memcached",
    );
}

/// What `#[container_test] async fn t(mc: MemcachedServer)` expands to, by hand, so
/// that the test can check afterwards that the runner removed the server.
#[test]
fn a_server_by_type_alone_goes_with_its_test() {
    let meta = TestMeta::new(
        concat!(module_path!(), "::server_by_type"),
        file!(),
        line!(),
    );
    common::run_then_assert_nothing_left(meta, |ctx| async move {
        let server = MemcachedServer::setup(&ctx).await?;
        assert!(server.url().starts_with("memcache://127.0.0.1:"));
        let version = client(server.url(), |c| c.version()).await.unwrap();
        assert!(version[0].1.starts_with("1."), "{version:?}");
        Ok(())
    });
}

static WRITTEN: AtomicUsize = AtomicUsize::new(0);

/// Sets the logical key `shared-key` to `who`, waits for the other writer, and reads
/// its own value back.
async fn write_then_read_key(mc: TestMemcached, who: &'static str) {
    let key = mc.key("shared-key");
    client(mc.url(), move |c| c.set(&key, who, 0))
        .await
        .unwrap();
    common::meet(&WRITTEN, 2).await;
    let key = mc.key("shared-key");
    let seen = client(mc.url(), move |c| c.get::<String>(&key)).await;
    assert_eq!(seen.unwrap().as_deref(), Some(who));
}

#[container_test]
async fn writer_a(mc: TestMemcached) {
    write_then_read_key(mc, "a").await;
}

#[container_test]
async fn writer_b(mc: TestMemcached) {
    write_then_read_key(mc, "b").await;
}

#[test]
fn a_tests_keys_are_deleted_after_it_also_when_it_panics() {
    static KEY: std::sync::Mutex<(String, String)> =
        std::sync::Mutex::new((String::new(), String::new()));
    let id = concat!(module_path!(), "::panicking");
    let outcome = std::panic::catch_unwind(|| {
        run_test(TestMeta::new(id, file!(), line!()), |ctx| async move {
            let mc = TestMemcached::setup(&ctx).await?;
            let key = mc.key("left:over");
            *KEY.lock().unwrap() = (mc.url(), key.clone());
            let stored = client(mc.url(), move |c| {
                c.set(&key, "x", 0)?;
                c.get::<String>(&key)
            })
            .await;
            assert_eq!(stored.unwrap().as_deref(), Some("x"));
            panic!("deliberate");
            #[allow(unreachable_code)]
            Ok(())
        })
    });
    assert!(outcome.is_err(), "the test failed");
    let (url, key) = KEY.lock().unwrap().clone();
    assert!(
        key.starts_with("test_") && key.ends_with(":left:over"),
        "{key}"
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (url, probe) = (url.clone(), key.clone());
            let found = client(url, move |c| c.get::<String>(&probe)).await.unwrap();
            if found.is_none() {
                break;
            }
            assert!(Instant::now() < deadline, "{key} still there after 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        common::assert_nothing_left(id).await;
    });
}
