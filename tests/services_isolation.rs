//! A fresh database per test in a shared server: tests running at the same time write
//! the same table (PostgreSQL) and the same key (Redis) and never see each other's
//! writes; a test's database is gone after the test, also when it panics.

mod common;

use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testdock::container_test;
use testdock::runner::{run_test, Fixture, TestContext, TestMeta};
use testdock::services::postgres::{DatabaseTemplate, TestDatabase, SHARED};
use testdock::services::redis::TestRedis;

static APP: DatabaseTemplate = DatabaseTemplate::new(
    &SHARED,
    "isolation",
    &[
        "CREATE TABLE items (owner text NOT NULL)",
        "INSERT INTO items VALUES ('seed')",
    ],
);

async fn app_db(_: &TestContext) -> testdock::Result<TestDatabase> {
    APP.database().await
}

static PG_WRITTEN: AtomicUsize = AtomicUsize::new(0);

async fn write_then_read_items(db: TestDatabase, who: &str) {
    let client = db.connect().await.unwrap();
    client
        .execute("INSERT INTO items VALUES ($1)", &[&who])
        .await
        .unwrap();
    common::meet(&PG_WRITTEN, 2).await;
    let rows = client
        .query("SELECT owner FROM items ORDER BY owner", &[])
        .await
        .unwrap();
    let owners: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(owners, [who, "seed"], "only the seed and this test's row");
}

#[container_test]
async fn postgres_writer_a(#[from(app_db)] db: TestDatabase) {
    write_then_read_items(db, "a").await;
}

#[container_test]
async fn postgres_writer_b(#[from(app_db)] db: TestDatabase) {
    write_then_read_items(db, "b").await;
}

static REDIS_WRITTEN: AtomicUsize = AtomicUsize::new(0);

async fn write_then_read_key(db: TestRedis, who: &str) {
    let client = redis::Client::open(db.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET")
        .arg("shared-key")
        .arg(who)
        .query_async(&mut con)
        .await
        .unwrap();
    common::meet(&REDIS_WRITTEN, 2).await;
    let seen: String = redis::cmd("GET")
        .arg("shared-key")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(seen, who);
}

#[container_test]
async fn redis_writer_a(db: TestRedis) {
    write_then_read_key(db, "a").await;
}

#[container_test]
async fn redis_writer_b(db: TestRedis) {
    write_then_read_key(db, "b").await;
}

/// Whether the shared server still has database `name`.
async fn database_exists(name: &str) -> bool {
    let client = SHARED.get().await.unwrap().connect().await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    row.get::<_, i64>(0) == 1
}

#[test]
fn a_test_database_is_dropped_after_a_test_that_panics() {
    static NAME: Mutex<String> = Mutex::new(String::new());
    let id = concat!(module_path!(), "::panicking");
    let outcome = std::panic::catch_unwind(|| {
        run_test(TestMeta::new(id, file!(), line!()), |ctx| async move {
            let db = TestDatabase::setup(&ctx).await?;
            *NAME.lock().unwrap() = db.name().to_owned();
            db.connect()
                .await?
                .batch_execute("CREATE TABLE t (x int)")
                .await
                .unwrap();
            panic!("deliberate");
            #[allow(unreachable_code)]
            Ok(())
        })
    });
    assert!(outcome.is_err(), "the test failed");
    let name = NAME.lock().unwrap().clone();
    assert!(name.starts_with("test_"), "{name}");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while database_exists(&name).await {
            assert!(Instant::now() < deadline, "{name} still there after 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        common::assert_nothing_left(id).await;
    });
}

#[tokio::test]
async fn a_broken_migration_names_itself_and_is_tried_again() {
    static BROKEN: DatabaseTemplate = DatabaseTemplate::new(
        &SHARED,
        "broken",
        &["CREATE TABLE ok (x int)", "INSERT INTO nowhere VALUES (1)"],
    );
    let first = BROKEN.database().await.unwrap_err().to_string();
    let again = BROKEN.database().await.unwrap_err().to_string();
    assert!(
        first.contains("migration 2 of template `broken`"),
        "{first}"
    );
    assert!(
        first.contains(r#"relation "nowhere" does not exist"#),
        "{first}"
    );
    assert_eq!(first, again);
}
