//! Redis as a service, against the real daemon and with the `redis` crate: settings,
//! the password, and a server by type. Every test checks that it left nothing behind.

mod common;

use testdock::runner::{Fixture, TestMeta};
use testdock::services::redis::{Redis, RedisServer};

async fn connect(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

#[tokio::test]
async fn settings_and_the_password_take_effect() {
    let server = Redis::default()
        .password("pw with spaces")
        .setting("maxmemory", "64mb")
        .start()
        .await
        .unwrap();
    let mut con = connect(&server.url()).await.unwrap();
    let maxmemory: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query_async(&mut con)
        .await
        .unwrap();
    let save: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query_async(&mut con)
        .await
        .unwrap();
    let wrong = format!("redis://:wrong@{}/0", server.addr());
    let wrong = connect(&wrong).await.err().map(|e| e.to_string());
    let anonymous = async {
        let mut con = connect(&format!("redis://{}/0", server.addr())).await?;
        redis::cmd("GET")
            .arg("k")
            .query_async::<Option<String>>(&mut con)
            .await
    }
    .await
    .err()
    .map(|e| e.to_string());
    drop(con);
    server.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(maxmemory, ["maxmemory", "67108864"]);
    assert_eq!(save, ["save", ""], "no persistence in a test server");
    let wrong = wrong.expect("a wrong password is refused");
    assert!(wrong.contains("authentication failed"), "{wrong}");
    let anonymous = anonymous.expect("no password, no access");
    assert!(anonymous.contains("NOAUTH"), "{anonymous}");
}

#[tokio::test]
async fn a_setting_on_two_lines_is_refused_before_anything_starts() {
    let err = Redis::default()
        .setting("maxmemory", "1mb\nslaveof evil 6379")
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    assert!(matches!(err, testdock::Error::InvalidInput { .. }), "{err}");
}

/// What `#[container_test] async fn t(redis: RedisServer)` expands to, by hand, so
/// that the test can check afterwards that the runner removed the server.
#[test]
fn a_server_by_type_alone_goes_with_its_test() {
    let meta = TestMeta::new(
        concat!(module_path!(), "::server_by_type"),
        file!(),
        line!(),
    );
    common::run_then_assert_nothing_left(meta, |ctx| async move {
        let server = RedisServer::setup(&ctx).await?;
        let mut con = connect(&server.url()).await.unwrap();
        let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
        assert_eq!(pong, "PONG");
        Ok(())
    });
}
