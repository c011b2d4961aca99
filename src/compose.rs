//! [`Compose`]: a `docker-compose.yml` brought up natively, with testdock's own
//! lifecycle (no `docker compose` binary), as a [`Stack`] of [`Container`](crate::Container)s.
//!
//! Every service is a [`ContainerSpec`] started like any other container, so every
//! guarantee holds for a stack too: images from registries (pull policy) or built in
//! memory ([`BuildContext`](crate::BuildContext)), labels, readiness with fail-fast and
//! the last log lines in errors, teardown on every path (drop, panic, error) and the
//! reaper when the process dies.
//!
//! ```no_run
//! use testdock::compose::Compose;
//! use testdock::{Exec, InjectFile, Probe};
//!
//! # async fn demo() -> testdock::Result<()> {
//! let stack = Compose::from_file("tests/compose/app.yml")?
//!     // What compose lacks: a file in place before the service boots ...
//!     .file("db", InjectFile::from_bytes("/etc/db.conf", "fsync=off\n"))
//!     // ... and a readiness probe of testdock's.
//!     .wait_for("web", Probe::log("listening"))
//!     .up()
//!     .await?;
//! let web = stack.service("web");
//! let addr = web.addr(8080)?; // published on 127.0.0.1
//! let out = stack.service("db").exec(Exec::new(["cat", "/etc/db.conf"])).await?;
//! # let _ = (addr, out);
//! stack.down().await?; // or drop it: removal is guaranteed either way
//! # Ok(()) }
//! ```
//!
//! In `#[container_test]`, `compose = "tests/stack.yml"` (a file relative to the crate's
//! root) or `compose = expr` (any [`Compose`]) brings a stack up for the test, and an
//! argument of type [`Stack`] takes it:
//!
//! ```no_run
//! use testdock::compose::{Compose, Stack};
//!
//! fn offline(path: &str) -> Compose {
//!     let busybox = testdock::HostImage::new().binary("/bin/busybox");
//!     Compose::from_file(path).expect("a valid file").image("web", busybox)
//! }
//!
//! #[testdock::container_test(compose = offline("tests/compose/app.yml"))]
//! async fn web_answers(stack: Stack) {
//!     let _addr = stack.service("web").addr(8080).unwrap();
//! }
//! ```
//!
//! ## What a file may hold
//!
//! | key | how |
//! |---|---|
//! | `image`, `pull_policy` | a [`RegistryImage`](crate::RegistryImage) (a local image is used as is); `pull_policy`: `always`, `never`, `missing` |
//! | `build` | a [`BuildContext`](crate::BuildContext) of the context directory (`.dockerignore` honoured), `dockerfile`, `dockerfile_inline`, `args`, `target`; tagged by content hash (an `image` name beside it is not applied) |
//! | `command`, `entrypoint` | list, or a string split like a shell would |
//! | `environment`, `env_file` | list or map; a name without value is taken from this process's environment |
//! | `ports` | short or long syntax; published on `127.0.0.1` unless the file names an address |
//! | `expose` | accepted (services on the stack's network reach every port anyway) |
//! | `volumes`, `tmpfs` | named volumes (declared at the top level) become [`Volume`](crate::Volume)s of the stack; binds (relative to the file's directory); anonymous volumes; tmpfs |
//! | `networks` | the networks a service joins (`default` if none), each with `aliases`; each network of the file is a [`Network`](crate::Network) of the stack; every service is reachable by its name on each of its networks |
//! | `healthcheck` | `test`, `interval`, `timeout`, `retries`, `start_period` (unset durations take testdock's test-friendly defaults: see [`Healthcheck`](crate::Healthcheck)); a service with one is ready when healthy |
//! | `depends_on` | `service_started`, `service_healthy`, `service_completed_successfully`, `required` |
//! | `profiles` | services with profiles start only when one is enabled with [`Compose::profile`] |
//! | `user`, `working_dir`, `hostname`, `labels`, `read_only`, `stop_signal`, `name`, `version`, `x-*` | as compose |
//!
//! Any other key is an [`Error::Compose`] naming it (`unsupported key
//! `services.web.cap_add``): nothing in a file is silently ignored. `container_name`
//! in particular would make parallel tests collide. Variables are interpolated from
//! this process's environment as compose does (`$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `$$` for a `$`), over the whole text.
//!
//! ## Differences from `docker compose up`
//!
//! - Each [`up`](Compose::up) is its own project, `<name>-<random>`, so parallel tests
//!   bringing up the same file do not collide; containers are named
//!   `<project>-<service>-<random>`.
//! - Services start concurrently as soon as what they depend on is ready. When
//!   dependents of one service wait for different conditions, all wait for the
//!   strongest (`completed` > `healthy` > `started`).
//! - A service that fails (exits while others wait on it, becomes unhealthy, misses
//!   its startup timeout) fails the whole `up` at once with
//!   [`Error::ComposeService`], whose cause names its container and holds its last
//!   log lines; everything already started is removed.
//! - After `up`, a stack brought up for a test ([`Compose::up_in`], the attribute's
//!   `compose = ...`) is watched: a service that stops with a non-zero code the test did
//!   not ask for fails the test at once with
//!   [`Error::ComposeServiceStopped`] (its exit code and last log lines), instead of
//!   leaving the test to time out against a dead service. [`Stack::watch`] gives the
//!   same for a stack of your own.

