//! [`Container`]: the handle to a started container.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bollard::models::{ContainerInspectResponse, ContainerTopResponse};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    KillContainerOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
    TopOptions, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures::{Stream, TryStreamExt};

use crate::archive::ArchiveEntry;
use crate::cleanup::RemovalGuard;
use crate::error::{Error, Result, Step};
use crate::exec::{Exec, ExecOutput};
use crate::inject::InjectFile;
use crate::logs::{LogChunk, Logs};
use crate::ports::{PortMap, Protocol};
use crate::timings::StepTimings;
use crate::watch::Watched;

mod top;

/// Default time given to a graceful stop before the daemon kills.
pub(crate) const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What lifecycle learned while starting a container.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) host: String,
    pub(crate) id: String,
    pub(crate) image: String,
    pub(crate) stop_signal: Option<String>,
    pub(crate) test_id: String,
    pub(crate) ports: PortMap,
    pub(crate) timings: StepTimings,
}

/// A started container. Removed by [`remove`](Self::remove), or when dropped.
///
/// Dropping is the safety net, not the plan: it hands the removal to testdock's
/// background teardown thread and returns at once (it never blocks the dropping thread
/// or a runtime worker), so the container may still exist for a moment after the drop
/// (if the process ends first, its reaper removes it). Prefer `c.remove().await?` at
/// the end of a test: it returns once the container is gone, and reports a failed
/// removal.
#[derive(Debug)]
pub struct Container {
    docker: Docker,
    host: String,
    id: String,
    image: String,
    stop_signal: Option<String>,
    test_id: String,
    ports: Mutex<PortMap>,
    timings: StepTimings,
    /// Set by [`stop`](Self::stop), [`kill`](Self::kill) and [`restart`](Self::restart):
    /// a watcher ([`Stack::watch`](crate::compose::Stack::watch)) does not report an
    /// exit the test asked for.
    stopped_on_purpose: Arc<AtomicBool>,
    guard: RemovalGuard,
}

