//! Image sources without a registry against the real daemon: in-memory build contexts
//! (files, modes, args, target stage, `.dockerignore`, the build cache and concurrent
//! requests), root filesystem tarballs and `docker save` archives.
//!
//! Images built here are a cache and stay, with a bounded number: every context is the
//! same on every run, except in the tests that need a build nobody made before, which
//! use a unique context and remove its image.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use testdock::{BuildContext, ContainerSpec, Exec, ImageArchive, InjectFile, Probe, RootfsImage};

use common::{busybox_ref, idle, remove_image, unique};

/// `sh -c script` in the container; its stdout, after checking it succeeded.
async fn sh(c: &testdock::Container, script: &str) -> String {
    let out = c.exec(Exec::new(["sh", "-c", script])).await.unwrap();
    assert!(out.success(), "`{script}`: {}", out.stderr_text());
    out.stdout_text()
}

#[tokio::test]
async fn a_scratch_image_holding_only_hello_is_built_in_memory_and_read_back() {
    let hello = "hello from an in-memory build context\n";
    let context = BuildContext::new("FROM scratch\nCOPY hello /hello\n")
        .file(InjectFile::from_bytes("hello", hello));
    // The image holds nothing to run, so the host's static busybox is bind-mounted to
    // keep the container alive: the image stays exactly `/hello`.
    let c = ContainerSpec::new(context.clone())
        .bind_read_only(common::BUSYBOX, "/busybox")
        .cmd([
            "/busybox",
            "sh",
            "-c",
            "echo ready; exec /busybox sleep 1000",
        ])
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .unwrap();
    let read_back = c.read_file("/hello").await.unwrap();
    c.remove().await.unwrap();
    let built = context.prepare().await.unwrap();
    let docker = common::docker().await;
    let inspect = docker.inspect_image(&built.reference).await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(read_back, hello.as_bytes());
    assert!(built.cached, "starting the container built it already");
    assert!(built.reference.starts_with("testdock/build:"));
    let layers = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();
    assert_eq!(layers.len(), 1, "one COPY on scratch is one layer");
    if !common::skip_on_podman("Podman's image Size counts more than the layer's files").await {
        assert_eq!(
            inspect.size,
            Some(hello.len() as i64),
            "the layer holds only /hello"
        );
    }
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels["testdock.managed-by"], "testdock");
}

#[tokio::test]
async fn a_generated_dockerfile_with_scripts_configs_and_directories_builds_and_runs() {
    let base = busybox_ref().await;
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("app.toml"), "port = 8080\n").unwrap();
    let data = host.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/b.txt"), "b\n").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let script = "#!/bin/sh\n\
        if [ \"$1\" = --check ]; then echo checked at build time; exit 0; fi\n\
        cat /etc/app/app.toml\n\
        echo \"greeting=$GREETING\"\n\
        echo ready\n\
        exec sleep 1000\n";
    let greeting = "hej";
    let dockerfile = [
        format!("FROM {base}"),
        "COPY bin/ /usr/local/bin/".to_owned(),
        "COPY conf/app.toml /etc/app/app.toml".to_owned(),
        "COPY data /srv/data".to_owned(),
        "RUN /usr/local/bin/serve.sh --check > /built.txt".to_owned(),
        format!("ENV GREETING={greeting}"),
        "CMD [\"/usr/local/bin/serve.sh\"]".to_owned(),
    ]
    .join("\n");
    let context = BuildContext::new(dockerfile)
        .file(InjectFile::from_bytes("bin/serve.sh", script).mode(0o755))
        .file(InjectFile::from_host_file(
            "conf/app.toml",
            host.path().join("app.toml"),
        ))
        .file(InjectFile::from_host_dir("data", &data))
        .label("org.example.purpose", "testdock-tests");

    let c = ContainerSpec::new(context)
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .unwrap();
    let logs = c.logs().await.unwrap();
    let modes = sh(
        &c,
        "stat -c '%a %u %n' /usr/local/bin/serve.sh /srv/data/sub",
    )
    .await;
    let built = c.read_file("/built.txt").await.unwrap();
    let b = c.read_file("/srv/data/sub/b.txt").await.unwrap();
    let image = c.image().to_owned();
    c.remove().await.unwrap();
    let docker = common::docker().await;
    let labels = docker
        .inspect_image(&image)
        .await
        .unwrap()
        .config
        .and_then(|c| c.labels)
        .unwrap_or_default();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(logs.stdout, "port = 8080\ngreeting=hej\nready\n");
    assert_eq!(
        modes,
        "755 0 /usr/local/bin/serve.sh\n750 0 /srv/data/sub\n"
    );
    assert_eq!(built, b"checked at build time\n");
    assert_eq!(b, b"b\n");
    assert_eq!(labels["org.example.purpose"], "testdock-tests");
    assert_eq!(labels["testdock.managed-by"], "testdock");
}