mod graph;
mod keys;
mod model;
mod parse;
mod stack;
mod up;
mod values;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::ImageSource;
use crate::inject::InjectFile;
use crate::labels;
use crate::probe::Probe;
use crate::runner::TestContext;
use crate::spec::ContainerSpec;
use model::Plan;
pub use stack::{ComposeSource, Stack};

/// A compose file, parsed and checked, ready to [`up`](Self::up) (any number of times:
/// each is its own stack).
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// let yaml = r#"
/// services:
///   cache:
///     image: redis:7
///     ports: ["6379"]
/// "#;
/// let stack = testdock::compose::Compose::from_str(yaml)?.up().await?;
/// let port = stack.service("cache").host_port(6379)?;
/// # let _ = port; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Compose {
    file: String,
    plan: Plan,
    profiles: Vec<String>,
    project_name: Option<String>,
    /// Services named by `with_spec`, `file`, `image` or `wait_for` that the file does
    /// not have.
    unknown: Vec<String>,
}

impl Compose {
    /// Reads and checks the compose file at `path`; relative paths in it (build
    /// contexts, binds, env files) are relative to its directory.
    ///
    /// ```no_run
    /// let compose = testdock::compose::Compose::from_file("tests/compose/stack.yml")?;
    /// # let _ = compose; Ok::<(), testdock::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Compose> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| Error::HostIo {
            action: "read",
            path: path.to_owned(),
            target: Some("the compose file".to_owned()),
            error,
        })?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        Self::parse(&text, &base, path.display().to_string())
    }

    /// Parses and checks a compose file's text; relative paths in it are relative to
    /// the current directory.
    ///
    /// ```
    /// let err = testdock::compose::Compose::from_str("services:\n  a: {image: x, privileged: true}\n")
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("unsupported key `services.a.privileged`"));
    /// ```
    #[allow(clippy::should_implement_trait)] // fallible with testdock's error, like `FromStr`
    pub fn from_str(yaml: &str) -> Result<Compose> {
        Self::parse(yaml, &PathBuf::from("."), "(inline)".to_owned())
    }

    fn parse(yaml: &str, base: &Path, file: String) -> Result<Compose> {
        let plan = parse::parse(yaml, base).map_err(|message| Error::Compose {
            file: file.clone(),
            message,
        })?;
        let compose = Compose {
            file,
            plan,
            profiles: Vec::new(),
            project_name: None,
            unknown: Vec::new(),
        };
        compose.active()?; // a cycle or an unknown dependency is an error at once
        Ok(compose)
    }

    /// Enables a profile: services listing it in `profiles` start too.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profiles.push(profile.into());
        self
    }

    /// The project name's prefix (default: the file's `name`, else its directory's
    /// name); each [`up`](Self::up) appends a random suffix.
    pub fn project_name(mut self, name: impl Into<String>) -> Self {
        self.project_name = Some(name.into());
        self
    }

    /// Injects a file into `service` before it starts.
    pub fn file(self, service: &str, file: InjectFile) -> Self {
        self.with_spec(service, |spec| spec.file(file))
    }

    /// Replaces the image of `service`: e.g. one made from host binaries
    /// ([`HostImage`](crate::HostImage)) instead of the registry image the file names,
    /// to bring the file up offline.
    ///
    /// ```no_run
    /// # fn demo(c: testdock::compose::Compose) {
    /// let c = c.image("db", testdock::HostImage::new().binary("/usr/bin/redis-server"));
    /// # let _ = c; }
    /// ```
    pub fn image(self, service: &str, image: impl Into<ImageSource>) -> Self {
        let image = image.into();
        self.with_spec(service, |mut spec| {
            spec.image = image;
            spec
        })
    }

    /// A readiness probe for `service`, on top of what the file asks (its healthcheck,
    /// the conditions its dependents wait for).
    /// An unknown service is reported by [`up`](Self::up).
    pub fn wait_for(mut self, service: &str, probe: impl Into<Probe>) -> Self {
        if let Some(plan) = self.service_mut(service) {
            plan.probe = Some(probe.into());
        }
        self
    }

    /// Changes the spec of `service` (startup timeout, limits, more env...) before it
    /// starts. An unknown service is reported by [`up`](Self::up).
    ///
    /// ```no_run
    /// # fn demo(c: testdock::compose::Compose) {
    /// use std::time::Duration;
    /// let c = c.with_spec("db", |s| s.startup_timeout(Duration::from_secs(120)));
    /// # let _ = c; }
    /// ```
    pub fn with_spec(
        mut self,
        service: &str,
        change: impl FnOnce(ContainerSpec) -> ContainerSpec,
    ) -> Self {
        if let Some(plan) = self.service_mut(service) {
            plan.spec = change(plan.spec.clone());
        }
        self
    }

    /// The plan of `service`; a service the file does not have is recorded, and
    /// [`up`](Self::up) reports it.
    fn service_mut(&mut self, service: &str) -> Option<&mut model::ServicePlan> {
        let found = self.plan.services.iter_mut().find(|s| s.name == service);
        if found.is_none() {
            self.unknown.push(service.to_owned());
        }
        found
    }

    /// The names of the services [`up`](Self::up) would start, in the file's order.
    pub fn services(&self) -> Vec<String> {
        self.active()
            .map(|s| s.into_iter().map(|s| s.name).collect())
            .unwrap_or_default()
    }

    fn active(&self) -> Result<Vec<model::ServicePlan>> {
        let invalid = |message: String| Error::Compose {
            file: self.file.clone(),
            message,
        };
        if let Some(name) = self.unknown.first() {
            let names: Vec<&str> = self.plan.services.iter().map(|s| s.name.as_str()).collect();
            return Err(invalid(format!(
                "no service `{name}` to change (services: {})",
                names.join(", ")
            )));
        }
        let services =
            graph::select(self.plan.services.clone(), &self.profiles).map_err(invalid)?;
        for s in &services {
            for (network, _) in &s.networks {
                if network != "default" && !self.plan.networks.contains_key(network) {
                    return Err(invalid(format!(
                        "service `{}` joins network `{network}`, which the file does not declare under `networks`",
                        s.name
                    )));
                }
            }
            for m in &s.named_mounts {
                if !self.plan.volumes.contains_key(&m.volume) {
                    return Err(invalid(format!(
                        "service `{}` mounts volume `{}`, which the file does not declare under `volumes`",
                        s.name, m.volume
                    )));
                }
            }
        }
        Ok(services)
    }

    /// Brings the stack up: its networks and volumes, then every active service, each
    /// as soon as what it depends on is ready. Returns when all are ready; on any
    /// failure, removes everything it made and returns the error.
    pub async fn up(self) -> Result<Stack> {
        self.up_for(labels::current_test_id()).await
    }

    /// [`up`](Self::up) for the test of `ctx`: for a `#[from(fn)]` fixture. The runner
    /// watches the stack while the test runs: a service that stops with a failure fails
    /// the test at once, naming it (see [`Stack::watch`]).
    ///
    /// ```no_run
    /// use testdock::compose::{Compose, Stack};
    /// use testdock::runner::TestContext;
    ///
    /// async fn stack(ctx: &TestContext) -> testdock::Result<Stack> {
    ///     Compose::from_file("tests/compose/app.yml")?.up_in(ctx).await
    /// }
    ///
    /// #[testdock::container_test]
    /// async fn app_answers(#[from(stack)] stack: Stack) {
    ///     let _web = stack.service("web");
    /// }
    /// ```
    pub async fn up_in(self, ctx: &TestContext) -> Result<Stack> {
        let stack = self.up_for(ctx.test_id().to_owned()).await?;
        ctx.watch(stack.watch());
        Ok(stack)
    }

    async fn up_for(self, test_id: String) -> Result<Stack> {
        let services = self.active()?;
        let base = self
            .project_name
            .clone()
            .or_else(|| self.plan.name.clone())
            .or_else(|| {
                Path::new(&self.file)
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "stack".to_owned());
        let project = format!("{}-{}", sanitize(&base), labels::random_hex(8));
        up::Up {
            project,
            test_id,
            services,
            volumes: &self.plan.volumes,
            networks: &self.plan.networks,
        }
        .run()
        .await
    }
}

/// Lower case letters, digits, `-` and `_`, at most 24 characters (compose's rule).
fn sanitize(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(24)
        .collect();
    if s.is_empty() {
        "stack".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
