//! Where a container's image comes from, and making sure it is present.
//!
//! - [`ImageSource::Registry`]: a [`RegistryImage`], a reference such as `redis:7` pulled
//!   according to its [`PullPolicy`] (by default if missing), with credentials, time
//!   limits and progress.
//! - [`ImageSource::Host`]: a [`HostImage`], host executables with their shared-library
//!   closure packed into a single-layer image: no Dockerfile, no registry.
//! - [`ImageSource::Build`]: a [`BuildContext`], a Dockerfile and its files built in
//!   memory by the daemon, once per distinct context.
//! - [`ImageSource::Rootfs`]: a [`RootfsImage`], a root filesystem tarball imported as a
//!   one-layer image.
//! - [`ImageSource::Archive`]: an [`ImageArchive`], a `docker save` archive, loaded.
//! - [`ImageSource::Local`]: a [`LocalImage`], an image already on the daemon, never
//!   pulled (e.g. built by an earlier CI step).
//!
//! Every source has one verb, `prepare()`, which makes the image present and returns a
//! [`PreparedImage`]; starting a container prepares its image by itself.
//!
//! Images testdock builds or imports are tagged by a hash of their content
//! (`testdock/build:…`, `testdock/host:…`, `testdock/rootfs:…`) and labelled
//! `testdock.managed-by=testdock`. They are a cache and stay, so the next run starts at
//! once; with `TESTDOCK_REMOVE_IMAGES=1` a process's reaper removes the images that
//! process built or imported when it ends (unless a container still uses them).

mod auth;
mod build;
mod config;
pub(crate) mod elf;
mod fingerprint;
mod hashcache;
mod host;
mod import;
pub(crate) use import::{full_id, one_change_per_parameter};
mod local;
mod progress;
mod reference;
mod registry;
mod rootfs;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bollard::Docker;
use once_cell::sync::Lazy;

pub use build::BuildContext;
pub use host::HostImage;
pub use local::LocalImage;
pub use registry::{PullPolicy, RegistryImage};
pub use rootfs::{ImageArchive, RootfsImage};

use crate::error::{status_of, Error, Result};

/// The image a container starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageSource {
    /// An image from a registry (`[host[:port]/]path[:tag][@digest]`), pulled according
    /// to its [`PullPolicy`]. Strings convert to this with the defaults.
    Registry(RegistryImage),
    /// An image made from host executables.
    Host(HostImage),
    /// An image built from an in-memory build context.
    Build(BuildContext),
    /// An image imported from a root filesystem tarball.
    Rootfs(RootfsImage),
    /// An image already on the daemon (built by an earlier CI step, say): never pulled.
    Local(LocalImage),
    /// An image loaded from a `docker save` archive.
    Archive(ImageArchive),
}

impl ImageSource {
    /// What the image is, for messages about a container not created yet.
    pub(crate) fn describe(&self) -> String {
        match self {
            ImageSource::Registry(image) => format!("image `{}`", image.name()),
            ImageSource::Host(image) => image.describe(),
            ImageSource::Build(context) => context.describe(),
            ImageSource::Rootfs(image) => image.describe(),
            ImageSource::Local(image) => format!("local image `{}`", image.name()),
            ImageSource::Archive(archive) => archive.describe(),
        }
    }
}

impl From<&str> for ImageSource {
    fn from(reference: &str) -> Self {
        ImageSource::Registry(RegistryImage::new(reference))
    }
}

impl From<String> for ImageSource {
    fn from(reference: String) -> Self {
        ImageSource::Registry(RegistryImage::new(reference))
    }
}

impl From<&String> for ImageSource {
    fn from(reference: &String) -> Self {
        ImageSource::Registry(RegistryImage::new(reference.as_str()))
    }
}

impl From<RegistryImage> for ImageSource {
    fn from(image: RegistryImage) -> Self {
        ImageSource::Registry(image)
    }
}

impl From<HostImage> for ImageSource {
    fn from(image: HostImage) -> Self {
        ImageSource::Host(image)
    }
}

impl From<BuildContext> for ImageSource {
    fn from(context: BuildContext) -> Self {
        ImageSource::Build(context)
    }
}

impl From<ImageArchive> for ImageSource {
    fn from(archive: ImageArchive) -> Self {
        ImageSource::Archive(archive)
    }
}

impl From<RootfsImage> for ImageSource {
    fn from(image: RootfsImage) -> Self {
        ImageSource::Rootfs(image)
    }
}

/// An image present on the daemon, ready to start containers from: what every image
/// source's `prepare` returns.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{BuildContext, HostImage};
/// // A base made from host binaries, then a Dockerfile on top of it.
/// let base = HostImage::new().binary("/bin/sh").prepare().await?;
/// let app = BuildContext::new(format!("FROM {}\nRUN echo hi\n", base.reference))
///     .prepare()
///     .await?;
/// if !app.cached {
///     println!("built {}", app.reference);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreparedImage {
    /// The reference to create containers from (`testdock/build:<hash>`, `redis:7`, ...).
    pub reference: String,
    /// `true` if the daemon had it already and nothing was built, imported, loaded or
    /// pulled.
    pub cached: bool,
}

impl PreparedImage {
    pub(crate) fn new(reference: impl Into<String>, cached: bool) -> Self {
        PreparedImage {
            reference: reference.into(),
            cached,
        }
    }
}

impl ImageSource {
    /// Makes sure the image is on the daemon (pulling, building, importing or loading
    /// it as its kind says) and returns its reference. Starting a container does this
    /// by itself; call it to use the image otherwise (a Dockerfile's `FROM`).
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        prepare(docker, self).await
    }
}

