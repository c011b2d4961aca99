//! [`BuildContext`]: a Dockerfile and its files, tarred in memory and built by the
//! daemon's classic builder.
//!
//! The context is assembled in memory (sorted entries, mtime 0, owner 0:0), hashed, and
//! tagged `testdock/build:<16 hex digits>`. The hash covers every path, byte, mode and
//! link of the context, the Dockerfile path, the build args, the target stage and the
//! labels, so an identical context is built once per daemon: later requests cost one
//! `inspect_image`. Concurrent requests in one process share one build; two processes
//! racing build the same image twice, harmlessly.

mod context;
mod ignore;
mod output;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use bollard::Docker;
use futures::StreamExt;

use super::PreparedImage;
use crate::error::{Error, Result};
use crate::inject::InjectFile;
use output::BuildLog;

/// Repository under which built images are tagged.
const REPOSITORY: &str = "testdock/build";

/// A Docker build context made in memory: Dockerfile text plus files from bytes, host
/// files and host directories, or a host directory read with its `.dockerignore`.
///
/// Used as a container's image it is built when missing; [`prepare`](Self::prepare) builds
/// it directly and says whether a build happened.
///
/// ```no_run
/// use testdock::{BuildContext, ContainerSpec, InjectFile, HostImage, Probe};
///
/// # async fn demo() -> testdock::Result<()> {
/// // Any local image can be the base, e.g. one made from host binaries.
/// let base = HostImage::new().binary("/bin/sh").binary("/bin/sleep").prepare().await?;
/// let script = "#!/bin/sh\necho ready\nexec sleep 1000\n";
/// let context = BuildContext::new(format!(
///     "FROM {}\nCOPY run.sh /run.sh\nCMD [\"/run.sh\"]\n",
///     base.reference
/// ))
/// .file(InjectFile::from_bytes("run.sh", script).mode(0o755));
/// let c = ContainerSpec::new(context).wait_for(Probe::log("ready")).start().await?;
/// # let _ = c; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct BuildContext {
    /// Dockerfile text put at `dockerfile_path`; `None`: the context holds it.
    dockerfile: Option<String>,
    dockerfile_path: String,
    /// A host directory read (honouring its `.dockerignore`) as the context's base.
    root: Option<PathBuf>,
    files: Vec<InjectFile>,
    args: BTreeMap<String, String>,
    target: Option<String>,
    labels: BTreeMap<String, String>,
    gzip: bool,
    build_timeout: Duration,
}

impl BuildContext {
    /// How long a build may take by default (scaled by `TESTDOCK_TIMEOUT_SCALE`).
    pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(300);

    fn empty() -> Self {
        BuildContext {
            dockerfile: None,
            dockerfile_path: "Dockerfile".to_owned(),
            root: None,
            files: Vec::new(),
            args: BTreeMap::new(),
            target: None,
            labels: BTreeMap::new(),
            gzip: false,
            build_timeout: Self::DEFAULT_BUILD_TIMEOUT,
        }
    }

    /// A context holding only `dockerfile` (the Dockerfile's text); add files with
    /// [`file`](Self::file).
    pub fn new(dockerfile: impl Into<String>) -> Self {
        BuildContext {
            dockerfile: Some(dockerfile.into()),
            ..Self::empty()
        }
    }

