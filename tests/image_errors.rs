//! Image sources that fail: broken Dockerfiles, failing steps, builds past their time
//! limit and archives that are not tarballs. Each error names what failed, and no build
//! container stays behind.
//!
//! The failing contexts are the same on every run, so they add no images to the cache
//! (a failed build commits nothing past its last good step).

mod common;

use std::time::{Duration, Instant};

use testdock::bollard::query_parameters::ListContainersOptionsBuilder;
use testdock::{BuildContext, ContainerSpec, Error, InjectFile, RootfsImage};

use common::busybox_ref;

/// Containers (build containers included) whose command mentions `marker`.
async fn containers_running(marker: &str) -> Vec<String> {
    let docker = common::docker().await;
    let all = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default().all(true).build(),
        ))
        .await
        .unwrap();
    all.into_iter()
        .filter_map(|c| c.command)
        .filter(|command| command.contains(marker))
        .collect()
}

#[tokio::test]
async fn an_unknown_instruction_names_the_dockerfile_line() {
    let base = busybox_ref().await;
    let err = BuildContext::new(format!("FROM {base}\nRUN true\nBOGUS instruction\n"))
        .prepare()
        .await
        .expect_err("a Dockerfile with an unknown instruction built");
    common::assert_nothing_left(&common::this_test()).await;

    let Error::Image { ref image, .. } = err else {
        panic!("expected Error::Image, got {err:?}");
    };
    assert!(image.starts_with("testdock/build:"), "{image}");
    let text = err.to_string();
    assert!(
        text.contains("(`Dockerfile` line 3: `BOGUS instruction`)"),
        "{text}"
    );
    assert_eq!(err.status_code(), Some(400));
    let debug = format!("{err:?}");
    assert!(debug.contains("unknown instruction: BOGUS"), "{debug}");
}

#[tokio::test]
async fn a_failing_run_names_the_step_and_shows_its_output() {
    let base = busybox_ref().await;
    let marker = "testdock-failing-run-marker";
    let err = BuildContext::new(format!(
        "FROM {base}\nRUN echo preparing\nRUN echo boom && echo {marker} >&2 && exit 3\nRUN echo never\n"
    ))
    .prepare()
    .await
    .expect_err("a failing RUN built");
    let left = containers_running(marker).await;
    common::assert_nothing_left(&common::this_test()).await;

    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "at `Step 3/4 : RUN echo boom && echo {marker} >&2 && exit 3` (exit code 3)"
        )),
        "{text}"
    );
    assert!(text.contains("    | boom"), "{text}");
    assert!(
        text.contains(&format!("    | {marker}")),
        "stderr too: {text}"
    );
    assert!(
        !text.contains("preparing"),
        "output of an earlier step: {text}"
    );
    assert!(!text.contains("Running in"), "builder chatter: {text}");
    let debug = format!("{err:?}");
    assert!(debug.contains("returned a non-zero code: 3"), "{debug}");
    assert!(left.is_empty(), "build containers left: {left:?}");
}

#[tokio::test]
async fn a_failing_step_is_numbered_as_the_dockerfile_has_it_with_its_exit_code() {
    let base = busybox_ref().await;
    // The daemon appends one `LABEL` step per label (here two: this one and testdock's).
    let err = BuildContext::new(format!(
        "FROM {base}\nRUN echo second-of-three && exit 7\nRUN echo never\n"
    ))
    .label("org.example.purpose", "step-numbering")
    .prepare()
    .await
    .expect_err("a failing RUN built");
    common::assert_nothing_left(&common::this_test()).await;

    let text = err.to_string();
    assert!(
        text.contains("at `Step 2/3 : RUN echo second-of-three && exit 7` (exit code 7)"),
        "{text}"
    );
    assert!(text.contains("    | second-of-three"), "{text}");
}

