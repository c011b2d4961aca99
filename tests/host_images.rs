//! Host-binary images: programs of the host (and of this package: its `echo_server`
//! example) with their ELF interpreter and shared libraries, run and answering over
//! the network.

mod common;

use std::time::Duration;

use testdock::{ContainerSpec, Exec, HostImage, Probe};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn a_program_of_this_package_runs_and_answers_over_tcp() {
    let image = HostImage::new()
        .binary_at(common::examples::example("echo_server"), "/server")
        .default_entrypoint(["/server", "7000"]);
    let c = ContainerSpec::new(image)
        .expose(7000)
        .wait_for(Probe::all([
            Probe::log("listening on 7000"),
            Probe::tcp(7000),
        ]))
        .startup_timeout(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let stream = tokio::net::TcpStream::connect(c.addr(7000).unwrap())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    write.write_all(b"hello from the host\n").await.unwrap();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await.unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(line, "hello from the host\n");
}

#[tokio::test]
async fn the_hosts_shell_runs_with_only_its_libraries() {
    let image = HostImage::new().binary("/bin/sh").binary("/bin/sleep");
    let c = ContainerSpec::new(image)
        .cmd(["/bin/sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .unwrap();
    let listing = c.read_archive("/").await.unwrap();
    let out = c
        .exec(Exec::new(["/bin/sh", "-c", "echo $((6 * 7))"]))
        .await
        .unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    let names: Vec<&str> = listing.iter().map(|e| e.path.as_str()).collect();
    assert!(names.iter().any(|p| p.ends_with("libc.so.6")), "{names:?}");
    assert!(
        !names.iter().any(|p| p.contains("usr/share")),
        "only the closure: {names:?}"
    );
    assert_eq!(out.stdout_text(), "42\n");
}

#[tokio::test]
async fn debians_redis_server_runs_from_its_host_binary() {
    let redis = std::path::Path::new("/usr/bin/redis-server");
    assert!(
        redis.exists(),
        "this test packs Debian's redis-server: `sudo apt-get install -y redis-server`"
    );
    let image = HostImage::new()
        .binary_at(redis, "/redis-server")
        .default_entrypoint(["/redis-server"]);
    let c = ContainerSpec::new(image)
        .file(testdock::InjectFile::from_bytes(
            "/etc/redis/redis.conf",
            "port 6379\nprotected-mode no\nsave \"\"\nappendonly no\n",
        ))
        .cmd(["/etc/redis/redis.conf"])
        .expose(6379)
        .wait_for(Probe::log("Ready to accept connections"))
        .start()
        .await
        .unwrap();
    let stream = tokio::net::TcpStream::connect(c.addr(6379).unwrap())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    write.write_all(b"PING\r\n").await.unwrap();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await.unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(line, "+PONG\r\n");
}
