//! Seed once, snapshot, start many: the expensive setup (here, a "migration" that
//! writes a small database of files) runs in one container, which
//! [`Container::commit`](testdock::Container::commit) turns into an image; every
//! container started from that image begins with the seeded state, and what one of them
//! changes the others never see.
//!
//! Works offline: the base image is Debian's static busybox packed with `HostImage`
//! (`sudo apt-get install -y busybox-static`).
//! Run it with `cargo run --example snapshot`.

use std::time::Instant;

use testdock::{ContainerSpec, Exec, HostImage, InjectFile, LocalImage, Probe, Result};

/// The busybox applets this example uses, as symlinks next to `/bin/busybox`.
const APPLETS: &[&str] = &["sh", "cat", "echo", "ls", "mkdir", "sleep", "wc"];

fn busybox() -> HostImage {
    APPLETS.iter().fold(
        HostImage::new().binary_at("/bin/busybox", "/bin/busybox"),
        |image, applet| image.symlink(format!("/bin/{applet}"), "busybox"),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let started = Instant::now();

    // 1. Seed once: a container runs the (slow, in real life) setup.
    let seeder = ContainerSpec::new(busybox())
        .name_prefix("snapshot-seed")
        .file(InjectFile::from_bytes(
            "/seed.sh",
            "mkdir -p /db && for t in users orders items; do echo \"table $t\" > /db/$t; done\n",
        ))
        .cmd(["sh", "-c", "sh /seed.sh && echo seeded && exec sleep 3600"])
        .wait_for(Probe::log("seeded"))
        .start()
        .await?;
    println!("seeded in {:?}", started.elapsed());

    // 2. Snapshot it as an image (a unique tag: several runs may share the daemon).
    let tag = format!("run-{}", std::process::id());
    let reference = format!("testdock-example/snapshot:{tag}");
    seeder
        .commit(
            "testdock-example/snapshot",
            &tag,
            &[r#"CMD ["sh", "-c", "echo ready; exec sleep 3600"]"#],
        )
        .await?;
    seeder.remove().await?;
    println!("committed {reference}");

    // 3. Start several containers from the snapshot, together, and check each one.
    let outcome = use_the_snapshot(&reference).await;
    // The snapshot is an image of this run: remove it whatever happened above.
    testdock::remove_image(&reference).await?;
    outcome?;
    println!(
        "done in {:?}; containers and snapshot removed",
        started.elapsed()
    );
    Ok(())
}

async fn use_the_snapshot(reference: &str) -> Result<()> {
    let start = |n: usize| {
        ContainerSpec::new(LocalImage::new(reference))
            .name_prefix(format!("snapshot-{n}"))
            .wait_for(Probe::log("ready"))
            .start()
    };
    let copies = futures::future::try_join_all((0..3).map(start)).await?;
    for (n, copy) in copies.iter().enumerate() {
        // Each copy starts with the seeded tables...
        let tables = copy.exec(Exec::new(["ls", "/db"])).await?.check()?;
        assert_eq!(tables.stdout_text(), "items\norders\nusers\n");
        // ... and writes its own row, which no other copy sees.
        let row = format!("echo row-of-copy-{n} >> /db/users && wc -l < /db/users");
        let lines = copy.exec(Exec::new(["sh", "-c", &row])).await?.check()?;
        assert_eq!(
            lines.stdout_text().trim(),
            "2",
            "copy {n} saw another's row"
        );
        println!(
            "copy {n} ({}): seeded tables there, its row its own",
            copy.name()
        );
    }
    for copy in copies {
        copy.remove().await?;
    }
    Ok(())
}