impl Container {
    pub(crate) fn new(docker: Docker, guard: RemovalGuard, parts: Parts) -> Self {
        Container {
            docker,
            host: parts.host,
            id: parts.id,
            image: parts.image,
            stop_signal: parts.stop_signal,
            test_id: parts.test_id,
            ports: Mutex::new(parts.ports),
            timings: parts.timings,
            stopped_on_purpose: Arc::default(),
            guard,
        }
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container's name (`<prefix>-<random>`).
    pub fn name(&self) -> &str {
        self.guard.name()
    }

    /// The image reference it was created from.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// How long each step of its start took (image, create, inject, start, ready).
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// # let spec = testdock::ContainerSpec::new("redis:7");
    /// let c = spec.start().await?;
    /// let t = c.timings();
    /// println!("create {:?}, start {:?}, ready {:?}", t.create, t.start, t.ready);
    /// # Ok(()) }
    /// ```
    pub fn timings(&self) -> &StepTimings {
        &self.timings
    }

    /// The host on which its published ports are reachable (see [`Daemon::host`](crate::Daemon::host));
    /// in [pool mode](crate::pool), the pause container's bridge IP.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host port published for TCP `port` (in [pool mode](crate::pool), `port` itself,
    /// on [`host`](Self::host)).
    pub fn host_port(&self, port: u16) -> Result<u16> {
        self.mapped(port, Protocol::Tcp)
    }

    /// The host port published for UDP `port`.
    pub fn host_port_udp(&self, port: u16) -> Result<u16> {
        self.mapped(port, Protocol::Udp)
    }

    fn mapped(&self, port: u16, protocol: Protocol) -> Result<u16> {
        let ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        ports.get(&(port, protocol)).copied().ok_or_else(|| {
            let mut known: Vec<String> = ports.keys().map(|(n, p)| format!("{n}/{}", p.as_str())).collect();
            known.sort();
            Error::InvalidInput {
                container: self.name().to_owned(),
                message: format!(
                    "port {port}/{} is not published (published: [{}]); add `.expose({port})` to the spec",
                    protocol.as_str(),
                    known.join(", ")
                ),
            }
        })
    }

    /// The host address of TCP `port`, ready for `TcpStream::connect`.
    pub fn addr(&self, port: u16) -> Result<SocketAddr> {
        let host_port = self.host_port(port)?;
        // The host was resolved when the daemon was reached: no DNS here.
        let ip: IpAddr = self.host.parse().map_err(|_| Error::Config {
            message: format!(
                "cannot resolve the daemon host `{}`; set TESTDOCK_HOST to an IP address",
                self.host
            ),
        })?;
        Ok(SocketAddr::new(ip, host_port))
    }

    /// What a watcher needs of this container, without a borrow of it.
    pub(crate) fn watched(&self) -> Watched {
        Watched {
            docker: self.docker.clone(),
            id: self.id.clone(),
            name: self.name().to_owned(),
            image: self.image.clone(),
            stopped_on_purpose: self.stopped_on_purpose.clone(),
        }
    }

    fn error(&self, step: Step, started: Instant, source: bollard::errors::Error) -> Error {
        Error::Docker {
            step,
            container: self.name().to_owned(),
            image: self.image.clone(),
            elapsed: started.elapsed(),
            logs: None,
            source: Box::new(source),
        }
    }

    /// Runs a command inside the container and collects its output and exit code.
    ///
    /// ```no_run
    /// # async fn demo(c: &testdock::Container) -> testdock::Result<()> {
    /// let out = c.exec(testdock::Exec::new(["cat", "/etc/hostname"])).await?;
    /// assert_eq!(out.exit_code, 0);
    /// # Ok(()) }
    /// ```
    pub async fn exec(&self, exec: Exec) -> Result<ExecOutput> {
        let started = Instant::now();
        exec.run(&self.docker, &self.id)
            .await
            .map(|out| out.in_container(self.name()))
            .map_err(|source| Error::Exec {
                container: self.name().to_owned(),
                image: self.image.clone(),
                command: exec.describe(),
                elapsed: started.elapsed(),
                source: Box::new(source),
            })
    }

    /// Everything the container printed so far.
    pub async fn logs(&self) -> Result<Logs> {
        let started = Instant::now();
        crate::logs::snapshot(&self.docker, &self.id)
            .await
            .map_err(|e| self.error(Step::Logs, started, e))
    }

    /// The container's output from the first line on, following it while it runs.
    pub fn log_stream(&self) -> impl Stream<Item = Result<LogChunk>> + Send + 'static {
        let name = self.name().to_owned();
        let image = self.image.clone();
        let started = Instant::now();
        crate::logs::stream(&self.docker, &self.id, true, None).map_err(move |source| {
            Error::Docker {
                step: Step::Logs,
                container: name.clone(),
                image: image.clone(),
                elapsed: started.elapsed(),
                logs: None,
                source: Box::new(source),
            }
        })
    }

    /// Reads a file or directory out of the container, as archive entries (the item's
    /// own name first: reading `/etc/app` gives `app/`, `app/conf.toml`, ...).
    pub async fn read_archive(&self, path: &str) -> Result<Vec<ArchiveEntry>> {
        let started = Instant::now();
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let bytes: Vec<u8> = self
            .docker
            .download_from_container(&self.id, Some(options))
            .try_fold(Vec::new(), |mut acc, chunk| async move {
                acc.extend_from_slice(&chunk);
                Ok(acc)
            })
            .await
            .map_err(|e| self.error(Step::ReadFile, started, e))?;
        crate::archive::read_entries(&bytes).map_err(|source| Error::HostIo {
            action: "unpack the archive of",
            path: path.into(),
            target: Some(format!("container `{}`", self.name())),
            error: source,
        })
    }

