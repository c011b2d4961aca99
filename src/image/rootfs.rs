//! Images from archives: [`RootfsImage`] imports a root filesystem tarball (what
//! `debootstrap` or `docker export` make), [`ImageArchive`] loads what `docker save` made.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use bollard::query_parameters::ImportImageOptionsBuilder;
use bollard::Docker;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::PreparedImage;
use crate::error::{Error, Result};

/// Repository under which imported root filesystems are tagged.
const REPOSITORY: &str = "testdock/rootfs";

/// Where an archive's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Bytes(Bytes),
    Path(PathBuf),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Bytes(b) => format!("{} bytes in memory", b.len()),
            Source::Path(p) => format!("`{}`", p.display()),
        }
    }

    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Source::Bytes(b) => Ok(b.to_vec()),
            Source::Path(p) => std::fs::read(p).map_err(|source| Error::HostIo {
                action: "read",
                path: p.clone(),
                target: Some(what.to_owned()),
                error: source,
            }),
        }
    }
}

/// A root filesystem tarball (plain or gzip-compressed, told apart by its first bytes)
/// imported as a one-layer image, with an optional image config.
///
/// It is tagged `testdock/rootfs:<hash of the tar and the config>` and imported once per
/// daemon; later uses cost reading and hashing the tarball and one `inspect_image`.
///
/// ```no_run
/// use testdock::{ContainerSpec, Probe, RootfsImage};
///
/// # async fn demo() -> testdock::Result<()> {
/// let image = RootfsImage::from_path("tests/data/alpine-rootfs.tar.gz")
///     .default_env("LANG", "C.UTF-8")
///     .default_cmd(["/bin/sh", "-c", "echo ready; exec sleep 1000"]);
/// let c = ContainerSpec::new(image).wait_for(Probe::log("ready")).start().await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct RootfsImage {
    source: Source,
    config: super::config::ImageConfig,
}

impl RootfsImage {
    fn new(source: Source) -> Self {
        RootfsImage {
            source,
            config: Default::default(),
        }
    }

    /// The tarball at `path` on the host, read when the image is needed.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self::new(Source::Path(path.into()))
    }

    /// A tarball held in memory.
    pub fn from_bytes(tarball: impl Into<Bytes>) -> Self {
        Self::new(Source::Bytes(tarball.into()))
    }

    super::config::image_config_methods!();

    /// Imports the image unless the daemon has it (see [`PreparedImage`]).
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// let base = testdock::RootfsImage::from_path("rootfs.tar").prepare().await?;
    /// let context = testdock::BuildContext::new(format!("FROM {}\nRUN echo hi\n", base.reference));
    /// # let _ = context; Ok(()) }
    /// ```
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        super::traced("rootfs", self.prepare_with(docker)).await
    }

    pub(crate) fn describe(&self) -> String {
        format!("rootfs image from {}", self.source.describe())
    }

    /// The image config as Dockerfile instructions for the import's `changes`.
    fn changes(&self) -> Vec<String> {
        self.config.changes()
    }

    /// The uncompressed tarball and the tag it is imported under.
    fn archive(&self) -> Result<(Vec<u8>, String)> {
        let describe = self.describe();
        let raw = self.source.read(&describe)?;
        let tar = plain_tar(raw).map_err(|message| Error::InvalidImageInput {
            image: describe,
            message,
        })?;
        let mut hasher = Sha256::new();
        hasher.update(b"testdock rootfs v1\0");
        hasher.update((tar.len() as u64).to_le_bytes());
        hasher.update(&tar);
        for change in self.changes() {
            hasher.update(change.as_bytes());
            hasher.update([0]);
        }
        let tag = hasher.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((tar, tag))
    }

    /// Imports the image unless the daemon has it.
    pub(crate) async fn prepare_with(&self, docker: &Docker) -> Result<PreparedImage> {
        let started = Instant::now();
        let recipe = self.clone();
        let (tar, tag) = tokio::task::spawn_blocking(move || recipe.archive())
            .await
            .expect("reading a rootfs tarball does not panic")?;
        let reference = format!("{REPOSITORY}:{tag}");
        let imported = super::once_per_key(
            &reference,
            || super::present(docker, &reference),
            || async {
                super::import::import(docker, &reference, &self.changes(), tar)
                    .await
                    .map_err(|e| Error::Image {
                        image: reference.clone(),
                        message: format!("importing the {} failed", self.describe()),
                        elapsed: started.elapsed(),
                        source: Some(Box::new(e)),
                    })
            },
        )
        .await?;
        Ok(PreparedImage::new(reference, !imported))
    }
}

