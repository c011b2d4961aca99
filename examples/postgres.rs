//! PostgreSQL as a service, offline: from the host's Debian binaries when the daemon
//! has no `postgres` image (no registry needed), ready when a real query succeeds.
//!
//! 1. A server of its own, configured and seeded by an init script, queried with
//!    `tokio-postgres`.
//! 2. A server shared by many tests, a template database migrated once, and a fresh
//!    copy of it per test: two "tests" write the same table at the same time and each
//!    sees only its own rows. Their databases are dropped when their handles are.
//!
//! Run it with `cargo run --example postgres` (Debian: `apt-get install postgresql`;
//! or `TESTDOCK_SERVICES=registry` to pull `postgres:<major>-alpine`).

use std::time::Instant;

use testdock::services::postgres::{DatabaseTemplate, Postgres, TestDatabase};
use testdock::services::SharedService;

static SERVER: SharedService<Postgres> = SharedService::new("example-postgres", Postgres::default);

static APP: DatabaseTemplate = DatabaseTemplate::new(
    &SERVER,
    "example",
    &[
        "CREATE TABLE notes (id serial PRIMARY KEY, author text NOT NULL, body text NOT NULL)",
        "INSERT INTO notes (author, body) VALUES ('seed', 'in every copy')",
    ],
);

#[tokio::main]
async fn main() -> testdock::Result<()> {
    // 1. A server of its own.
    let started = Instant::now();
    let pg = Postgres::default()
        .user("app")
        .password("secret")
        .database("app")
        .setting("max_connections", "20")
        .init_sql("CREATE TABLE users (id serial PRIMARY KEY, name text); INSERT INTO users (name) VALUES ('alice'), ('bob');")
        .start()
        .await?;
    println!(
        "PostgreSQL {} ready in {:?} at {}",
        pg.config().resolved_version(),
        started.elapsed(),
        pg.url()
    );
    let client = pg.connect().await?;
    let rows = client
        .query("SELECT name FROM users ORDER BY id", &[])
        .await
        .expect("query users");
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let fsync: String = client
        .query_one("SHOW fsync", &[])
        .await
        .expect("SHOW")
        .get(0);
    println!("  users: {names:?}; fsync = {fsync} (tuned for tests)");
    drop(client);
    pg.remove().await?;

    // 2. A shared server, a fresh database per test.
    let started = Instant::now();
    let (a, b) = futures::try_join!(APP.database(), APP.database())?;
    println!(
        "two test databases `{}` and `{}` in {:?} (server start and migration included)",
        a.name(),
        b.name(),
        started.elapsed()
    );
    let (seen_a, seen_b) =
        futures::join!(write_and_read(&a, "test a"), write_and_read(&b, "test b"));
    println!("  test a sees {seen_a:?}\n  test b sees {seen_b:?}");
    let started = Instant::now();
    let c = APP.database().await?;
    println!(
        "one more test database `{}` in {:?}",
        c.name(),
        started.elapsed()
    );
    Ok(())
}

/// Writes a row as `author`, then lists the authors this database holds.
async fn write_and_read(db: &TestDatabase, author: &str) -> Vec<String> {
    let client = db.connect().await.expect("connect");
    client
        .execute(
            "INSERT INTO notes (author, body) VALUES ($1, 'hello')",
            &[&author],
        )
        .await
        .expect("insert");
    let rows = client
        .query("SELECT author FROM notes ORDER BY id", &[])
        .await
        .expect("select");
    rows.iter().map(|r| r.get(0)).collect()
}
