//! Files injected into a container: from bytes, a host file or a host directory.
//!
//! All of a container's files are tarred in memory and copied with one `put_archive`
//! call after create and before start, so the service boots with them. Missing parent
//! directories are created by the daemon as it unpacks (mode 0755, owned by root);
//! existing directories keep their mode and owner. Add [`InjectFile::dir`] entries
//! when a parent directory needs another mode or owner.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

/// Where an injected file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// In-memory bytes.
    Bytes(Bytes),
    /// A file on the host, read when the archive is built.
    HostFile(PathBuf),
    /// A directory tree on the host, copied recursively (symlinks kept as links).
    HostDir(PathBuf),
    /// An empty directory.
    Dir,
}

/// A file or directory to put into a container, an image or a build context, with its
/// mode and owner: the one file type of testdock.
///
/// - [`ContainerSpec::file`](crate::ContainerSpec::file): copied in after create and
///   before start; the path is absolute inside the container.
/// - [`HostImage::file`](crate::HostImage::file): part of the image's root filesystem.
/// - [`BuildContext::file`](crate::BuildContext::file): part of the build context; the
///   path is relative to the context root (a leading `/` means the root too) and the
///   owner is left to the Dockerfile (`COPY --chown`).
///
/// ```
/// use testdock::InjectFile;
///
/// let config = InjectFile::from_bytes("/etc/app/app.toml", "port = 8080\n");
/// let secret = InjectFile::from_bytes("/run/secrets/token", "s3cr3t")
///     .mode(0o600)
///     .owner(1000, 1000);
/// # let _ = (config, secret);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct InjectFile {
    pub(crate) path: String,
    pub(crate) source: Source,
    pub(crate) mode: Option<u32>,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl InjectFile {
    fn new(path: impl Into<String>, source: Source) -> Self {
        InjectFile {
            path: path.into(),
            source,
            mode: None,
            uid: 0,
            gid: 0,
        }
    }

    /// A file at `path` (absolute, inside the container) holding `content`. Mode 0644.
    pub fn from_bytes(path: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Self::new(path, Source::Bytes(content.into()))
    }

    /// A copy of the host file `host_path` at `path`. Keeps the host file's mode unless
    /// [`mode`](Self::mode) is given.
    pub fn from_host_file(path: impl Into<String>, host_path: impl Into<PathBuf>) -> Self {
        Self::new(path, Source::HostFile(host_path.into()))
    }

    /// A copy of the host directory `host_dir` (recursively) at `path`. Keeps the host
    /// modes; [`mode`](Self::mode) applies to the regular files only.
    pub fn from_host_dir(path: impl Into<String>, host_dir: impl Into<PathBuf>) -> Self {
        Self::new(path, Source::HostDir(host_dir.into()))
    }

    /// An empty directory at `path`. Mode 0755.
    pub fn dir(path: impl Into<String>) -> Self {
        Self::new(path, Source::Dir)
    }

    /// Permission bits (e.g. `0o600` for a secret). Only the low 12 bits are used.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode & 0o7777);
        self
    }

    /// Numeric owner inside the container. Default `0:0`.
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// The absolute path inside the container.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path relative to `/`, after checking it is absolute and stays inside the
    /// container's root.
    pub(crate) fn relative_path(&self) -> Result<String, String> {
        relative_container_path(&self.path)
    }
}

/// Checks a container path and returns it relative to `/`, normalised.
pub(crate) fn relative_container_path(path: &str) -> Result<String, String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!(
            "`{path}` is not an absolute path; container paths start with `/`"
        ));
    }
    let mut parts = Vec::new();
    for component in p.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                return Err(format!("`{path}` contains `..`; give the path without it"))
            }
            Component::Prefix(_) => return Err(format!("`{path}` is not a container path")),
        }
    }
    if parts.is_empty() {
        return Err(format!("`{path}` names the root directory; name a file"));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_absolute_and_stay_inside_the_root() {
        assert_eq!(
            relative_container_path("/etc/app.conf").unwrap(),
            "etc/app.conf"
        );
        assert_eq!(relative_container_path("/a/./b//c").unwrap(), "a/b/c");
        assert!(relative_container_path("etc/app.conf")
            .unwrap_err()
            .contains("not an absolute path"));
        assert!(relative_container_path("/etc/../../x")
            .unwrap_err()
            .contains("`..`"));
        assert!(relative_container_path("/").unwrap_err().contains("root"));
    }

    #[test]
    fn builder_keeps_mode_bits_and_owner() {
        let f = InjectFile::from_bytes("/s", "x").mode(0o100600).owner(7, 8);
        assert_eq!(f.mode, Some(0o600));
        assert_eq!((f.uid, f.gid), (7, 8));
        assert_eq!(f.source, Source::Bytes(Bytes::from_static(b"x")));
    }
}