    /// Reads one regular file's content out of the container.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let entries = self.read_archive(path).await?;
        match entries.into_iter().next() {
            Some(entry) if entry.kind == crate::archive::EntryKind::File => Ok(entry.data),
            _ => Err(Error::InvalidInput {
                container: self.name().to_owned(),
                message: format!(
                    "`{path}` is not a regular file; use read_archive for directories"
                ),
            }),
        }
    }

    /// Writes files into the running container (one `put_archive` call).
    pub async fn write_files(&self, files: impl IntoIterator<Item = InjectFile>) -> Result<()> {
        let started = Instant::now();
        let files: Vec<InjectFile> = files.into_iter().collect();
        let archive = crate::archive::injection_archive_async(files)
            .await
            .map_err(|e| e.into_error(self.name()))?;
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(&self.id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| self.error(Step::WriteFile, started, e))
    }

    /// Stops the container gracefully (its stop signal, then SIGKILL after 10 s).
    pub async fn stop(&self) -> Result<()> {
        let started = Instant::now();
        self.stopped_on_purpose.store(true, Ordering::Relaxed);
        let mut options = StopContainerOptionsBuilder::default().t(STOP_GRACE.as_secs() as i32);
        if let Some(signal) = &self.stop_signal {
            options = options.signal(signal);
        }
        self.docker
            .stop_container(&self.id, Some(options.build()))
            .await
            .map_err(|e| self.error(Step::Stop, started, e))
    }

    /// Sends `signal` (e.g. `"SIGHUP"`, `"SIGKILL"`) to the main process.
    pub async fn kill(&self, signal: &str) -> Result<()> {
        let started = Instant::now();
        self.stopped_on_purpose.store(true, Ordering::Relaxed);
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(&self.id, Some(options))
            .await
            .map_err(|e| self.error(Step::Kill, started, e))
    }

    /// Restarts the container and refreshes its published ports (they may change).
    pub async fn restart(&self) -> Result<()> {
        let started = Instant::now();
        self.stopped_on_purpose.store(true, Ordering::Relaxed);
        let options = RestartContainerOptionsBuilder::default()
            .t(STOP_GRACE.as_secs() as i32)
            .build();
        self.docker
            .restart_container(&self.id, Some(options))
            .await
            .map_err(|e| self.error(Step::Restart, started, e))?;
        let info = self.inspect().await?;
        if info
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .is_some_and(|l| l.contains_key(crate::labels::POD))
        {
            return Ok(()); // In a pooled namespace: same IP, every port is itself.
        }
        let daemon = crate::docker::daemon().await?;
        let (_host, ports) = crate::reach::address(daemon, &info);
        *self.ports.lock().unwrap_or_else(|e| e.into_inner()) = ports;
        Ok(())
    }

    /// Freezes every process of the container.
    pub async fn pause(&self) -> Result<()> {
        let started = Instant::now();
        self.docker
            .pause_container(&self.id)
            .await
            .map_err(|e| self.error(Step::Pause, started, e))
    }

    /// Resumes a paused container.
    pub async fn unpause(&self) -> Result<()> {
        let started = Instant::now();
        self.docker
            .unpause_container(&self.id)
            .await
            .map_err(|e| self.error(Step::Unpause, started, e))
    }

    /// The daemon's full description of the container.
    pub async fn inspect(&self) -> Result<ContainerInspectResponse> {
        let started = Instant::now();
        crate::docker::compat::inspect_container(&self.docker, &self.id)
            .await
            .map_err(|e| self.error(Step::Inspect, started, e))
    }

    /// The processes running in the container (`ps` output as titles and rows, one
    /// cell a column; the titles are the engine's `ps`'s: Docker's `CMD` is `COMMAND`
    /// under Podman with a busybox `ps`).
    pub async fn top(&self) -> Result<ContainerTopResponse> {
        let started = Instant::now();
        self.docker
            .top_processes(&self.id, None::<TopOptions>)
            .await
            .map(top::columns)
            .map_err(|e| self.error(Step::Top, started, e))
    }

    /// Snapshots the container's filesystem as image `repo:tag` and returns its id.
    /// The image is labelled with testdock's session and test labels and stays until
    /// removed ([`remove_image`](crate::remove_image)).
    /// `changes` are Dockerfile instructions applied to the image config (e.g.
    /// `CMD ["redis-server"]`, `ENV A=b`), one per line.
    pub async fn commit(&self, repo: &str, tag: &str, changes: &[&str]) -> Result<String> {
        let started = Instant::now();
        let options = CommitContainerOptionsBuilder::default()
            .container(&self.id)
            .repo(repo)
            .tag(tag)
            .pause(true);
        // The image carries the session and test labels, so a leak check or `prune` can
        // find snapshots a test made and forgot: in the config (Docker) and as `LABEL`
        // instructions (Podman ignores the config), one `changes` parameter each.
        let mut labels = crate::labels::standard(&self.test_id);
        labels.remove(crate::labels::PID);
        let mut instructions: Vec<String> = changes.iter().map(|c| (*c).to_owned()).collect();
        let mut sorted: Vec<_> = labels.iter().collect();
        sorted.sort();
        for (key, value) in sorted {
            instructions.push(format!(
                "LABEL {key}={}",
                serde_json::Value::from(value.as_str())
            ));
        }
        let changes = instructions.join("\n");
        let options = options.changes(&changes);
        let config = bollard::models::ContainerConfig {
            labels: Some(labels),
            ..Default::default()
        };
        let response = self
            .docker
            .clone()
            .with_request_modifier(crate::image::one_change_per_parameter)
            .commit_container(options.build(), config)
            .await
            .map_err(|e| self.error(Step::Commit, started, e))?;
        Ok(crate::image::full_id(response.id))
    }

    /// Waits until the container exits and returns its exit code (at once if it has
    /// exited already).
    ///
    /// ```no_run
    /// # async fn demo(c: testdock::Container) -> testdock::Result<()> {
    /// let code = c.wait().await?;
    /// assert_eq!(code, 0);
    /// # Ok(()) }
    /// ```
    pub async fn wait(&self) -> Result<i64> {
        let started = Instant::now();
        let code = crate::watch::exit_code(&self.docker, &self.id)
            .await
            .map_err(|e| self.error(Step::Wait, started, e))?;
        match code {
            Some(code) => Ok(code),
            // No answer: read the state instead.
            None => Ok(self
                .inspect()
                .await?
                .state
                .and_then(|s| s.exit_code)
                .unwrap_or(-1)),
        }
    }

    /// One sample of the container's resource usage (memory, CPU, network, block I/O),
    /// as the daemon reports it.
    pub async fn stats(&self) -> Result<bollard::models::ContainerStatsResponse> {
        use futures::StreamExt;
        let started = Instant::now();
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(false)
            .build();
        let mut stats = std::pin::pin!(self.docker.stats(&self.id, Some(options)));
        match stats.next().await {
            Some(Ok(sample)) => Ok(sample),
            Some(Err(e)) => Err(self.error(Step::Stats, started, e)),
            None => Err(Error::InvalidInput {
                container: self.name().to_owned(),
                message: "the daemon sent no statistics (has the container exited?)".to_owned(),
            }),
        }
    }

    /// Kills and removes the container and its anonymous volumes, now. Returns when it
    /// is gone.
    pub async fn remove(self) -> Result<()> {
        let Container {
            docker,
            guard,
            image,
            ..
        } = self;
        let name = guard.name().to_owned();
        let started = Instant::now();
        guard
            .remove(&docker)
            .await
            .map(|_| ())
            .map_err(|e| match e {
                crate::cleanup::RemoveError::Docker { source, .. } => Error::Docker {
                    step: Step::Remove,
                    container: name,
                    image,
                    elapsed: started.elapsed(),
                    logs: None,
                    source: Box::new(source),
                },
                crate::cleanup::RemoveError::Timeout { limit, .. } => Error::Timeout {
                    step: Step::Remove,
                    container: name,
                    image,
                    limit,
                    elapsed: started.elapsed(),
                    waiting_for: None,
                    state: None,
                    logs: Default::default(),
                },
            })
    }
}
