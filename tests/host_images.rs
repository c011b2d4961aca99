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

/// Every instruction of the image's config reaches the container: Podman reads
/// newline-joined `changes` as one instruction, so testdock sends one apiece.
#[tokio::test]
async fn the_whole_image_config_applies() {
    let image = common::busybox()
        .default_entrypoint(["/bin/sh", "-c"])
        .default_cmd(["echo \"$GREETING $(id -u) $(pwd)\""])
        .default_env("GREETING", "hello there")
        .default_user("nobody")
        .default_workdir("/tmp");
    let out = ContainerSpec::new(image).run().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.logs.stdout, "hello there 65534 /tmp\n");
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

/// A host image of a copied binary is found again while the binary is unchanged, even
/// rewritten in place with the same bytes, and made anew (another tag) once the binary
/// is replaced by a different one.
#[tokio::test]
async fn a_replaced_binary_makes_a_new_image() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("prog");
    let aged = |path: &std::path::Path| {
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(old).unwrap();
    };
    std::fs::copy("/bin/true", &prog).unwrap();
    aged(&prog);
    let nonce = format!("{}\n", testdock::labels::owner_id());
    let image = HostImage::new()
        .binary_at(&prog, "/prog")
        .file(testdock::InjectFile::from_bytes("/nonce", nonce));
    let first = image.prepare().await.unwrap();
    let again = image.prepare().await.unwrap();
    assert_eq!((&again.reference, again.cached), (&first.reference, true));

    // The same bytes written again: same image.
    std::fs::copy("/bin/true", &prog).unwrap();
    let rewritten = image.prepare().await.unwrap();
    assert_eq!(
        (&rewritten.reference, rewritten.cached),
        (&first.reference, true)
    );

    // Replaced (a new inode) by another program, with the old mtime: a new image.
    let other = dir.path().join("other");
    std::fs::copy("/bin/false", &other).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_modified(std::fs::metadata(&prog).unwrap().modified().unwrap())
        .unwrap();
    std::fs::rename(&other, &prog).unwrap();
    let replaced = image.prepare().await.unwrap();
    testdock::remove_image(&first.reference).await.unwrap();
    testdock::remove_image(&replaced.reference).await.unwrap();
    assert!(!first.cached);
    assert!(!replaced.cached);
    assert_ne!(replaced.reference, first.reference);
}

/// An image this process prepared and someone else removed since is made again when a
/// container is created from it.
#[tokio::test]
async fn an_image_removed_behind_the_process_is_made_again() {
    let nonce = format!("{}\n", testdock::labels::owner_id());
    let image = HostImage::new()
        .binary("/bin/sh")
        .binary("/bin/sleep")
        .file(testdock::InjectFile::from_bytes("/removed-behind", nonce));
    let prepared = image.prepare().await.unwrap();
    let docker = testdock::daemon().await.unwrap().client();
    docker
        .remove_image(
            &prepared.reference,
            None::<testdock::bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    let c = ContainerSpec::new(image)
        .cmd(["/bin/sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .unwrap();
    c.remove().await.unwrap();
    testdock::remove_image(&prepared.reference).await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;
}
