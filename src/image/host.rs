//! [`HostImage`]: host executables and their shared libraries as a one-layer image.
//!
//! The root filesystem is tarred in memory (executables, their ELF interpreter and
//! library closure, extra files, symlinks, a `/tmp` and minimal `/etc/passwd` and
//! `/etc/group`) and imported with `POST /images/create?fromSrc=-`. The tag is a hash
//! of that archive and of the image config, so the same recipe is imported once per
//! daemon and costs one inspect call afterwards.

use std::path::PathBuf;
use std::time::Instant;

use bollard::Docker;
use sha2::{Digest, Sha256};

use super::elf::{resolve_closure, ElfError};
use super::PreparedImage;
use crate::archive::{append_inject, TarWriter};
use crate::error::{Error, Result};
use crate::inject::InjectFile;

/// Repository under which host images are tagged.
const REPOSITORY: &str = "testdock/host";

/// An image made of host executables, with no Dockerfile and no registry.
///
/// Each executable is copied with its ELF interpreter and the shared libraries it needs
/// (found by reading the ELF files, as the dynamic loader would: `DT_NEEDED`, `RPATH`,
/// `RUNPATH`, `$ORIGIN`, `/etc/ld.so.conf`). Libraries loaded with `dlopen` at run time
/// (NSS modules, plugins) are not found this way: add them with [`file`](Self::file).
///
/// ```no_run
/// use testdock::{ContainerSpec, HostImage, Probe};
///
/// # async fn demo() -> testdock::Result<()> {
/// let image = HostImage::new()
///     .binary("/bin/sh")
///     .binary("/bin/cat")
///     .default_entrypoint(["/bin/sh", "-c"]);
/// let c = ContainerSpec::new(image)
///     .cmd(["echo ready; exec cat"])
///     .wait_for(Probe::log("ready"))
///     .start()
///     .await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[must_use]
pub struct HostImage {
    binaries: Vec<(PathBuf, String)>,
    files: Vec<InjectFile>,
    symlinks: Vec<(String, String)>,
    accounts: Vec<Account>,
    config: super::config::ImageConfig,
}

/// A user of the image, with a group of the same name and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Account {
    name: String,
    id: u32,
    home: String,
}

impl HostImage {
    /// An empty image (plus `/tmp`, `/etc/passwd` and `/etc/group`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the host executable at `path`, at the same path in the image, with its
    /// interpreter and libraries.
    pub fn binary(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let at = path.to_string_lossy().into_owned();
        self.binary_at(path, at)
    }

    /// Adds the host executable `host_path` at `image_path`, with its interpreter and
    /// libraries (e.g. `env!("CARGO_BIN_EXE_server")` at `/server`).
    pub fn binary_at(
        mut self,
        host_path: impl Into<PathBuf>,
        image_path: impl Into<String>,
    ) -> Self {
        self.binaries.push((host_path.into(), image_path.into()));
        self
    }

    /// Adds a file or directory (from bytes or the host).
    pub fn file(mut self, file: InjectFile) -> Self {
        self.files.push(file);
        self
    }

    /// Adds a symbolic link at `link` pointing to `target` (e.g. busybox applets).
    pub fn symlink(mut self, link: impl Into<String>, target: impl Into<String>) -> Self {
        self.symlinks.push((link.into(), target.into()));
        self
    }

    /// Adds the user `name` with uid and gid `id` and home `home` to `/etc/passwd`, its
    /// group to `/etc/group`, and an `/etc/nsswitch.conf` that reads both from these
    /// files: what a program that looks its own user up (`getpwuid`: PostgreSQL's
    /// `initdb`, OpenSSH, ...) needs to run as a non-root uid. Run as it with
    /// [`default_user`](Self::default_user) or
    /// [`ContainerSpec::user`](crate::ContainerSpec::user).
    ///
    /// ```
    /// use testdock::{HostImage, InjectFile};
    /// let image = HostImage::new()
    ///     .binary("/bin/sh")
    ///     .user_account("app", 999, "/var/lib/app")
    ///     // A home only the user may enter.
    ///     .file(InjectFile::dir("/var/lib/app").mode(0o700).owner(999, 999))
    ///     .default_user("app");
    /// # let _ = image;
    /// ```
    pub fn user_account(
        mut self,
        name: impl Into<String>,
        id: u32,
        home: impl Into<String>,
    ) -> Self {
        self.accounts.push(Account {
            name: name.into(),
            id,
            home: home.into(),
        });
        self
    }

