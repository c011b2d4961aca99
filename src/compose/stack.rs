//! [`Stack`]: a compose file's running services, networks and volumes, and how a test
//! takes one as an argument ([`ComposeSource`]).

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Compose;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::network::Network;
use crate::runner::{Opaque, TestContext, TestMeta};
use crate::volume::Volume;

/// A running stack: its services' [`Container`]s, networks and volumes. Dropping it
/// removes them all (containers first); [`down`](Self::down) does the same and waits.
#[derive(Debug)]
pub struct Stack {
    pub(super) project: String,
    // Field order is drop order: containers before the volumes and networks they use.
    pub(super) containers: Vec<(String, Container)>,
    pub(super) volumes: HashMap<String, Volume>,
    pub(super) networks: HashMap<String, Network>,
}

impl Stack {
    /// The project name (`<name>-<random>`), on every resource as the label
    /// `io.testdock.compose.project`.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The container of `service`.
    ///
    /// # Panics
    ///
    /// If the stack has no such service (the message lists those it has); see
    /// [`get`](Self::get).
    ///
    /// ```no_run
    /// # async fn demo(stack: testdock::compose::Stack) -> testdock::Result<()> {
    /// let addr = stack.service("db").addr(5432)?;
    /// # let _ = addr; Ok(()) }
    /// ```
    pub fn service(&self, service: &str) -> &Container {
        self.get(service).unwrap_or_else(|| {
            let names: Vec<&str> = self.containers.iter().map(|(n, _)| n.as_str()).collect();
            panic!(
                "compose project `{}` has no service `{service}` (services: {})",
                self.project,
                names.join(", ")
            )
        })
    }

    /// The container of `service`, if the stack has it.
    pub fn get(&self, service: &str) -> Option<&Container> {
        self.containers
            .iter()
            .find(|(name, _)| name == service)
            .map(|(_, c)| c)
    }

    /// The services and their containers, in the file's order.
    pub fn services(&self) -> impl Iterator<Item = (&str, &Container)> {
        self.containers.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// The stack's volume for the file's named volume `name`.
    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.get(name)
    }

    /// The stack's network for the file's network `name` (`default` unless the file
    /// names its networks).
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.get(name)
    }

    /// Resolves when a service stops with a failure while the stack is in use: an exit
    /// with a non-zero code (an OOM kill, a crash) that the test did not ask for with
    /// [`Container::stop`], [`kill`](Container::kill) or
    /// [`restart`](Container::restart). The error,
    /// [`Error::ComposeServiceStopped`](crate::Error::ComposeServiceStopped), names the
    /// service and holds its exit code and last log lines. Never resolves while every
    /// service runs, or has completed with code 0 (a one-shot service).
    ///
    /// A stack brought up for a test ([`Compose::up_in`], the attribute's `compose = ...`)
    /// is watched by the runner: the test fails at once with this error instead of
    /// running on against a dead service. Elsewhere, race it with the work:
    ///
    /// ```no_run
    /// # async fn demo(stack: testdock::compose::Stack, work: impl std::future::Future<Output = ()>) {
    /// tokio::select! {
    ///     () = work => {}
    ///     died = stack.watch() => panic!("{died:?}"),
    /// }
    /// # }
    /// ```
    pub fn watch(&self) -> impl Future<Output = Error> + Send + 'static {
        let watchers: Vec<_> = self
            .containers
            .iter()
            .map(|(service, container)| {
                let (project, service) = (self.project.clone(), service.clone());
                let watched = container.watched();
                Box::pin(async move {
                    Error::ComposeServiceStopped {
                        project,
                        service,
                        source: Box::new(watched.failure().await),
                    }
                })
            })
            .collect();
        async move {
            if watchers.is_empty() {
                std::future::pending().await
            } else {
                futures::future::select_all(watchers).await.0
            }
        }
    }

    /// Removes the whole stack: containers (concurrently), then volumes and networks.
    /// Returns the first error; the rest is removed regardless.
    pub async fn down(self) -> Result<()> {
        let Stack {
            containers,
            volumes,
            networks,
            ..
        } = self;
        let removed = futures::future::join_all(containers.into_iter().map(|(_, c)| c.remove()));
        let mut results = removed.await;
        let vols = futures::future::join_all(volumes.into_values().map(Volume::remove));
        let nets = futures::future::join_all(networks.into_values().map(Network::remove));
        let (v, n) = futures::join!(vols, nets);
        results.extend(v);
        results.extend(n);
        results.into_iter().collect()
    }
}
/// A `Stack` argument is the stack of the test's compose file,
/// [`TestMeta::compose`](crate::runner::TestMeta::compose) (the attribute's
/// `compose = "..."`), brought up for the test with [`Compose::up_in`].
impl crate::runner::Fixture for Stack {
    #[doc(hidden)]
    const IS_TEST_STACK: bool = true;

