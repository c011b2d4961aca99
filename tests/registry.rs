//! Registry images against a real local registry (Debian's `docker-registry`): pulls
//! by tag and digest, pull policies, unknown images, unreachable and hanging registries,
//! and one pull shared by concurrent starts.

mod common;
mod registry_support;

use std::time::{Duration, Instant};

use testdock::{Exec, InjectFile, PullPolicy, RegistryImage};

use common::{idle, remove_image};
use registry_support::{has_image, local_reference, push, rand_suffix, tag_as, LocalRegistry};

/// Busybox with `/marker` holding `text`, so two pushes under one tag differ.
fn marked(text: &str) -> testdock::HostImage {
    common::busybox().file(InjectFile::from_bytes("/marker", text.to_owned()))
}

async fn marker_of(image: impl Into<testdock::ImageSource>) -> String {
    let c = idle(image).start().await.expect("start");
    let out = c.exec(Exec::new(["cat", "/marker"])).await.expect("exec");
    c.remove().await.expect("remove");
    out.stdout_text()
}

#[tokio::test]
async fn an_image_pushed_to_a_local_registry_is_pulled_by_tag_and_by_digest_and_runs() {
    let registry = LocalRegistry::start().await;
    let local = local_reference(common::busybox()).await;
    let repo = format!("{}/testdock/busybox", registry.host);
    let tag = rand_suffix();
    let digest = push(&local, &repo, &tag, None).await;
    let by_tag = format!("{repo}:{tag}");
    let by_digest = format!("{repo}@{digest}");
    let absent_before = !has_image(&by_tag).await && !has_image(&by_digest).await;

    let c = idle(by_tag.as_str()).start().await;
    let out = match &c {
        Ok(c) => Some(c.exec(Exec::new(["echo", "pulled"])).await),
        Err(_) => None,
    };
    let image_of_c = c.as_ref().map(|c| c.image().to_owned()).ok();
    if let Ok(c) = c {
        c.remove().await.unwrap();
    }
    let d = idle(by_digest.as_str()).start().await;
    let d_ok = d.as_ref().map(|_| ()).map_err(|e| e.to_string());
    if let Ok(d) = d {
        d.remove().await.unwrap();
    }
    remove_image(&by_tag).await;
    remove_image(&by_digest).await;
    common::assert_nothing_left(&common::this_test()).await;

    assert!(absent_before, "the pushed image was still on the daemon");
    let out = out.expect("the container did not start").unwrap();
    assert_eq!(out.stdout_text(), "pulled\n");
    assert_eq!(image_of_c.as_deref(), Some(by_tag.as_str()));
    assert!(d_ok.is_ok(), "by digest: {d_ok:?}");
}

#[tokio::test]
async fn always_pulls_again_and_follows_a_moved_tag_where_if_missing_does_not() {
    let registry = LocalRegistry::start().await;
    let v1 = local_reference(marked("v1")).await;
    let v2 = local_reference(marked("v2")).await;
    let repo = format!("{}/testdock/moving", registry.host);
    let tag = rand_suffix();
    let reference = format!("{repo}:{tag}");
    let d1 = push(&v1, &repo, &tag, None).await;
    let first = marker_of(reference.as_str()).await;
    // The registry's tag moves to v2; the daemon's copy of the tag stays v1.
    let d2 = push(&v2, &repo, &tag, None).await;
    tag_as(&v1, &repo, &tag).await;
    let if_missing = marker_of(reference.as_str()).await;
    let always = RegistryImage::new(&reference).pull_policy(PullPolicy::Always);
    let after_always = marker_of(always).await;
    // The tag moved off v1, which kept its digest reference: remove both kinds.
    for leftover in [
        reference.clone(),
        format!("{repo}@{d1}"),
        format!("{repo}@{d2}"),
    ] {
        remove_image(&leftover).await;
    }
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(first, "v1", "the first start pulls");
    assert_eq!(if_missing, "v1", "IfMissing used the daemon's copy");
    assert_eq!(after_always, "v2", "Always pulled the moved tag");
}

