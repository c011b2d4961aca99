//! An app container of this workspace reading from Redis by its network alias: the
//! shape of a test of a service that talks to a database, with no port published for
//! the app and no registry.
//!
//! - Redis is Debian's `redis-server`, packed with its shared libraries by `HostImage`
//!   (`sudo apt-get install -y redis-server`).
//! - The app is this very example: packed into a `FROM scratch` image with `HostImage`
//!   and run as `/app get redis:6379 greeting`, it connects to `redis` (the alias on a
//!   per-run network, resolved by Docker's DNS), reads the key and prints it.
//! - The host seeds the key through Redis's published port, then runs the app once.
//!
//! Run it with `cargo run --example network`.

#[path = "support/redis_client.rs"]
mod redis_client;

use redis_client::redis;
use testdock::{ContainerSpec, HostImage, InjectFile, NetworkSpec, Probe};

const REDIS: &str = "/usr/bin/redis-server";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        // The app, inside its container.
        ["get", addr, key] => {
            let value = redis(addr, &["GET", key])?;
            println!("app read {key} = {value}");
            Ok(())
        }
        [] => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run())?),
        _ => Err("usage: network [get <host:port> <key>]".into()),
    }
}

/// The host's side: network, Redis, seed, app.
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    if !std::path::Path::new(REDIS).exists() {
        return Err(
            format!("this example packs {REDIS}: sudo apt-get install -y redis-server").into(),
        );
    }
    let net = NetworkSpec::new().create().await?;
    let redis_server = ContainerSpec::new(
        HostImage::new()
            .binary_at(REDIS, "/redis-server")
            .default_entrypoint(["/redis-server"]),
    )
    .name_prefix("network-redis")
    .file(InjectFile::from_bytes(
        "/etc/redis/redis.conf",
        "port 6379\nprotected-mode no\nsave \"\"\nappendonly no\n",
    ))
    .cmd(["/etc/redis/redis.conf"])
    .network(&net)
    .alias("redis")
    .expose(6379) // for the host to seed it; the app uses the network
    .wait_for(Probe::log("Ready to accept connections"))
    .start()
    .await?;

    let addr = redis_server.addr(6379)?.to_string();
    let reply = redis(&addr, &["SET", "greeting", "hello over the network"])?;
    println!(
        "seeded redis ({}) through {addr}: {reply}",
        redis_server.name()
    );

    let app = HostImage::new()
        .binary_at(std::env::current_exe()?, "/app")
        .default_entrypoint(["/app"]);
    let out = ContainerSpec::new(app)
        .name_prefix("network-app")
        .network(&net)
        .cmd(["get", "redis:6379", "greeting"])
        .run()
        .await?;
    print!("the app said: {}", out.logs.stdout);
    if !out.success() || out.logs.stdout != "app read greeting = hello over the network\n" {
        return Err(format!("the app failed ({}): {}", out.exit_code, out.logs.stderr).into());
    }

    redis_server.remove().await?;
    net.remove().await?;
    println!("done: the app, Redis and the network are gone");
    Ok(())
}