/// The tar archive in `data`, decompressed if it is gzip; an error if it is no tar.
fn plain_tar(data: Vec<u8>) -> Result<Vec<u8>, String> {
    let data = if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&data[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("it starts like gzip but does not decompress: {e}"))?;
        out
    } else {
        data
    };
    let not_tar = |e: std::io::Error| format!("it is not a tar archive (plain or gzip): {e}");
    let mut archive = tar::Archive::new(&data[..]);
    let mut entries = 0usize;
    for entry in archive.entries().map_err(not_tar)? {
        entry.map_err(not_tar)?;
        entries += 1;
    }
    if entries == 0 {
        return Err("the archive is empty (or not a tar archive)".to_owned());
    }
    Ok(data)
}

/// An archive made by `docker save` (or `docker.export_image`), loaded with
/// `POST /images/load`. Compressed archives are fine: the daemon detects gzip, bzip2
/// and xz.
///
/// Loading keeps the archive's names and tags; the images keep their own labels (no
/// `testdock.managed-by` is added). A container started from an archive runs its
/// [`image`](Self::image), by default the first one the daemon reports loading; when the
/// image is named, an archive whose image the daemon has already is not loaded again.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{ContainerSpec, ImageArchive};
/// let archive = ImageArchive::from_path("tests/data/postgres-16.tar").image("postgres:16");
/// let c = ContainerSpec::new(archive).start().await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct ImageArchive {
    source: Source,
    image: Option<String>,
}

impl ImageArchive {
    /// The archive at `path` on the host, read when it is loaded.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        ImageArchive {
            source: Source::Path(path.into()),
            image: None,
        }
    }

    /// An archive held in memory.
    pub fn from_bytes(archive: impl Into<Bytes>) -> Self {
        ImageArchive {
            source: Source::Bytes(archive.into()),
            image: None,
        }
    }

    /// Which of the archive's images containers start from (`repo:tag`); also skips
    /// loading when the daemon has it.
    pub fn image(mut self, name: impl Into<String>) -> Self {
        self.image = Some(name.into());
        self
    }

    pub(crate) fn describe(&self) -> String {
        format!("image archive {}", self.source.describe())
    }

    /// Loads the archive unless the daemon has its [`image`](Self::image) already.
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        super::traced("archive", self.prepare_with(docker)).await
    }

    pub(crate) async fn prepare_with(&self, docker: &Docker) -> Result<PreparedImage> {
        let started = Instant::now();
        if let Some(image) = &self.image {
            if super::present(docker, image).await? {
                return Ok(PreparedImage::new(image.clone(), true));
            }
        }
        let loaded = self.load(docker).await?;
        let failed = |message: String| Error::Image {
            image: self.describe(),
            message,
            elapsed: started.elapsed(),
            source: None,
        };
        match &self.image {
            Some(image) if loaded.iter().any(|l| l == image) => {
                Ok(PreparedImage::new(image.clone(), false))
            }
            Some(image) => Err(failed(format!(
                "it holds no image `{image}`; it loaded: {}",
                loaded.join(", ")
            ))),
            None => Ok(PreparedImage::new(loaded[0].clone(), false)),
        }
    }

    /// Loads the archive's images; returns what the daemon says it loaded: the names
    /// (`repo:tag`) of tagged images and the ids (`sha256:...`) of untagged ones.
    async fn load(&self, docker: &Docker) -> Result<Vec<String>> {
        let started = Instant::now();
        let describe = self.describe();
        let source = self.source.clone();
        let what = describe.clone();
        let data = tokio::task::spawn_blocking(move || source.read(&what))
            .await
            .expect("reading an image archive does not panic")?;
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut stream = docker.import_image(options, bollard::body_full(data.into()), None);
        let mut loaded = Vec::new();
        let mut text = String::new();
        let failed = |message: String, source: Option<bollard::errors::Error>| Error::Image {
            image: describe.clone(),
            message,
            elapsed: started.elapsed(),
            source: source.map(Box::new),
        };
        while let Some(info) = stream.next().await {
            let info = info.map_err(|e| failed("loading it failed".to_owned(), Some(e)))?;
            text.extend(info.stream);
        }
        for line in text.lines() {
            if let Some(name) = loaded_name(line) {
                loaded.push(name.to_owned());
            }
        }
        if loaded.is_empty() {
            return Err(failed(
                format!("the daemon loaded no image from it (is it a `docker save` archive?); it said: {text:?}"),
                None,
            ));
        }
        Ok(loaded)
    }
}

