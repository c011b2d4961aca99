//! PostgreSQL as a service, against the real daemon: configuration, authentication,
//! init scripts, bad input, and the three ways to run it. Every test checks that it
//! left nothing behind.

mod common;

use testdock::runner::{Fixture, TestMeta};
use testdock::services::postgres::{Postgres, PostgresServer};
use testdock::services::ServiceSource;

/// PostgreSQL's own message in a client error (its `Display` says only "db error").
fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_owned())
}

/// The value of `SHOW <setting>`.
async fn show(client: &tokio_postgres::Client, setting: &str) -> String {
    let row = client
        .query_one(&format!("SHOW {setting}"), &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn config_auth_and_init_sql_take_effect() {
    let pg = Postgres::default()
        .user("app")
        .password("s3cret:/@")
        .database("appdb")
        .setting("max_connections", "42")
        .init_sql("CREATE TABLE seeded (x int); INSERT INTO seeded VALUES (7);")
        .start()
        .await
        .unwrap();
    let (client, connection) =
        tokio_postgres::connect(&pg.connection_string(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let fsync = show(&client, "fsync").await;
    let sync_commit = show(&client, "synchronous_commit").await;
    let max_conn = show(&client, "max_connections").await;
    let seeded: i32 = client
        .query_one("SELECT x FROM seeded", &[])
        .await
        .unwrap()
        .get(0);
    let db: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    let via_url = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .is_ok();
    let wrong = tokio_postgres::Config::new()
        .host(pg.host())
        .port(pg.port())
        .user("app")
        .password("wrong")
        .dbname("appdb")
        .connect(tokio_postgres::NoTls)
        .await
        .err()
        .map(|e| db_message(&e));
    drop(client);
    pg.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!((fsync.as_str(), sync_commit.as_str()), ("off", "off"));
    assert_eq!(max_conn, "42");
    assert_eq!((seeded, db.as_str()), (7, "appdb"));
    assert!(via_url, "the url connects");
    let wrong = wrong.expect("a wrong password is refused");
    assert!(wrong.contains("password authentication failed"), "{wrong}");
}

#[tokio::test]
async fn hba_lines_come_first_and_trust_is_opt_in() {
    let pg = Postgres::default()
        .trust()
        .hba_line("host all reader all reject")
        .init_sql("CREATE ROLE reader LOGIN")
        .start()
        .await
        .unwrap();
    let login = |user: &str| {
        let mut config = tokio_postgres::Config::new();
        config
            .host(pg.host())
            .port(pg.port())
            .user(user)
            .password("anything")
            .dbname("postgres");
        config
    };
    let trusted = login("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .is_ok();
    let rejected = login("reader")
        .connect(tokio_postgres::NoTls)
        .await
        .err()
        .map(|e| db_message(&e));
    pg.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert!(trusted, "trust lets any password in");
    let rejected = rejected.expect("the reject line applies");
    assert!(
        rejected.contains("pg_hba.conf rejects connection"),
        "{rejected}"
    );
}

#[tokio::test]
async fn a_broken_init_script_fails_with_the_statement_and_the_server_log() {
    let err = Postgres::default()
        .init_script(
            "seed",
            "CREATE TABLE a (x int);\nINSERT INTO missing_table VALUES (1);\n",
        )
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    let text = err.to_string();
    assert!(matches!(err, testdock::Error::Exited { .. }), "{text}");
    assert!(text.contains("001-seed.sql"), "names the script: {text}");
    assert!(
        text.contains(r#"relation "missing_table" does not exist"#),
        "the server's message: {text}"
    );
    assert!(
        text.contains("STATEMENT:  INSERT INTO missing_table VALUES (1);"),
        "the failing statement, from the server log: {text}"
    );
}

#[tokio::test]
async fn a_pg_hba_line_postgres_rejects_is_a_clear_error() {
    let err = Postgres::default()
        .hba_line("hostx all all all trust")
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    let text = err.to_string();
    assert!(
        text.contains(r#"invalid connection type "hostx""#),
        "{text}"
    );
    assert!(text.contains("pg_hba.conf"), "{text}");
}

#[tokio::test]
async fn an_unknown_version_says_what_was_tried_and_how_to_fix_each() {
    let auto = Postgres::default()
        .version(99)
        .source(ServiceSource::Auto)
        .start()
        .await
        .unwrap_err();
    let host = Postgres::default()
        .version(99)
        .source(ServiceSource::Host)
        .start()
        .await
        .unwrap_err();
    common::assert_nothing_left(&common::this_test()).await;
    common::assert_unavailable(
        &auto,
        &host,
        &[
            "PostgreSQL 99",
            "`postgres:99-alpine` on the daemon: not there",
            "docker pull postgres:99-alpine",
            "`/usr/lib/postgresql/99/bin/postgres`",
            "apt-get install postgresql-99",
            "pulling `postgres:99-alpine`",
        ],
        "apt-get install postgresql-99",
    );
}

/// What `#[container_test] async fn t(pg: PostgresServer)` expands to, by hand, so
/// that the test can check afterwards that the runner removed the server.
#[test]
fn a_server_by_type_alone_goes_with_its_test() {
    let meta = TestMeta::new(
        concat!(module_path!(), "::server_by_type"),
        file!(),
        line!(),
    );
    common::run_then_assert_nothing_left(meta, |ctx| async move {
        let pg = PostgresServer::setup(&ctx).await?;
        let client = pg.connect().await?;
        let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
        assert_eq!(one, 1);
        assert!(
            pg.url().starts_with("postgres://postgres:postgres@"),
            "{}",
            pg.url()
        );
        Ok(())
    });
}

#[tokio::test]
async fn a_snapshot_of_a_seeded_server_starts_with_its_data() {
    let seeded = Postgres::default()
        .keep_data_in_layer()
        .init_sql("CREATE TABLE t (x int); INSERT INTO t VALUES (42);")
        .start()
        .await
        .unwrap();
    seeded.container().stop().await.unwrap();
    let tag = common::unique();
    let snapshot = seeded
        .container()
        .commit("testdock-test/pg-seeded", &tag, &[])
        .await
        .unwrap();
    seeded.remove().await.unwrap();
    let pg = Postgres::default()
        .keep_data_in_layer()
        .image(testdock::LocalImage::new(format!(
            "testdock-test/pg-seeded:{tag}"
        )))
        .start()
        .await
        .unwrap();
    let x: i32 = pg
        .connect()
        .await
        .unwrap()
        .query_one("SELECT x FROM t", &[])
        .await
        .unwrap()
        .get(0);
    let logs = pg.container().logs().await.unwrap();
    let logs = format!("{}{}", logs.stdout, logs.stderr);
    pg.remove().await.unwrap();
    testdock::remove_image(&format!("testdock-test/pg-seeded:{tag}"))
        .await
        .unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert!(!snapshot.is_empty());
    assert_eq!(x, 42);
    assert!(
        !logs.contains("creating subdirectories"),
        "no initdb from a snapshot: {logs}"
    );
}
