//! A compose file brought up natively and offline: an app of this workspace talking to
//! Redis and PostgreSQL by their service names, with no registry and no `docker compose`
//! binary.
//!
//! - The file names registry images (`redis:7`, `postgres:16-alpine`, `example/app`), as
//!   a team's `docker-compose.yml` does; [`Compose::image`] swaps them for images made
//!   from host binaries: Debian's `redis-server` (`sudo apt-get install -y
//!   redis-server`), Debian's PostgreSQL (`sudo apt-get install -y postgresql`; the image
//!   `testdock::services::Postgres` makes, which honours the official image's
//!   `POSTGRES_*` variables) and this very example, packed into `FROM scratch` images by
//!   `HostImage`.
//! - Redis gets its config file injected before it boots and a readiness probe (what
//!   compose itself lacks); PostgreSQL has the file's healthcheck (a real query over
//!   TCP). The app `depends_on` both (`service_healthy` for the database), sets a key
//!   through `redis:6379` and counts a row through `db:5432` (the service names,
//!   resolved on the stack's network), and exits 0, which `up` waits for.
//!
//! Run it with `cargo run --example compose`.

#[path = "support/redis_client.rs"]
mod redis_client;

use testdock::compose::Compose;
use testdock::services::postgres::Postgres;
use testdock::services::Service;
use testdock::{HostImage, InjectFile, Probe};

const REDIS: &str = "/usr/bin/redis-server";

const STACK: &str = r#"
name: example
services:
  redis:
    image: redis:7
    command: ["/etc/redis/redis.conf"]
    ports: ["6379"]
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_PASSWORD: example
      POSTGRES_DB: shop
      PGPASSWORD: example
    healthcheck:
      test: ["CMD", "psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "shop", "-c", "select 1"]
      interval: 200ms
      retries: 150
  app:
    image: example/app
    depends_on:
      redis: { condition: service_started }
      db: { condition: service_healthy }
    command: ["roundtrip", "redis:6379", "db"]
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        // The app, inside its container.
        ["roundtrip", addr, db] => {
            redis_client::redis(addr, &["SET", "greeting", "hello from compose"])?;
            let value = redis_client::redis(addr, &["GET", "greeting"])?;
            let visits = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(count_visit(db))?;
            println!("app read greeting = {value}, postgres counted {visits} visit");
            Ok(())
        }
        [] => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run())?),
        _ => Err("usage: compose [roundtrip <redis host:port> <postgres host>]".into()),
    }
}

/// The app's PostgreSQL work: a table, a row, a count.
async fn count_visit(host: &str) -> Result<i64, Box<dyn std::error::Error>> {
    let config = format!("host={host} user=postgres password=example dbname=shop");
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TABLE visits (at timestamptz DEFAULT now()); INSERT INTO visits DEFAULT VALUES",
        )
        .await?;
    Ok(client
        .query_one("SELECT count(*) FROM visits", &[])
        .await?
        .get(0))
}

/// The host's side: the stack up, the app's output, the stack down.
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    if !std::path::Path::new(REDIS).exists() {
        return Err(
            format!("this example packs {REDIS}: sudo apt-get install -y redis-server").into(),
        );
    }
    let redis = HostImage::new()
        .binary_at(REDIS, "/redis-server")
        .default_entrypoint(["/redis-server"]);
    let app = HostImage::new()
        .binary_at(std::env::current_exe()?, "/app")
        .default_entrypoint(["/app"]);
    // The image `Postgres` makes from the host's PostgreSQL (it follows the official
    // image's contract, so the file's environment configures it).
    let postgres = Postgres::default().spec().await?.image().clone();
    let stack = Compose::from_str(STACK)?
        .image("redis", redis)
        .image("db", postgres)
        .image("app", app)
        .file(
            "redis",
            InjectFile::from_bytes(
                "/etc/redis/redis.conf",
                "port 6379\nprotected-mode no\nsave \"\"\nappendonly no\n",
            ),
        )
        .wait_for("redis", Probe::log("Ready to accept connections"))
        .wait_for("app", Probe::exit(0))
        .up()
        .await?;
    println!("stack {} is up", stack.project());
    let logs = stack.service("app").logs().await?;
    print!("the app said: {}", logs.stdout);
    let addr = stack.service("redis").addr(6379)?;
    println!("redis is published on {addr}");
    if logs.stdout != "app read greeting = hello from compose, postgres counted 1 visit\n" {
        return Err(format!("the app failed: {}", logs.stderr).into());
    }
    stack.down().await?;
    println!("done: the stack is gone");
    Ok(())
}