#[tokio::test]
async fn an_identical_context_is_built_once_and_then_costs_one_inspect() {
    let base = busybox_ref().await;
    let nonce = unique();
    // Made twice from scratch: equal content, not the same value, hits the cache.
    let make = || {
        BuildContext::new(format!(
            "FROM {base}\nCOPY nonce /nonce\nRUN cat /nonce > /copy && sleep 1\n"
        ))
        .file(InjectFile::from_bytes("nonce", nonce.clone()))
    };
    let began = Instant::now();
    let first = make().prepare().await.unwrap();
    let first_took = began.elapsed();
    let began = Instant::now();
    let second = make().prepare().await.unwrap();
    let second_took = began.elapsed();
    let gzipped = make().gzip(true).prepare().await.unwrap();
    remove_image(&first.reference).await;
    common::assert_nothing_left(&common::this_test()).await;

    eprintln!("first build {first_took:?}, cached build {second_took:?}");
    assert!(!first.cached, "a context never seen before was found");
    assert!(second.cached, "the identical context was built again");
    assert!(gzipped.cached, "compression changed the image");
    assert_eq!(first.reference, second.reference);
    assert_eq!(first.reference, gzipped.reference);
    assert!(
        second_took < Duration::from_millis(500) && second_took * 4 < first_took,
        "a cached build took {second_took:?} (the real one {first_took:?})"
    );
}

#[tokio::test]
async fn two_concurrent_identical_builds_make_one_build() {
    let nonce = unique();
    let context = BuildContext::new("FROM scratch\nCOPY nonce /nonce\n")
        .file(InjectFile::from_bytes("nonce", nonce));
    // Two equal values, as two tests asking for the same image would hold.
    let twin = context.clone();
    let (a, b) = tokio::join!(context.prepare(), twin.prepare());
    let (a, b) = (a.unwrap(), b.unwrap());
    remove_image(&a.reference).await;
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(a.reference, b.reference);
    assert_eq!(
        [a.cached, b.cached]
            .iter()
            .filter(|cached| !**cached)
            .count(),
        1,
        "exactly one of the two requests builds: {a:?} {b:?}"
    );
}

#[tokio::test]
async fn build_args_and_the_target_stage_take_effect() {
    let base = busybox_ref().await;
    let dockerfile = format!(
        "FROM {base} AS common\n\
         ARG FLAVOUR=plain\n\
         RUN echo \"flavour=$FLAVOUR\" > /flavour\n\
         FROM common AS dev\n\
         RUN echo dev > /stage\n\
         FROM common AS prod\n\
         RUN echo prod > /stage\n"
    );
    let dev = BuildContext::new(dockerfile.clone())
        .arg("FLAVOUR", "spicy")
        .target("dev");
    let prod = BuildContext::new(dockerfile);
    let c = idle(dev).start().await.unwrap();
    let dev_out = sh(&c, "cat /flavour /stage").await;
    c.remove().await.unwrap();
    let c = idle(prod).start().await.unwrap();
    let prod_out = sh(&c, "cat /flavour /stage").await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(dev_out, "flavour=spicy\ndev\n");
    assert_eq!(
        prod_out, "flavour=plain\nprod\n",
        "the last stage, default args"
    );
}

#[tokio::test]
async fn from_dir_sends_what_dockerignore_does_not_exclude() {
    let base = busybox_ref().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files = [
        ("Dockerfile", format!("FROM {base}\nCOPY . /ctx/\n")),
        (
            ".dockerignore",
            "# build outputs and secrets stay home\n*.log\n!keep.log\n**/*.tmp\nsecrets\nDockerfile\n"
                .to_owned(),
        ),
        ("app.conf", "conf\n".to_owned()),
        ("debug.log", "noise\n".to_owned()),
        ("keep.log", "kept\n".to_owned()),
        ("src/main.sh", "echo main\n".to_owned()),
        ("src/deep/x.tmp", "tmp\n".to_owned()),
        ("src/sub.log", "not at the root: kept\n".to_owned()),
        ("secrets/token", "s3cr3t\n".to_owned()),
    ];
    for (path, content) in &files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let c = idle(BuildContext::from_dir(root)).start().await.unwrap();
    let listing = sh(&c, "cd /ctx && find . -type f | sort").await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(
        listing, "./.dockerignore\n./app.conf\n./keep.log\n./src/main.sh\n./src/sub.log\n",
        "the Dockerfile is sent (the build worked) but, ignored, not copied"
    );
}