#[tokio::test]
async fn never_uses_a_present_image_and_fails_for_a_missing_one_naming_the_policy() {
    let registry = LocalRegistry::start().await;
    let local = local_reference(common::busybox()).await;
    let repo = format!("{}/testdock/offline", registry.host);
    let tag = rand_suffix();
    push(&local, &repo, &tag, None).await;
    let reference = format!("{repo}:{tag}");
    let never = || RegistryImage::new(&reference).pull_policy(PullPolicy::Never);
    let missing = idle(never()).start().await.map(|c| c.name().to_owned());
    let pulled_anyway = has_image(&reference).await;
    tag_as(&local, &repo, &tag).await;
    let present = idle(never()).start().await;
    let present = match present {
        Ok(c) => c.remove().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    remove_image(&reference).await;
    common::assert_nothing_left(&common::this_test()).await;

    let text = missing
        .expect_err("Never pulled a missing image")
        .to_string();
    assert!(text.contains(&reference), "{text}");
    assert!(text.contains("pull policy is `never`"), "{text}");
    assert!(text.contains(&format!("docker pull {reference}")), "{text}");
    assert!(!pulled_anyway, "Never pulled the image");
    assert!(present.is_ok(), "{present:?}");
}

#[tokio::test]
async fn an_image_the_registry_does_not_have_is_an_error_naming_it() {
    let registry = LocalRegistry::start().await;
    let reference = format!("{}/nope:1", registry.host);
    let result = idle(reference.as_str())
        .start()
        .await
        .map(|c| c.name().to_owned());
    common::assert_nothing_left(&common::this_test()).await;

    let err = result.expect_err("an unknown image started");
    let text = err.to_string();
    assert!(text.contains(&format!("image `{reference}`")), "{text}");
    assert!(
        text.contains(&format!("`{}` has no `nope:1`", registry.host)),
        "{text}"
    );
    assert_eq!(err.status_code(), Some(404), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_registry_fails_fast_naming_its_host() {
    let started = Instant::now();
    let result = idle("127.0.0.1:1/x:1")
        .start()
        .await
        .map(|c| c.name().to_owned());
    let elapsed = started.elapsed();
    common::assert_nothing_left(&common::this_test()).await;

    let text = result.expect_err("started from nowhere").to_string();
    assert!(
        text.contains("`127.0.0.1:1` could not be reached"),
        "{text}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "took {elapsed:?}: {text}"
    );
}

#[tokio::test]
async fn a_registry_that_stops_answering_fails_on_the_stall_timeout_or_the_pull_timeout() {
    let host = registry_support::hanging_registry().await;
    let reference = format!("{host}/hangs:1");
    let started = Instant::now();
    let stalled = idle(RegistryImage::new(&reference).stall_timeout(Duration::from_secs(2)))
        .start()
        .await
        .map(|c| c.name().to_owned());
    let stall_elapsed = started.elapsed();
    let started = Instant::now();
    let timed_out = idle(
        RegistryImage::new(&reference)
            .pull_timeout(Duration::from_secs(2))
            .stall_timeout(Duration::from_secs(600)),
    )
    .start()
    .await
    .map(|c| c.name().to_owned());
    let timeout_elapsed = started.elapsed();
    common::assert_nothing_left(&common::this_test()).await;

    let limit = testdock::timeouts::scaled(Duration::from_secs(2));
    let text = stalled.expect_err("a hanging pull succeeded").to_string();
    assert!(text.contains(&format!("`{reference}`")), "{text}");
    assert!(
        text.contains(&format!("made no progress for {limit:?}")),
        "{text}"
    );
    assert!(
        text.contains("waiting for the registry to answer"),
        "{text}"
    );
    let text = timed_out.expect_err("a hanging pull succeeded").to_string();
    assert!(
        text.contains(&format!("within the pull timeout of {limit:?}")),
        "{text}"
    );
    for elapsed in [stall_elapsed, timeout_elapsed] {
        assert!(elapsed >= limit && elapsed < limit * 4, "took {elapsed:?}");
    }
}

#[tokio::test]
async fn concurrent_starts_of_one_missing_image_share_one_pull() {
    let registry = LocalRegistry::start().await;
    let local = local_reference(common::busybox()).await;
    let repo = format!("{}/testdock/shared", registry.host);
    let (alone, shared) = (rand_suffix(), rand_suffix());
    push(&local, &repo, &alone, None).await;
    push(&local, &repo, &shared, None).await;
    let reference = |tag: &str| format!("{repo}:{tag}");

    let single = idle(reference(&alone).as_str()).start().await;
    let single_ok = single.is_ok();
    if let Ok(c) = single {
        c.remove().await.unwrap();
    }
    let spec = || idle(reference(&shared).as_str()).start();
    let (a, b, c) = tokio::join!(spec(), spec(), spec());
    let mut started = 0;
    for c in [a, b, c].into_iter().flatten() {
        started += 1;
        c.remove().await.unwrap();
    }
    let (one_pull, three_starts) = (
        registry.manifest_requests("testdock/shared", &alone),
        registry.manifest_requests("testdock/shared", &shared),
    );
    remove_image(&reference(&alone)).await;
    remove_image(&reference(&shared)).await;
    common::assert_nothing_left(&common::this_test()).await;

    assert!(single_ok);
    assert_eq!(started, 3);
    assert!(one_pull > 0, "the registry logged no manifest request");
    assert_eq!(
        three_starts, one_pull,
        "three starts made more than one pull"
    );
}