    /// The host directory `dir` as the context, with its `Dockerfile`, read when the
    /// context is built. Its `.dockerignore` is honoured as the Docker CLI honours it
    /// (`*`, `?`, `**`, `[a-z]`, `!` exceptions, the last matching line wins, a leading
    /// `/` is ignored); the Dockerfile and `.dockerignore` are always sent. Files added
    /// with [`file`](Self::file) are never ignored.
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// let built = testdock::BuildContext::from_dir("tests/images/app").prepare().await?;
    /// println!("{}", built.reference);
    /// # Ok(()) }
    /// ```
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        BuildContext {
            root: Some(dir.into()),
            ..Self::empty()
        }
    }

    /// Adds a file or directory; a later file at the same path replaces an earlier one.
    pub fn file(mut self, file: InjectFile) -> Self {
        self.files.push(file);
        self
    }

    /// Where the Dockerfile is inside the context (default `Dockerfile`). With
    /// [`new`](Self::new), the text given there is put at this path.
    pub fn dockerfile_path(mut self, path: impl Into<String>) -> Self {
        self.dockerfile_path = path.into();
        self
    }

    /// A build argument (`ARG` in the Dockerfile).
    pub fn arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.args.insert(key.into(), value.into());
        self
    }

    /// The stage of a multi-stage Dockerfile to build (`FROM ... AS <stage>`).
    pub fn target(mut self, stage: impl Into<String>) -> Self {
        self.target = Some(stage.into());
        self
    }

    /// A label on the built image (`testdock.managed-by=testdock` is always added).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sends the context gzip-compressed: less to send for a remote daemon, more CPU
    /// for a local one. The image and its tag are the same either way.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// How long the build may take (default [`DEFAULT_BUILD_TIMEOUT`](Self::DEFAULT_BUILD_TIMEOUT)),
    /// multiplied by `TESTDOCK_TIMEOUT_SCALE`.
    pub fn build_timeout(mut self, timeout: Duration) -> Self {
        self.build_timeout = timeout;
        self
    }

    /// Builds the image unless the daemon has it; returns its reference and whether it
    /// was already there.
    ///
    /// A failed build is an [`Error::Image`] naming the failing step as the Dockerfile
    /// has it (e.g. `Step 3/4 : RUN make` for the third of four instructions), the
    /// exit code of a failed `RUN` and the step's last output lines; the daemon's error
    /// is its source.
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// let context = testdock::BuildContext::new("FROM scratch\nCOPY hello /hello\n")
    ///     .file(testdock::InjectFile::from_bytes("hello", "hi\n"));
    /// let built = context.prepare().await?;
    /// assert!(built.reference.starts_with("testdock/build:"));
    /// # Ok(()) }
    /// ```
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        super::traced("build", self.prepare_with(docker)).await
    }

    /// Builds the image unless the daemon has it. A context seen before (in any
    /// process, see [`super::fingerprint`]) is found from metadata, cached hashes and
    /// one inspect (none once this process knows the image is there), without reading,
    /// tarring and hashing it again.
    pub(crate) async fn prepare_with(&self, docker: &Docker) -> Result<PreparedImage> {
        let recipe = self.clone();
        let before = tokio::task::spawn_blocking(move || recipe.fingerprint())
            .await
            .expect("fingerprinting a build context does not panic");
        if let Some(tag) = before.as_deref().and_then(super::fingerprint::cached_tag) {
            let reference = format!("{REPOSITORY}:{tag}");
            if super::present(docker, &reference).await? {
                return Ok(PreparedImage::new(reference, true));
            }
        }
        let started = Instant::now();
        let recipe = self.clone();
        let (assembled, body) = tokio::task::spawn_blocking(move || {
            let mut assembled = context::assemble(&recipe)?;
            let tar = std::mem::take(&mut assembled.tar);
            let body = if recipe.gzip { gzip(&tar) } else { tar };
            Ok::<_, Error>((assembled, body))
        })
        .await
        .expect("assembling a build context does not panic")?;
        let reference = format!("{REPOSITORY}:{}", assembled.tag);
        // Remembered only if nothing changed while the context was read.
        let recipe = self.clone();
        let after = tokio::task::spawn_blocking(move || recipe.fingerprint())
            .await
            .expect("fingerprinting a build context does not panic");
        if let Some(fingerprint) = after.filter(|a| Some(a) == before.as_ref()) {
            super::fingerprint::remember_tag(&fingerprint, &assembled.tag);
        }
        let (reference_ref, dockerfile) = (&reference, &assembled.dockerfile);
        let built = super::once_per_key(
            &reference,
            || super::present(docker, reference_ref),
            || async move {
                self.run(docker, reference_ref, body, dockerfile, started)
                    .await
            },
        )
        .await?;
        Ok(PreparedImage::new(reference, !built))
    }

    /// Sends the context to `POST /build` and follows the output to its end.
    async fn run(
        &self,
        docker: &Docker,
        reference: &str,
        body: Vec<u8>,
        dockerfile: &str,
        started: Instant,
    ) -> Result<()> {
        let mut labels: HashMap<&str, &str> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        labels.insert(crate::labels::MANAGED_BY, crate::labels::MANAGED_BY_VALUE);
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile(&self.dockerfile_path)
            .t(reference)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .version(BuilderVersion::BuilderV1);
        if !self.args.is_empty() {
            let args: HashMap<&str, &str> = self
                .args
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            options = options.buildargs(&args);
        }
        if let Some(target) = &self.target {
            options = options.target(target);
        }
        let limit = crate::timeouts::scaled(self.build_timeout);
        let mut log = BuildLog::new(labels.len());
        let outcome = tokio::time::timeout(limit, async {
            let mut stream =
                docker.build_image(options.build(), None, Some(bollard::body_full(body.into())));
            while let Some(info) = stream.next().await {
                if let Some(text) = info?.stream {
                    log.feed(&text);
                }
            }
            Ok::<(), bollard::errors::Error>(())
        })
        .await;
        log.finish();
        let (message, source) = match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => (log.failure(&self.dockerfile_path, dockerfile, &e), Some(e)),
            Err(_) => (log.timeout(limit, started.elapsed()), None),
        };
        Err(Error::Image {
            image: reference.to_owned(),
            message: format!("{}: {message}", self.describe()),
            elapsed: started.elapsed(),
            source: source.map(Box::new),
        })
    }

    /// What decides the image, from metadata and cached hashes (see
    /// [`super::fingerprint`]); `None` if something cannot be read.
    fn fingerprint(&self) -> Option<String> {
        use super::fingerprint::{host_file, inject, tree, Fields};
        let mut store = super::hashcache::STORE
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut f = Fields::new(concat!(
            "testdock build context v1 ",
            env!("CARGO_PKG_VERSION")
        ));
        let mut fingerprint = || -> std::io::Result<()> {
            f.add(format!("{:?}", self.dockerfile));
            f.add(&self.dockerfile_path);
            if let Some(root) = &self.root {
                // The files the context takes (as `.dockerignore` says), and the two it
                // always sends.
                f.add(root.as_os_str().as_encoded_bytes());
                let ignore = context::read_ignore(root, "").map_err(std::io::Error::other)?;
                let filter = context::ignore_filter(ignore.as_ref());
                tree(&mut store, &mut f, root, "", &filter)?;
                for kept in [self.dockerfile_path.as_str(), ".dockerignore"] {
                    f.add(kept);
                    if root.join(kept).is_file() {
                        host_file(&mut store, &mut f, &root.join(kept))?;
                    }
                }
            }
            for file in &self.files {
                inject(&mut store, &mut f, file)?;
            }
            f.add(format!(
                "{:?} {:?} {:?}",
                self.args, self.target, self.labels
            ));
            Ok(())
        };
        let done = fingerprint();
        store.flush();
        done.ok()?;
        Some(f.finish())
    }

    /// A short description for errors.
    pub(crate) fn describe(&self) -> String {
        match &self.root {
            Some(root) => format!("build context `{}`", root.display()),
            None => "in-memory build context".to_owned(),
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .expect("compressing into memory does not fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips_and_is_detected_by_its_magic_bytes() {
        use std::io::Read;
        let packed = gzip(b"context");
        assert_eq!(&packed[..2], [0x1f, 0x8b]);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"context");
    }

    #[test]
    fn gzip_does_not_change_the_tag() {
        let a = BuildContext::new("FROM scratch\n");
        let b = a.clone().gzip(true);
        let tag = |c: &BuildContext| context::assemble(c).unwrap().tag;
        assert_eq!(tag(&a), tag(&b));
    }

    #[test]
    fn a_context_fingerprint_follows_what_the_context_sends() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "target\n").unwrap();
        std::fs::create_dir(root.join("target")).unwrap();
        std::fs::write(root.join("target/big"), "ignored").unwrap();
        std::fs::write(root.join("app"), "v1").unwrap();
        let context = BuildContext::from_dir(root);
        let first = context.fingerprint().unwrap();
        std::fs::write(root.join("target/big"), "ignored, changed").unwrap();
        assert_eq!(context.fingerprint().unwrap(), first);
        std::fs::write(root.join("app"), "v2").unwrap();
        let second = context.fingerprint().unwrap();
        assert_ne!(second, first);
        std::fs::write(root.join(".dockerignore"), "target\napp\n").unwrap();
        assert_ne!(context.fingerprint().unwrap(), second);
        let in_memory = BuildContext::new("FROM scratch\n");
        assert_ne!(
            in_memory.fingerprint(),
            in_memory.clone().arg("A", "1").fingerprint()
        );
        assert_eq!(
            in_memory.fingerprint(),
            in_memory.clone().gzip(true).fingerprint()
        );
    }

    #[test]
    fn the_builder_keeps_the_last_value_per_arg_and_label() {
        let c = BuildContext::new("FROM scratch\n")
            .arg("A", "1")
            .arg("A", "2")
            .label("l", "x");
        assert_eq!(c.args["A"], "2");
        assert_eq!(c.labels["l"], "x");
        assert_eq!(c.build_timeout, BuildContext::DEFAULT_BUILD_TIMEOUT);
    }
}