/// A tarball of the static busybox with a few applets, `/tmp` and nothing else.
fn busybox_rootfs() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, mode) in [("bin/", 0o755), ("tmp/", 0o1777)] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        tar.append_data(&mut h, path, std::io::empty()).unwrap();
    }
    let busybox = std::fs::read(common::BUSYBOX).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    tar.append_data(&mut h, "bin/busybox", &busybox[..])
        .unwrap();
    for applet in ["sh", "sleep", "cat", "echo", "ls"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    tar.into_inner().unwrap()
}

#[tokio::test]
async fn a_rootfs_tarball_plain_or_gzipped_is_imported_once_and_runs() {
    use std::io::Write;
    let rootfs = busybox_rootfs();
    let dir = tempfile::tempdir().unwrap();
    let gz_path = dir.path().join("rootfs.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&rootfs).unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let config = |image: RootfsImage| {
        image
            .default_env("WHO", "rootfs image")
            .default_workdir("/tmp")
            .default_cmd([
                "/bin/sh",
                "-c",
                "echo \"ready in $(pwd) as $WHO\"; exec sleep 1000",
            ])
    };
    let plain = config(RootfsImage::from_bytes(rootfs));
    let gzipped = config(RootfsImage::from_path(&gz_path));

    let plain_ref = plain.prepare().await.map(|p| p.reference).unwrap();
    let gzipped_ref = gzipped.prepare().await.map(|p| p.reference).unwrap();
    let c = ContainerSpec::new(gzipped)
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .unwrap();
    let logs = c.logs().await.unwrap();
    let root = sh(&c, "ls /").await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert!(plain_ref.starts_with("testdock/rootfs:"), "{plain_ref}");
    assert_eq!(plain_ref, gzipped_ref, "the same tar, compressed or not");
    assert_eq!(logs.stdout, "ready in /tmp as rootfs image\n");
    // The daemon adds its mount points (dev, etc, proc, sys) to every container.
    let entries: Vec<&str> = root.lines().collect();
    assert!(
        entries.contains(&"bin") && entries.contains(&"tmp"),
        "{root}"
    );
}

#[tokio::test]
async fn a_docker_save_archive_of_a_built_image_loads_back() {
    let nonce = unique();
    // Sent gzip-compressed: a real build (the context is new) of a compressed context.
    let built = BuildContext::new("FROM scratch\nCOPY nonce /nonce\n")
        .file(InjectFile::from_bytes("nonce", nonce))
        .gzip(true)
        .prepare()
        .await
        .unwrap();
    let docker = common::docker().await;
    let archive: Vec<u8> = docker
        .export_image(&built.reference)
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .unwrap();
    remove_image(&built.reference).await;
    let gone = docker.inspect_image(&built.reference).await;
    let archive = ImageArchive::from_bytes(archive);
    let loaded = archive.prepare().await.unwrap();
    let inspect = docker.inspect_image(&built.reference).await;
    // Named, an image the daemon has is not loaded again; a container starts from it.
    let named = archive.clone().image(built.reference.clone());
    let again = named.prepare().await.unwrap();
    let wrong = archive.clone().image("not/in-it:1").prepare().await;
    let started = ContainerSpec::new(named).entrypoint(["/nonce"]).run().await;
    remove_image(&built.reference).await;
    let garbage = ImageArchive::from_bytes("not an archive").prepare().await;
    common::assert_nothing_left(&common::this_test()).await;

    assert!(!built.cached);
    assert!(gone.is_err(), "the image was still there before the load");
    assert_eq!(loaded.reference, built.reference);
    assert!(!loaded.cached);
    assert!(again.cached, "{again:?}");
    let err = wrong.expect_err("an image the archive does not hold");
    assert!(
        err.to_string().contains("holds no image `not/in-it:1`"),
        "{err}"
    );
    // `/nonce` is no executable: the container was created from the archive's image
    // and failed to start, which names it.
    let err = started
        .expect_err("a data file ran as a program")
        .to_string();
    assert!(err.contains(&built.reference), "{err}");
    let inspect = inspect.unwrap();
    // Podman qualifies its names (`docker.io/testdock/build:…`).
    let tags: Vec<String> = (inspect.repo_tags.unwrap_or_default().into_iter())
        .map(|t| {
            t.strip_prefix("docker.io/")
                .map_or(t.clone(), str::to_owned)
        })
        .collect();
    assert_eq!(tags, [built.reference.as_str()]);
    let err = garbage.expect_err("a text file loaded as an image archive");
    assert!(matches!(err, testdock::Error::Image { .. }), "{err:?}");
}