    super::config::image_config_methods!();

    /// Imports the image unless the daemon has it (see [`PreparedImage`]).
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// let base = testdock::HostImage::new().binary("/bin/sh").prepare().await?;
    /// let context = testdock::BuildContext::new(format!("FROM {}\nRUN echo hi\n", base.reference));
    /// # let _ = context; Ok(()) }
    /// ```
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        super::traced("host", self.prepare_with(docker)).await
    }

    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self
            .binaries
            .iter()
            .map(|(host, _)| host.display().to_string())
            .collect();
        format!("host image of [{}]", names.join(", "))
    }

    /// The image config as Dockerfile instructions for the import's `changes`.
    fn changes(&self) -> Vec<String> {
        self.config.changes()
    }

    /// The root filesystem archive (deterministic: fixed mtime, sorted libraries).
    pub(crate) fn rootfs(&self) -> Result<Vec<u8>> {
        let archive_err = |path: &str| {
            let path = PathBuf::from(path);
            move |source| Error::HostIo {
                action: "archive",
                path,
                target: None,
                error: source,
            }
        };
        let mut tar = TarWriter::new(0);
        tar.dir("tmp", 0o1777, 0, 0).map_err(archive_err("/tmp"))?;
        tar.dir("etc", 0o755, 0, 0).map_err(archive_err("/etc"))?;
        for (path, content) in self.account_files() {
            tar.file(&path[1..], &content, 0o644, 0, 0)
                .map_err(archive_err(path))?;
        }

        let mut written = std::collections::BTreeMap::<String, PathBuf>::new();
        for (host, at) in &self.binaries {
            let closure = resolve_closure(host).map_err(|e| self.elf_error(at, e))?;
            written.insert(at.clone(), closure.executable.clone());
            if let Some(interp) = &closure.interpreter {
                written.insert(interp.to_string_lossy().into_owned(), interp.clone());
            }
            for (in_image, host_file) in closure.libraries {
                written.insert(in_image.to_string_lossy().into_owned(), host_file);
            }
        }
        for (at, host) in &written {
            let rel = crate::inject::relative_container_path(at).map_err(|message| {
                Error::InvalidImageInput {
                    image: self.describe(),
                    message,
                }
            })?;
            let data = std::fs::read(host).map_err(|source| Error::HostIo {
                action: "read",
                path: host.clone(),
                target: Some(format!("`{at}` in the {}", self.describe())),
                error: source,
            })?;
            tar.file(&rel, &data, 0o755, 0, 0)
                .map_err(archive_err(at))?;
        }
        for file in &self.files {
            append_inject(&mut tar, file).map_err(|e| e.into_image_error(&self.describe()))?;
        }
        for (link, target) in &self.symlinks {
            let rel = crate::inject::relative_container_path(link).map_err(|message| {
                Error::InvalidImageInput {
                    image: self.describe(),
                    message,
                }
            })?;
            tar.symlink(&rel, target, 0, 0).map_err(archive_err(link))?;
        }
        tar.finish().map_err(archive_err("/"))
    }

    /// The error for the executable added at `at`: a file that cannot be read is a
    /// host I/O error (showing why), anything else an unusable recipe.
    fn elf_error(&self, at: &str, e: ElfError) -> Error {
        match e {
            ElfError::Io { path, source } => {
                let target = if path.as_os_str() == at {
                    format!("the {}", self.describe())
                } else {
                    format!("`{at}` in the {}", self.describe())
                };
                Error::HostIo {
                    action: "read",
                    path,
                    target: Some(target),
                    error: source,
                }
            }
            other => Error::InvalidImageInput {
                image: self.describe(),
                message: other.to_string(),
            },
        }
    }

    /// Imports the image unless the daemon has it.
    ///
    /// A recipe seen before (in any process, see [`super::fingerprint`]) is found from
    /// file metadata and one inspect (none once this process knows the image is there),
    /// without reading or archiving the host files.
    pub(crate) async fn prepare_with(&self, docker: &Docker) -> Result<PreparedImage> {
        let recipe = self.clone();
        let before = tokio::task::spawn_blocking(move || recipe.fingerprint())
            .await
            .expect("fingerprinting a host image does not panic");
        if let Some(tag) = before.as_deref().and_then(super::fingerprint::cached_tag) {
            let reference = format!("{REPOSITORY}:{tag}");
            if super::present(docker, &reference).await? {
                return Ok(PreparedImage::new(reference, true));
            }
        }
        let started = Instant::now();
        let (rootfs, changes) = self.archive().await?;
        let mut hasher = Sha256::new();
        hasher.update(&rootfs);
        for change in &changes {
            hasher.update(change.as_bytes());
            hasher.update([0]);
        }
        let digest = hasher.finalize();
        let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let reference = format!("{REPOSITORY}:{tag}");
        // Remembered only if nothing changed while the archive was made.
        let recipe = self.clone();
        let after = tokio::task::spawn_blocking(move || recipe.fingerprint())
            .await
            .expect("fingerprinting a host image does not panic");
        if let Some(fingerprint) = after.filter(|a| Some(a) == before.as_ref()) {
            super::fingerprint::remember_tag(&fingerprint, &tag);
        }

        let imported = self
            .import(docker, REPOSITORY, &tag, rootfs, changes, started)
            .await?;
        Ok(PreparedImage::new(reference, !imported))
    }

    /// What decides the image, from metadata and cached hashes (see
    /// [`super::fingerprint`]); `None` if some file cannot be read.
    fn fingerprint(&self) -> Option<String> {
        use super::fingerprint::{closure, host_file, inject, Fields};
        let mut store = super::hashcache::STORE
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut f = Fields::new(concat!(
            "testdock host image v1 ",
            env!("CARGO_PKG_VERSION")
        ));
        for (path, content) in self.account_files() {
            f.add(path);
            f.add(content);
        }
        let mut written = std::collections::BTreeMap::<String, PathBuf>::new();
        for (host, at) in &self.binaries {
            let closure = closure(&mut store, host).ok()?;
            written.insert(at.clone(), closure.executable.clone());
            if let Some(interp) = &closure.interpreter {
                written.insert(interp.to_string_lossy().into_owned(), interp.clone());
            }
            for (in_image, host_file) in closure.libraries {
                written.insert(in_image.to_string_lossy().into_owned(), host_file);
            }
        }
        let mut fingerprint = || -> std::io::Result<()> {
            for (at, host) in &written {
                f.add(at);
                host_file(&mut store, &mut f, host)?;
            }
            for file in &self.files {
                inject(&mut store, &mut f, file)?;
            }
            for (link, target) in &self.symlinks {
                f.add(link);
                f.add(target);
            }
            for change in self.changes() {
                f.add(change);
            }
            Ok(())
        };
        let done = fingerprint();
        store.flush();
        done.ok()?;
        Some(f.finish())
    }
}