    async fn setup(ctx: &TestContext) -> Result<Self> {
        let source = ctx
            .take_stack()
            .and_then(|s| s.0.downcast::<ComposeSource>().ok());
        let Some(source) = source else {
            return Err(Error::InvalidInput {
                container: format!("(not created) the compose stack of {}", ctx.test_id()),
                message: format!(
                    "{} takes a `Stack` argument, but the test names no compose file for it \
                     (give the attribute `compose = \"...\"`, or `TestMeta::compose`), or an \
                     earlier argument already took it; other stacks come from \
                     `#[from(fixture_fn)]` with `Compose::up_in`",
                    ctx.test_id()
                ),
            });
        };
        let compose = match Arc::unwrap_or_clone(source) {
            ComposeSource::File(path) => Compose::from_file(path)?,
            ComposeSource::Compose(compose) => compose,
        };
        compose.up_in(ctx).await
    }
}

impl TestMeta {
    /// The test's compose stack: the [`Stack`] argument of a
    /// test gets it, brought up for the test (its project labelled with the test,
    /// removed with it). A path names a compose file; a
    /// [`Compose`] is brought up as it is (e.g. with images
    /// replaced for offline use). This is what the attribute's `compose = "..."` (a file
    /// relative to the crate's root) or `compose = expr` option gives; a test has at most
    /// one.
    ///
    /// ```no_run
    /// use testdock::compose::Stack;
    /// use testdock::runner::{run_test, Fixture, TestMeta};
    ///
    /// let meta = TestMeta::new("my_suite::stack_answers", file!(), line!())
    ///     .compose(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/stack.yml"));
    /// run_test(meta, |ctx| async move {
    ///     let stack = Stack::setup(&ctx).await?;
    ///     let _db = stack.service("db");
    ///     Ok(())
    /// });
    /// ```
    pub fn compose(self, stack: impl Into<ComposeSource>) -> Self {
        self.with_stack(Opaque(Arc::new(stack.into())))
    }
}

/// What a test's [`Stack`] is brought up from
/// ([`TestMeta::compose`](crate::runner::TestMeta::compose)): a compose file (read when
/// the test starts, so a bad file fails that test with the parse error) or a
/// [`Compose`] as it is.
#[derive(Debug, Clone)]
pub enum ComposeSource {
    /// A compose file's path.
    File(PathBuf),
    /// A parsed (and perhaps changed) compose file.
    Compose(Compose),
}

impl From<Compose> for ComposeSource {
    fn from(compose: Compose) -> Self {
        ComposeSource::Compose(compose)
    }
}

impl From<PathBuf> for ComposeSource {
    fn from(path: PathBuf) -> Self {
        ComposeSource::File(path)
    }
}

impl From<&Path> for ComposeSource {
    fn from(path: &Path) -> Self {
        ComposeSource::File(path.to_owned())
    }
}

impl From<&str> for ComposeSource {
    fn from(path: &str) -> Self {
        ComposeSource::File(path.into())
    }
}

impl From<String> for ComposeSource {
    fn from(path: String) -> Self {
        ComposeSource::File(path.into())
    }
}
