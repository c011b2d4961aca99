//! In-memory tar archives: writing them for `put_archive` and image imports, reading
//! what `get_archive` returns.

use std::io::{self, Read};
use std::path::Path;

use crate::host_tree::{self, host_mode, HostNode};
use crate::inject::{InjectFile, Source};

/// Writes a tar archive into memory, with GNU headers (long paths, large ids).
pub(crate) struct TarWriter {
    builder: tar::Builder<Vec<u8>>,
    mtime: u64,
}

impl std::fmt::Debug for TarWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarWriter")
            .field("mtime", &self.mtime)
            .finish_non_exhaustive()
    }
}

impl TarWriter {
    /// An empty archive whose entries carry modification time `mtime` (seconds since the
    /// epoch; 0 makes the bytes depend on the content only).
    pub(crate) fn new(mtime: u64) -> Self {
        TarWriter {
            builder: tar::Builder::new(Vec::new()),
            mtime,
        }
    }

    fn header(&self, kind: tar::EntryType, mode: u32, uid: u32, gid: u32) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        header.set_mtime(self.mtime);
        header.set_size(0);
        header
    }

    /// Adds a regular file.
    pub(crate) fn file(
        &mut self,
        path: &str,
        data: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> io::Result<()> {
        let mut header = self.header(tar::EntryType::Regular, mode, uid, gid);
        header.set_size(data.len() as u64);
        self.builder.append_data(&mut header, path, data)
    }

    /// Adds a directory.
    pub(crate) fn dir(&mut self, path: &str, mode: u32, uid: u32, gid: u32) -> io::Result<()> {
        let mut header = self.header(tar::EntryType::Directory, mode, uid, gid);
        let path = format!("{}/", path.trim_end_matches('/'));
        self.builder.append_data(&mut header, path, io::empty())
    }

    /// Adds a symbolic link at `path` pointing to `target`.
    pub(crate) fn symlink(
        &mut self,
        path: &str,
        target: &str,
        uid: u32,
        gid: u32,
    ) -> io::Result<()> {
        let mut header = self.header(tar::EntryType::Symlink, 0o777, uid, gid);
        self.builder.append_link(&mut header, path, target)
    }

    /// The finished archive.
    pub(crate) fn finish(self) -> io::Result<Vec<u8>> {
        self.builder.into_inner()
    }
}

/// Why an injection archive could not be built.
#[derive(Debug)]
pub(crate) enum InjectArchiveError {
    /// A container path is not usable.
    BadPath(String),
    /// A host file or directory could not be read.
    Host {
        action: &'static str,
        path: std::path::PathBuf,
        /// The container path the host file was for.
        target: String,
        source: io::Error,
    },
}

impl InjectArchiveError {
    /// The crate error for this failure, for the container `owner`.
    pub(crate) fn into_error(self, owner: &str) -> crate::Error {
        self.into_error_with(owner, |message| crate::Error::InvalidInput {
            container: owner.to_owned(),
            message,
        })
    }

    /// The crate error for this failure, for the image recipe described by `image`.
    pub(crate) fn into_image_error(self, image: &str) -> crate::Error {
        self.into_error_with(image, |message| crate::Error::InvalidImageInput {
            image: image.to_owned(),
            message,
        })
    }

    fn into_error_with(
        self,
        owner: &str,
        invalid: impl FnOnce(String) -> crate::Error,
    ) -> crate::Error {
        match self {
            InjectArchiveError::BadPath(message) => invalid(message),
            InjectArchiveError::Host {
                action,
                path,
                target,
                source,
            } => crate::Error::HostIo {
                action,
                path,
                target: Some(format!("`{target}` in `{owner}`")),
                error: source,
            },
        }
    }
}

/// Builds the one archive holding all of a container's injected files, rooted at `/`.
pub(crate) fn injection_archive(files: &[InjectFile]) -> Result<Vec<u8>, InjectArchiveError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    injection_archive_at(files, now)
}

/// [`injection_archive`] with every entry's modification time `mtime`: the same files
/// give the same bytes (what a spec's fingerprint hashes).
pub(crate) fn injection_archive_at(
    files: &[InjectFile],
    mtime: u64,
) -> Result<Vec<u8>, InjectArchiveError> {
    let mut tar = TarWriter::new(mtime);
    for file in files {
        append_inject(&mut tar, file)?;
    }
    tar.finish().map_err(|source| InjectArchiveError::Host {
        action: "archive",
        path: "/".into(),
        target: "/".into(),
        source,
    })
}