impl HostImage {
    /// Imports the image as `repository:tag` unless the daemon has that reference,
    /// without hashing the content: for images whose tag says what they hold by other
    /// means (testdock's reaper image is tagged with testdock's version).
    pub(crate) async fn ensure_tagged(
        &self,
        docker: &Docker,
        repository: &str,
        tag: &str,
    ) -> Result<String> {
        let reference = format!("{repository}:{tag}");
        if super::present(docker, &reference).await? {
            return Ok(reference);
        }
        let started = Instant::now();
        let (rootfs, changes) = self.archive().await?;
        self.import(docker, repository, tag, rootfs, changes, started)
            .await?;
        Ok(reference)
    }

    /// The rootfs archive and the import's `changes`, made off the runtime's threads.
    async fn archive(&self) -> Result<(Vec<u8>, Vec<String>)> {
        let recipe = self.clone();
        tokio::task::spawn_blocking(move || recipe.rootfs().map(|tar| (tar, recipe.changes())))
            .await
            .expect("building a rootfs archive does not panic")
    }

    /// Imports `rootfs` as `repository:tag`, once per reference in flight.
    async fn import(
        &self,
        docker: &Docker,
        repository: &str,
        tag: &str,
        rootfs: Vec<u8>,
        changes: Vec<String>,
        started: Instant,
    ) -> Result<bool> {
        let reference = format!("{repository}:{tag}");
        super::once_per_key(
            &reference,
            || super::present(docker, &reference),
            || async {
                super::import::import(docker, &reference, &changes, rootfs)
                    .await
                    .map_err(|e| Error::Image {
                        image: reference.clone(),
                        message: format!("importing the {} failed", self.describe()),
                        elapsed: started.elapsed(),
                        source: Some(Box::new(e)),
                    })
            },
        )
        .await
    }
}

