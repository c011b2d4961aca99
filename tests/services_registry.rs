//! Services from a registry: the image made from host binaries, pushed to a local
//! registry (Debian's `docker-registry`) under the official name, is pulled and run by
//! the registry source with the official image's contract (`POSTGRES_*` variables,
//! init scripts, arguments; memcached's `memcached -m ...` command as the user
//! `memcache`); once on the daemon, `auto` takes it before host binaries.

mod common;
mod registry_support;

use testdock::services::memcached::Memcached;
use testdock::services::postgres::Postgres;
use testdock::services::redis::Redis;
use testdock::services::{Service, ServiceSource};
use testdock::ImageSource;

use registry_support::{has_image, push, rand_suffix, LocalRegistry};

/// The image `source: Host` makes for `service`, pushed as `<registry>/library/<name>`;
/// returns the pushed reference (not on the daemon any more).
async fn pushed<S: Service>(service: S, registry: &LocalRegistry, name: &str) -> String {
    let spec = service.spec().await.expect("the host image's spec");
    let local = spec
        .image()
        .prepare()
        .await
        .expect("the host image")
        .reference;
    let repo = format!("{}/library/{name}", registry.host);
    let tag = format!("alpine-{}", rand_suffix());
    push(&local, &repo, &tag, None).await;
    format!("{repo}:{tag}")
}

#[tokio::test]
async fn postgres_is_pulled_under_its_official_name_and_configured_by_its_variables() {
    let registry = LocalRegistry::start().await;
    let host = Postgres::default().source(ServiceSource::Host);
    let reference = pushed(host, &registry, "postgres").await;
    let absent_before = !has_image(&reference).await;
    let pg = Postgres::default()
        .registry(&reference)
        .source(ServiceSource::Registry)
        .user("app")
        .password("pw")
        .database("appdb")
        .init_sql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);")
        .start()
        .await
        .unwrap();
    let image = pg.container().image().to_owned();
    let count: i64 = pg
        .connect()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    pg.remove().await.unwrap();
    let auto = Postgres::default()
        .registry(&reference)
        .source(ServiceSource::Auto)
        .spec()
        .await
        .unwrap();
    let auto_image = auto.image().clone();
    common::remove_image(&reference).await;
    common::assert_nothing_left(&common::this_test()).await;
    assert!(absent_before, "the pushed image was still on the daemon");
    assert_eq!(image, reference);
    assert_eq!(count, 2, "POSTGRES_DB and the init script took effect");
    assert!(
        matches!(&auto_image, ImageSource::Local(l) if l.name() == reference),
        "auto takes the official image the daemon has: {auto_image:?}"
    );
}

#[tokio::test]
async fn redis_is_pulled_under_its_official_name() {
    let registry = LocalRegistry::start().await;
    let reference = pushed(
        Redis::default().source(ServiceSource::Host),
        &registry,
        "redis",
    )
    .await;
    let server = Redis::default()
        .registry(&reference)
        .source(ServiceSource::Registry)
        .password("pw")
        .start()
        .await
        .unwrap();
    let image = server.container().image().to_owned();
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    drop(con);
    server.remove().await.unwrap();
    common::remove_image(&reference).await;
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(image, reference);
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn memcached_is_pulled_under_its_official_name() {
    let registry = LocalRegistry::start().await;
    let reference = pushed(
        Memcached::default().source(ServiceSource::Host),
        &registry,
        "memcached",
    )
    .await;
    let server = Memcached::default()
        .registry(&reference)
        .source(ServiceSource::Registry)
        .memory_mb(8)
        .start()
        .await
        .unwrap();
    let image = server.container().image().to_owned();
    let settings = server.stats("settings").await.unwrap();
    server.remove().await.unwrap();
    common::remove_image(&reference).await;
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(image, reference);
    assert_eq!(settings["maxbytes"], (8 * 1024 * 1024).to_string());
}
