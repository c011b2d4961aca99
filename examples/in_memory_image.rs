//! The classic "hello" image, built from an in-memory build context: a Dockerfile
//! `FROM scratch` plus Debian's static busybox, sent to the daemon as a tarball made in
//! memory. No registry, no directory on disk, no `docker` CLI.
//!
//! The image is tagged by the hash of the context's content, so it is built once per
//! daemon: the second run of this example finds it and builds nothing.
//!
//! Needs `/bin/busybox` (`sudo apt-get install -y busybox-static`).
//! Run it with `cargo run --example in_memory_image`.

use std::time::Instant;

use testdock::{BuildContext, ContainerSpec, InjectFile};

const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
ENTRYPOINT ["/bin/busybox"]
CMD ["echo", "hello from an image built in memory"]
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> testdock::Result<()> {
    let context = BuildContext::new(DOCKERFILE)
        .file(InjectFile::from_host_file("busybox", "/bin/busybox").mode(0o755));

    let started = Instant::now();
    let image = context.prepare().await?;
    println!(
        "image {} {} in {:?}",
        image.reference,
        if image.cached { "found" } else { "built" },
        started.elapsed()
    );

    // A one-shot container: runs to completion, then is removed; its output is kept.
    let run = ContainerSpec::new(context)
        .name_prefix("hello")
        .run()
        .await?;
    print!("the container said: {}", run.logs.stdout);
    assert!(run.success(), "exit code {}", run.exit_code);
    assert_eq!(run.logs.stdout, "hello from an image built in memory\n");
    println!("done in {:?}; the container is gone", started.elapsed());
    Ok(())
}