impl HostImage {
    /// `/etc/passwd` and `/etc/group` (root, nobody and the added accounts), and with
    /// accounts added an `/etc/nsswitch.conf` reading them from files.
    fn account_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut passwd = PASSWD.to_vec();
        let mut group = GROUP.to_vec();
        for Account { name, id, home } in &self.accounts {
            passwd.extend(format!("{name}:x:{id}:{id}:{name}:{home}:/bin/false\n").bytes());
            group.extend(format!("{name}:x:{id}:\n").bytes());
        }
        let mut files = vec![("/etc/passwd", passwd), ("/etc/group", group)];
        if !self.accounts.is_empty() {
            files.push(("/etc/nsswitch.conf", NSSWITCH.to_vec()));
        }
        files
    }
}

/// Users and groups from the files above; hosts from `/etc/hosts` (which Docker
/// writes), then DNS.
const NSSWITCH: &[u8] = b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n";

const PASSWD: &[u8] =
    b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &[u8] = b"root:x:0:\nnogroup:x:65534:\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{read_entries, EntryKind};

    #[test]
    fn rootfs_holds_the_binary_its_interpreter_and_libc() {
        let tar = HostImage::new().binary("/bin/sh").rootfs().unwrap();
        let entries = read_entries(&tar).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"bin/sh"), "{paths:?}");
        assert!(paths.iter().any(|p| p.ends_with("libc.so.6")), "{paths:?}");
        assert!(paths.iter().any(|p| p.contains("ld-linux")), "{paths:?}");
        let tmp = entries.iter().find(|e| e.path == "tmp/").unwrap();
        assert_eq!((tmp.kind, tmp.mode), (EntryKind::Dir, 0o1777));
    }

    #[test]
    fn rootfs_is_deterministic_and_changes_with_the_recipe() {
        let a = HostImage::new().binary("/bin/sh");
        assert_eq!(a.rootfs().unwrap(), a.rootfs().unwrap());
        let b = a.clone().file(InjectFile::from_bytes("/etc/x", "1"));
        assert_ne!(a.rootfs().unwrap(), b.rootfs().unwrap());
    }

    #[test]
    fn changes_carry_entrypoint_env_and_the_label() {
        let changes = HostImage::new()
            .default_entrypoint(["/bin/sh", "-c"])
            .default_env("A", "b c")
            .default_user("nobody")
            .changes();
        assert_eq!(changes[0], "LABEL testdock.managed-by=testdock");
        assert!(changes.contains(&"ENTRYPOINT [\"/bin/sh\",\"-c\"]".to_owned()));
        assert!(changes.contains(&"ENV A=\"b c\"".to_owned()));
        assert!(changes.contains(&"USER nobody".to_owned()));
    }

    #[test]
    fn accounts_go_to_passwd_group_and_nsswitch() {
        let plain = HostImage::new().rootfs().unwrap();
        let plain = read_entries(&plain).unwrap();
        assert!(!plain.iter().any(|e| e.path == "etc/nsswitch.conf"));
        let tar = HostImage::new()
            .user_account("postgres", 999, "/var/lib/postgresql")
            .rootfs()
            .unwrap();
        let entries = read_entries(&tar).unwrap();
        let text = |path: &str| {
            let entry = entries.iter().find(|e| e.path == path).unwrap();
            String::from_utf8(entry.data.clone()).unwrap()
        };
        assert!(text("etc/passwd").contains("\npostgres:x:999:999:postgres:/var/lib/postgresql:"));
        assert!(text("etc/passwd").starts_with("root:x:0:0:"));
        assert!(text("etc/group").ends_with("postgres:x:999:\n"));
        assert!(text("etc/nsswitch.conf").contains("passwd: files"));
    }

    #[test]
    fn a_non_elf_binary_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let err = HostImage::new().binary(&script).rootfs().unwrap_err();
        assert!(err.to_string().contains("not an ELF"), "{err}");
    }
}