/// [`injection_archive`] on a blocking thread: it reads host files and walks host
/// directories, which must not stall the async runtime's workers.
pub(crate) async fn injection_archive_async(
    files: Vec<InjectFile>,
) -> Result<Vec<u8>, InjectArchiveError> {
    match tokio::task::spawn_blocking(move || injection_archive(&files)).await {
        Ok(archive) => archive,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(InjectArchiveError::Host {
            action: "archive",
            path: "/".into(),
            target: "/".into(),
            source: io::Error::other(e),
        }),
    }
}

/// Appends one injected file (or directory tree) to `tar`.
pub(crate) fn append_inject(
    tar: &mut TarWriter,
    file: &InjectFile,
) -> Result<(), InjectArchiveError> {
    let io_err = |action, path: &Path| {
        let path = path.to_path_buf();
        let target = file.path.clone();
        move |source| InjectArchiveError::Host {
            action,
            path,
            target,
            source,
        }
    };
    let rel = file.relative_path().map_err(InjectArchiveError::BadPath)?;
    let written = match &file.source {
        Source::Bytes(data) => tar.file(&rel, data, file.mode.unwrap_or(0o644), file.uid, file.gid),
        Source::Dir => tar.dir(&rel, file.mode.unwrap_or(0o755), file.uid, file.gid),
        Source::HostFile(host) => {
            let meta = std::fs::metadata(host).map_err(io_err("read", host))?;
            if !meta.is_file() {
                return Err(InjectArchiveError::BadPath(format!(
                    "host path `{}` for `{}` is not a regular file{}",
                    host.display(),
                    file.path,
                    if meta.is_dir() {
                        "; use InjectFile::from_host_dir for a directory"
                    } else {
                        ""
                    }
                )));
            }
            let data = std::fs::read(host).map_err(io_err("read", host))?;
            let mode = file.mode.unwrap_or_else(|| host_mode(&meta));
            tar.file(&rel, &data, mode, file.uid, file.gid)
        }
        Source::HostDir(host) => {
            let meta = std::fs::metadata(host).map_err(io_err("read", host))?;
            if !meta.is_dir() {
                return Err(InjectArchiveError::BadPath(format!(
                    "host path `{}` for `{}` is not a directory",
                    host.display(),
                    file.path
                )));
            }
            return add_host_dir(tar, &rel, host, file).map_err(io_err("walk", host));
        }
    };
    written.map_err(|source| InjectArchiveError::Host {
        action: "archive",
        path: file.path.clone().into(),
        target: file.path.clone(),
        source,
    })
}

/// Adds `host` and everything below it at `rel` (see [`crate::host_tree`]).
fn add_host_dir(tar: &mut TarWriter, rel: &str, host: &Path, file: &InjectFile) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(host)?;
    tar.dir(rel, host_mode(&meta), file.uid, file.gid)?;
    let mut written = Ok(());
    host_tree::walk(host, rel, &host_tree::everything, &mut |child, node| {
        if written.is_err() {
            return;
        }
        written = match node {
            HostNode::Symlink { target } => tar.symlink(&child, &target, file.uid, file.gid),
            HostNode::Dir { mode } => tar.dir(&child, mode, file.uid, file.gid),
            HostNode::File { data, mode } => {
                tar.file(&child, &data, file.mode.unwrap_or(mode), file.uid, file.gid)
            }
        };
    })
    .map_err(|e| e.source)?;
    written
}

/// What an archive entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link.
    HardLink,
    /// Anything else (device, fifo, ...).
    Other,
}

/// One entry read out of a container with [`Container::read_archive`](crate::Container::read_archive).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveEntry {
    /// Path inside the archive (the copied item's own name first, e.g. `app/conf.toml`);
    /// a directory's ends with `/` (`app/`), whichever engine made the archive.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits (the low 12 bits: no file-type bits).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Link target, for links.
    pub link_target: Option<String>,
    /// Content, for regular files.
    pub data: Vec<u8>,
}