#[tokio::test]
async fn an_image_neither_on_the_daemon_nor_pullable_says_so_and_how_to_make_it() {
    // No registry answers here (offline, or Docker Hub denies a repository that does not
    // exist): either way the image cannot be had by pulling.
    let reference = "testdock-test/on-no-daemon-and-no-registry:1";
    let err = ContainerSpec::new(reference)
        .start()
        .await
        .map(|c| c.name().to_owned())
        .expect_err("an image from nowhere started");
    common::assert_nothing_left(&common::this_test()).await;

    assert!(matches!(err, Error::Image { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("image `{reference}`")), "{text}");
    assert!(
        text.contains("it is not on the daemon, and pulling it failed: "),
        "{text}"
    );
    assert!(!text.contains("is it running"), "a daemon hint: {text}");
    for how in [
        "BuildContext",
        "HostImage",
        "docker load",
        "LocalImage::new(",
    ] {
        assert!(text.contains(how), "{how}: {text}");
    }
    assert!(text.contains(&format!("docker pull {reference}")), "{text}");
    // Why the pull failed is the daemon's own error, kept as the source.
    let source = std::error::Error::source(&err).expect("the daemon's error as source");
    assert!(!text.contains(&source.to_string()), "printed twice: {text}");
}

#[tokio::test]
async fn a_missing_host_file_says_why_in_the_message() {
    let missing = "/definitely/not/here/testdock-missing-binary";
    let binary = testdock::HostImage::new()
        .binary(missing)
        .prepare()
        .await
        .expect_err("a missing binary was imported");
    let file = BuildContext::new("FROM scratch\nCOPY conf /conf\n")
        .file(InjectFile::from_host_file("conf", missing))
        .prepare()
        .await
        .expect_err("a missing context file was built");
    common::assert_nothing_left(&common::this_test()).await;

    for err in [binary, file] {
        assert!(matches!(err, Error::HostIo { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(missing), "{text}");
        assert!(text.contains("No such file or directory"), "{text}");
        assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    }
}

#[tokio::test]
async fn a_build_past_its_time_limit_stops_and_says_so() {
    let base = busybox_ref().await;
    let marker = "testdock-slow-build-marker";
    let limit = Duration::from_secs(2);
    let began = Instant::now();
    let err = BuildContext::new(format!(
        "FROM {base}\nRUN echo started && sleep 60 && echo {marker}\n"
    ))
    .build_timeout(limit)
    .prepare()
    .await
    .expect_err("a 60 s build finished within 2 s");
    let took = began.elapsed();
    // Dropping the request cancels the build: its container goes away soon after.
    let mut left = containers_running(marker).await;
    let deadline = Instant::now() + testdock::timeouts::scaled(Duration::from_secs(20));
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = containers_running(marker).await;
    }
    common::assert_nothing_left(&common::this_test()).await;

    let scaled = testdock::timeouts::scaled(limit);
    let text = err.to_string();
    assert!(text.contains("the build timed out after"), "{text}");
    assert!(text.contains(&format!("(limit {scaled:?}")), "{text}");
    assert!(text.contains("at `Step 2/"), "{text}");
    assert!(text.contains(" : RUN echo started && sleep 60"), "{text}");
    assert!(took < scaled + Duration::from_secs(10), "took {took:?}");
    assert!(left.is_empty(), "the build went on: {left:?}");
}

#[tokio::test]
async fn a_from_dir_context_without_a_dockerfile_fails_before_any_daemon_call() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.conf"), "x").unwrap();
    let err = BuildContext::from_dir(dir.path())
        .prepare()
        .await
        .expect_err("a context without a Dockerfile built");
    common::assert_nothing_left(&common::this_test()).await;

    assert!(matches!(err, Error::InvalidImageInput { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("no Dockerfile at `Dockerfile`"), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}

#[tokio::test]
async fn a_rootfs_that_is_not_a_tarball_fails_start_and_leaves_nothing() {
    let started = ContainerSpec::new(RootfsImage::from_bytes("just some text"))
        .cmd(["/bin/sh"])
        .start()
        .await
        .map(|c| c.name().to_owned());
    let garbage_path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage_path.path(), [0x1f, 0x8b, 0x08, 0x00, 0x01]).unwrap();
    let from_path = RootfsImage::from_path(garbage_path.path()).prepare().await;
    common::assert_nothing_left(&common::this_test()).await;

    let err = started.expect_err("text was imported as a root filesystem");
    assert!(matches!(err, Error::InvalidImageInput { .. }), "{err:?}");
    assert!(err.to_string().contains("not a tar archive"), "{err}");
    let err = from_path.expect_err("a truncated gzip was imported");
    assert!(err.to_string().contains("does not decompress"), "{err}");
}

#[tokio::test]
async fn a_local_image_is_used_as_it_is_and_a_missing_one_says_how_to_make_it() {
    let present = common::busybox().prepare().await.unwrap().reference;
    let ran = ContainerSpec::new(testdock::LocalImage::new(present.clone()))
        .cmd(["echo", "local"])
        .run()
        .await;
    let missing = ContainerSpec::new(testdock::LocalImage::new("testdock-test/never-built:1"))
        .start()
        .await
        .map(|c| c.name().to_owned());
    common::assert_nothing_left(&common::this_test()).await;

    let ran = ran.unwrap();
    assert_eq!(ran.logs.stdout, "local\n");
    let err = missing.expect_err("a missing local image started");
    let text = err.to_string();
    assert!(matches!(err, Error::Image { .. }), "{err:?}");
    assert!(text.contains("not on the daemon"), "{text}");
    assert!(text.contains("never pulled"), "{text}");
    assert!(
        text.contains("docker build -t testdock-test/never-built:1"),
        "{text}"
    );
}