/// The name or id in a `Loaded image: name` / `Loaded image ID: sha256:...` line, as
/// Docker writes it: Podman's fully qualified `docker.io/[library/]name` is shortened.
fn loaded_name(line: &str) -> Option<&str> {
    let line = line.trim();
    line.strip_prefix("Loaded image ID: ")
        .or_else(|| line.strip_prefix("Loaded image: "))
        .map(str::trim)
        .map(|name| {
            name.strip_prefix("docker.io/library/")
                .or_else(|| name.strip_prefix("docker.io/"))
                .unwrap_or(name)
        })
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::TarWriter;

    fn rootfs() -> Vec<u8> {
        let mut tar = TarWriter::new(0);
        tar.file("bin/tool", b"x", 0o755, 0, 0).unwrap();
        tar.symlink("bin/alias", "tool", 0, 0).unwrap();
        tar.finish().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_and_gzipped_tarballs_give_the_same_tar_and_tag() {
        let plain = RootfsImage::from_bytes(rootfs()).archive().unwrap();
        let packed = RootfsImage::from_bytes(gzip(&rootfs())).archive().unwrap();
        assert_eq!(plain, packed);
        assert_eq!(plain.1.len(), 16);
    }

    #[test]
    fn the_tag_changes_with_the_config_and_the_content() {
        let tag = |image: RootfsImage| image.archive().unwrap().1;
        let base = tag(RootfsImage::from_bytes(rootfs()));
        assert_ne!(
            base,
            tag(RootfsImage::from_bytes(rootfs()).default_cmd(["/bin/tool"]))
        );
        assert_ne!(
            base,
            tag(RootfsImage::from_bytes(rootfs()).default_env("A", "1"))
        );
        let mut other = TarWriter::new(0);
        other.file("bin/tool", b"y", 0o755, 0, 0).unwrap();
        assert_ne!(base, tag(RootfsImage::from_bytes(other.finish().unwrap())));
    }

    #[test]
    fn something_that_is_not_a_tarball_is_invalid_input() {
        let err = RootfsImage::from_bytes("hello").archive().unwrap_err();
        assert!(matches!(err, Error::InvalidImageInput { .. }), "{err:?}");
        assert!(
            err.to_string().contains("rootfs image from 5 bytes"),
            "{err}"
        );
        let err = RootfsImage::from_bytes(vec![0x1f, 0x8b, 0, 1])
            .archive()
            .unwrap_err();
        assert!(err.to_string().contains("does not decompress"), "{err}");
        let err = RootfsImage::from_path("/no/such.tar")
            .archive()
            .unwrap_err();
        assert!(
            matches!(err, Error::HostIo { action: "read", .. }),
            "{err:?}"
        );
    }

    #[test]
    fn changes_carry_the_config_and_the_label() {
        let changes = RootfsImage::from_bytes(rootfs())
            .default_entrypoint(["/bin/tool"])
            .default_cmd(["a b"])
            .default_env("K", "v w")
            .default_user("nobody")
            .default_workdir("/srv")
            .changes();
        assert_eq!(
            changes,
            [
                "LABEL testdock.managed-by=testdock",
                "ENTRYPOINT [\"/bin/tool\"]",
                "CMD [\"a b\"]",
                "ENV K=\"v w\"",
                "USER nobody",
                "WORKDIR /srv",
            ]
        );
    }

    #[test]
    fn loaded_lines_give_names_and_ids() {
        assert_eq!(loaded_name("Loaded image: a/b:1\n"), Some("a/b:1"));
        assert_eq!(
            loaded_name("Loaded image: docker.io/testdock/build:1"),
            Some("testdock/build:1")
        );
        assert_eq!(
            loaded_name("Loaded image: docker.io/library/redis:7"),
            Some("redis:7")
        );
        assert_eq!(
            loaded_name("Loaded image ID: sha256:abc"),
            Some("sha256:abc")
        );
        assert_eq!(loaded_name("something else"), None);
    }
}
