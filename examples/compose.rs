//! A compose file brought up natively and offline: an app of this workspace talking to
//! Redis by its service name, with no registry and no `docker compose` binary.
//!
//! - The file names registry images (`redis:7`, `example/app`), as a team's
//!   `docker-compose.yml` does; [`Compose::image`] swaps them for images made from host
//!   binaries: Debian's `redis-server` (`sudo apt-get install -y redis-server`) and
//!   this very example, packed into `FROM scratch` images by `HostImage`.
//! - Redis gets its config file injected before it boots and a readiness probe (what
//!   compose itself lacks); the app `depends_on` it, sets a key through `redis:6379`
//!   (the service name, resolved on the stack's network), reads it back and exits 0,
//!   which `up` waits for.
//!
//! Run it with `cargo run --example compose`.

#[path = "support/redis_client.rs"]
mod redis_client;

use testdock::compose::Compose;
use testdock::{HostImage, InjectFile, Probe};

const REDIS: &str = "/usr/bin/redis-server";

const STACK: &str = r#"
name: example
services:
  redis:
    image: redis:7
    command: ["/etc/redis/redis.conf"]
    ports: ["6379"]
  app:
    image: example/app
    depends_on: [redis]
    command: ["roundtrip", "redis:6379"]
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        // The app, inside its container.
        ["roundtrip", addr] => {
            redis_client::redis(addr, &["SET", "greeting", "hello from compose"])?;
            let value = redis_client::redis(addr, &["GET", "greeting"])?;
            println!("app read greeting = {value}");
            Ok(())
        }
        [] => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run())?),
        _ => Err("usage: compose [roundtrip <host:port>]".into()),
    }
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
    let stack = Compose::from_str(STACK)?
        .image("redis", redis)
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
    if logs.stdout != "app read greeting = hello from compose\n" {
        return Err(format!("the app failed: {}", logs.stderr).into());
    }
    stack.down().await?;
    println!("done: the stack is gone");
    Ok(())
}