/// Reads every entry of an uncompressed tar archive.
pub(crate) fn read_entries(archive: &[u8]) -> io::Result<Vec<ArchiveEntry>> {
    let mut out = Vec::new();
    for entry in tar::Archive::new(archive).entries()? {
        let mut entry = entry?;
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::HardLink,
            _ => EntryKind::Other,
        };
        let mode = header.mode()? & 0o7777;
        let uid = header.uid()?;
        let gid = header.gid()?;
        let mut path = entry.path()?.to_string_lossy().into_owned();
        // Docker writes directories as `dir/`, Podman as `dir`.
        if kind == EntryKind::Dir && !path.ends_with('/') {
            path.push('/');
        }
        let link_target = entry.link_name()?.map(|p| p.to_string_lossy().into_owned());
        let mut data = Vec::new();
        if kind == EntryKind::File {
            entry.read_to_end(&mut data)?;
        }
        out.push(ArchiveEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            link_target,
            data,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_archive_round_trips_content_mode_and_owner() {
        let files = [
            InjectFile::from_bytes("/etc/app/app.conf", "port=1\n"),
            InjectFile::from_bytes("/run/secrets/key", "k")
                .mode(0o600)
                .owner(1000, 1001),
            InjectFile::dir("/var/data").mode(0o700).owner(5, 5),
        ];
        let tar = injection_archive(&files).unwrap();
        let entries = read_entries(&tar).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, "etc/app/app.conf");
        assert_eq!(entries[0].data, b"port=1\n");
        assert_eq!(entries[0].mode, 0o644);
        assert_eq!(
            (entries[1].mode, entries[1].uid, entries[1].gid),
            (0o600, 1000, 1001)
        );
        assert_eq!(entries[2].kind, EntryKind::Dir);
        assert_eq!(entries[2].mode, 0o700);
    }

    #[test]
    fn no_parent_directory_entries_are_written() {
        // The daemon creates missing parents; writing them would reset the mode of
        // existing ones such as /tmp.
        let tar = injection_archive(&[InjectFile::from_bytes("/tmp/a/b/c", "x")]).unwrap();
        let entries = read_entries(&tar).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path, "tmp/a/b/c");
    }

    #[test]
    fn host_dir_is_copied_recursively_with_links_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("sub/run.sh"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("a.txt", dir.path().join("link")).unwrap();

        let tar =
            injection_archive(&[InjectFile::from_host_dir("/opt/app", dir.path()).owner(3, 4)])
                .unwrap();
        let entries = read_entries(&tar).unwrap();
        let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "opt/app/",
                "opt/app/a.txt",
                "opt/app/link",
                "opt/app/sub/",
                "opt/app/sub/run.sh"
            ]
        );
        let run = &entries[4];
        assert_eq!((run.mode, run.uid, run.gid), (0o751, 3, 4));
        assert_eq!(entries[2].link_target.as_deref(), Some("a.txt"));
    }

    #[test]
    fn host_file_keeps_its_mode_unless_overridden() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("tool");
        std::fs::write(&host, "bin").unwrap();
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tar = injection_archive(&[
            InjectFile::from_host_file("/usr/bin/tool", &host),
            InjectFile::from_host_file("/usr/bin/tool2", &host).mode(0o700),
        ])
        .unwrap();
        let entries = read_entries(&tar).unwrap();
        assert_eq!(entries[0].mode, 0o755);
        assert_eq!(entries[1].mode, 0o700);
        assert_eq!(entries[1].data, b"bin");
    }

    #[test]
    fn a_missing_host_file_or_relative_path_is_reported() {
        let err =
            injection_archive(&[InjectFile::from_host_file("/x", "/no/such/file")]).unwrap_err();
        assert!(
            matches!(err, InjectArchiveError::Host { action: "read", .. }),
            "{err:?}"
        );
        let err = injection_archive(&[InjectFile::from_bytes("x", "")]).unwrap_err();
        assert!(matches!(err, InjectArchiveError::BadPath(_)), "{err:?}");
    }

    #[test]
    fn writer_output_depends_only_on_content_when_mtime_is_fixed() {
        let make = || {
            let mut w = TarWriter::new(0);
            w.file("a", b"1", 0o644, 0, 0).unwrap();
            w.symlink("b", "a", 0, 0).unwrap();
            w.finish().unwrap()
        };
        assert_eq!(make(), make());
    }
}
