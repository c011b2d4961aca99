//! testdock's quick start: works offline, with no registry.
//!
//! 1. Makes an image in memory from host binaries (`/bin/sh`, `/bin/cat`, `/bin/sleep`
//!    and the shared libraries they need): no Dockerfile, no registry.
//! 2. Injects a config file after create and before start, so the service boots with it.
//! 3. Waits until the service says it is ready (a log line, streamed).
//! 4. Checks the service from outside with `exec`.
//! 5. Tears down, and shows the container is gone.
//!
//! Run it with `cargo run --example quickstart`.

use std::time::Instant;

use testdock::{ContainerSpec, Exec, HostImage, InjectFile, Probe};

#[tokio::main(flavor = "current_thread")]
async fn main() -> testdock::Result<()> {
    let started = Instant::now();
    let image = HostImage::new()
        .binary("/bin/sh")
        .binary("/bin/cat")
        .binary("/bin/sleep");

    let service = ContainerSpec::new(image)
        .name_prefix("quickstart")
        .file(InjectFile::from_bytes("/etc/greeter/greeting", "hello from testdock\n"))
        .file(
            InjectFile::from_bytes("/run/secrets/token", "s3cr3t\n")
                .mode(0o600)
                .owner(1000, 1000),
        )
        .cmd([
            "/bin/sh",
            "-c",
            "read greeting < /etc/greeter/greeting; echo \"greeter ready: $greeting\"; exec sleep 3600",
        ])
        .wait_for(Probe::log("greeter ready"))
        .start()
        .await?;
    println!(
        "started {} in {:?} (the first run also imports the image)",
        service.name(),
        started.elapsed()
    );

    let logs = service.logs().await?;
    print!("service said: {}", logs.stdout);
    assert!(logs.stdout.contains("hello from testdock"));

    let daemon = testdock::daemon().await?;
    let secret = service.read_archive("/run/secrets/token").await?;
    println!(
        "secret: mode {:o}, owner {}:{} (talking to {})",
        secret[0].mode,
        secret[0].uid,
        secret[0].gid,
        daemon.engine()
    );
    assert_eq!(secret[0].mode, 0o600);
    // Podman's copy-out says 0:0 for every file; its owner reads it, another user cannot.
    if daemon.engine() == testdock::Engine::Docker {
        assert_eq!(secret[0].uid, 1000);
    }
    let cat_as = |user: &str| Exec::new(["/bin/cat", "/run/secrets/token"]).user(user);
    assert_eq!(service.exec(cat_as("1000")).await?.exit_code, 0);
    assert_ne!(service.exec(cat_as("1001")).await?.exit_code, 0);

    let out = service
        .exec(Exec::new(["/bin/cat", "/etc/greeter/greeting"]))
        .await?;
    assert_eq!(out.exit_code, 0);
    println!("exec cat: {}", out.stdout_text().trim());

    let name = service.name().to_owned();
    let removing = Instant::now();
    service.remove().await?;
    let docker = daemon.client();
    let gone = docker.inspect_container(&name, None).await.is_err();
    println!("removed in {:?}; gone: {gone}", removing.elapsed());
    assert!(gone, "container {name} is still there");
    Ok(())
}