/// Makes sure the image is present on the daemon.
pub(crate) async fn prepare(docker: &Docker, source: &ImageSource) -> Result<PreparedImage> {
    match source {
        ImageSource::Registry(image) => traced("registry", registry::prepare(docker, image)).await,
        ImageSource::Local(image) => traced("local", image.prepare_with(docker)).await,
        ImageSource::Host(image) => traced("host", image.prepare_with(docker)).await,
        ImageSource::Build(context) => traced("build", context.prepare_with(docker)).await,
        ImageSource::Rootfs(image) => traced("rootfs", image.prepare_with(docker)).await,
        ImageSource::Archive(archive) => traced("archive", archive.prepare_with(docker)).await,
    }
}

/// Runs one image source's preparation in a `testdock.image` span: `source` (`registry`,
/// `local`, `host`, `build`, `rootfs`, `archive`), then the `image` reference, whether
/// it was `cached` (nothing pulled, built, imported or loaded) and `elapsed_ms`.
pub(crate) async fn traced(
    source: &'static str,
    prepare: impl std::future::Future<Output = Result<PreparedImage>>,
) -> Result<PreparedImage> {
    use tracing::field::Empty;
    let span = tracing::info_span!(
        "testdock.image",
        source,
        image = Empty,
        cached = Empty,
        elapsed_ms = Empty,
    );
    let started = Instant::now();
    let result = tracing::Instrument::instrument(prepare, span.clone()).await;
    if let Ok(prepared) = &result {
        span.record("image", prepared.reference.as_str());
        span.record("cached", prepared.cached);
    }
    crate::trace::finished(&span, started.elapsed(), &result);
    result
}

/// The reference to create containers from, the image made present first.
pub(crate) async fn ensure(docker: &Docker, source: &ImageSource) -> Result<String> {
    Ok(prepare(docker, source).await?.reference)
}

/// Per-process de-duplication: concurrent requests for the same image share one
/// preparation instead of racing.
static IN_FLIGHT: Lazy<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    Lazy::new(Default::default);

/// Runs `prepare` for `key` unless `present` says the image exists; at most one
/// preparation per key runs at a time in this process. Returns whether it ran.
pub(crate) async fn once_per_key<P, F>(key: &str, present: P, prepare: F) -> Result<bool>
where
    P: AsyncFnOnce() -> Result<bool>,
    F: AsyncFnOnce() -> Result<()>,
{
    let lock = IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_owned())
        .or_default()
        .clone();
    let _held = lock.lock().await;
    if present().await? {
        mark_present(key);
        return Ok(false);
    }
    prepare().await?;
    mark_present(key);
    // The reaper's own image is not the process's to remove (its session shares it),
    // and registering it would wait for the reaper it is being imported for.
    if key.starts_with("testdock/")
        && !key.starts_with("testdock/reaper:")
        && remove_images_at_exit()
    {
        crate::at_exit::remove_image(key).await;
    }
    Ok(true)
}

/// Environment variable: remove the images this process built or imported (content-hash
/// tagged caches, kept by default) when it ends.
pub(crate) const REMOVE_IMAGES_ENV: &str = "TESTDOCK_REMOVE_IMAGES";

fn remove_images_at_exit() -> bool {
    std::env::var(REMOVE_IMAGES_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Removes image `reference` from the daemon: a [`Container::commit`](crate::Container::commit)
/// snapshot, or an image testdock built or imported (those are a cache and stay
/// otherwise; `TESTDOCK_REMOVE_IMAGES=1` removes them when the process ends). The daemon
/// refuses (status 409) while a container uses it.
///
/// ```no_run
/// # async fn demo(c: testdock::Container) -> testdock::Result<()> {
/// let snapshot = c.commit("myapp/migrated", "v1", &[]).await?;
/// // ... start containers from it ...
/// testdock::remove_image("myapp/migrated:v1").await?;
/// # let _ = snapshot; Ok(()) }
/// ```
pub async fn remove_image(reference: &str) -> Result<()> {
    forget(reference);
    let started = Instant::now();
    let docker = crate::docker::daemon().await?.client();
    docker
        .remove_image(
            reference,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .map(|_| ())
        .map_err(|e| Error::Image {
            image: reference.to_owned(),
            message: "removing the image failed".to_owned(),
            elapsed: started.elapsed(),
            source: Some(Box::new(e)),
        })
}

/// Whether the daemon has `reference`.
pub(crate) async fn exists(docker: &Docker, reference: &str) -> Result<bool> {
    let started = Instant::now();
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(e) if status_of(&e) == Some(404) => Ok(false),
        Err(e) => Err(Error::Image {
            image: reference.to_owned(),
            message: "inspecting the image failed".to_owned(),
            elapsed: started.elapsed(),
            source: Some(Box::new(e)),
        }),
    }
}

/// References this process knows are on the daemon (it found, pulled, built or imported
/// them): looked up without an inspect call. A create that finds one gone (removed by
/// someone else) forgets it and prepares it again (see [`forget`]).
static PRESENT: Lazy<Mutex<HashSet<String>>> = Lazy::new(Default::default);

fn mark_present(reference: &str) {
    PRESENT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(reference.to_owned());
}

/// Forgets that `reference` is on the daemon: the next preparation inspects it again.
pub(crate) fn forget(reference: &str) {
    PRESENT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(reference);
}

/// Whether the daemon has `reference`: inspected once per process while it is there.
pub(crate) async fn present(docker: &Docker, reference: &str) -> Result<bool> {
    let known = PRESENT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(reference);
    if known {
        return Ok(true);
    }
    let found = exists(docker, reference).await?;
    if found {
        mark_present(reference);
    }
    Ok(found)
}

/// Whether a request failed because the image is not on the daemon (a create, say):
/// Docker says `No such image`, Podman `no such image`.
pub(crate) fn no_such_image(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, message }
        if message.to_ascii_lowercase().contains("no such image"))
}
