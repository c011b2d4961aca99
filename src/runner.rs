//! The test runner behind `#[container_test]`, usable by hand.
//!
//! [`run_test`] builds a runtime whose threads carry the test's name (so every container
//! started in it is labelled with the test), optionally creates a per-test network,
//! runs the body under the test timeout while catching panics, then **always** tears
//! down everything labelled with the test: the test returns as soon as that teardown
//! is handed to testdock's background teardown thread (containers first, then volumes
//! and networks; the process's reaper finishes it if the process ends first). A
//! failed test prints each container's name, image, state and last log lines once, and
//! writes them to `target/testdock/<test-id>/` (before the teardown, while they still
//! exist); then the panic is re-raised.
//!
//! ```no_run
//! use testdock::runner::{run_test, TestMeta};
//! use testdock::{ContainerSpec, Probe};
//!
//! #[test]
//! fn redis_answers() {
//!     let meta = TestMeta::new(concat!(module_path!(), "::redis_answers"), file!(), line!());
//!     run_test(meta, |ctx| async move {
//!         // Fixtures start together: the test waits for the slowest, not the sum.
//!         let (a, b) = futures::try_join!(
//!             ctx.spec("redis:7").wait_for(Probe::log("Ready")).start(),
//!             ctx.spec("redis:7").wait_for(Probe::log("Ready")).start(),
//!         )?;
//!         Ok(async move {
//!             assert_ne!(a.host_port(6379).ok(), b.host_port(6379).ok());
//!         }.await)
//!     });
//! }
//! ```

mod diagnostics;
mod outcome;
mod scope;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use outcome::TestOutcome;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::spec::ContainerSpec;

/// Default limit for a whole test (fixtures, body, teardown excluded).
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Environment variable: keep the containers of failed tests for debugging.
pub const KEEP_FAILED_ENV: &str = "TESTDOCK_KEEP_FAILED";

/// Environment variable: without a daemon, print a skip line instead of failing.
pub const SKIP_WITHOUT_DOCKER_ENV: &str = "TESTDOCK_SKIP_WITHOUT_DOCKER";

/// What the runner needs to know about a test: who it is, where it is, its limits.
#[derive(Debug, Clone)]
#[must_use]
pub struct TestMeta {
    id: String,
    file: &'static str,
    line: u32,
    timeout: Duration,
    network: bool,
    pool: Option<bool>,
    container: Option<ContainerSpec>,
    compose: Option<Opaque>,
}

impl TestMeta {
    /// A test identified by its full path (`concat!(module_path!(), "::", "name")`),
    /// defined at `file:line`.
    pub fn new(id: impl Into<String>, file: &'static str, line: u32) -> Self {
        TestMeta {
            id: id.into(),
            file,
            line,
            timeout: DEFAULT_TEST_TIMEOUT,
            network: false,
            pool: None,
            container: None,
            compose: None,
        }
    }

    /// Limit for fixtures plus body (default 5 min; scaled by `TESTDOCK_TIMEOUT_SCALE`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Creates a network for the test; [`TestContext::spec`] and [`TestContext::adopt`]
    /// join it, so containers reach each other by alias. It is removed with the test's
    /// containers.
    pub fn per_test_network(mut self) -> Self {
        self.network = true;
        self
    }

    /// Runs the test's containers in a pooled network namespace (`true`) or on the
    /// default bridge (`false`); default: `TESTDOCK_POOL`. See [`crate::pool`] for what
    /// changes (addresses, which containers, where it applies).
    pub fn pool(mut self, pool: bool) -> Self {
        self.pool = Some(pool);
        self
    }

    fn pool_mode(&self) -> bool {
        self.pool.unwrap_or_else(crate::pool::enabled_by_env)
    }

    /// The test's own container: the [`Container`] argument of a test
    /// gets it (adopted by the test, see [`TestContext::adopt`]). This is what the
    /// attribute's `image = ...`/`spec = ...` options describe; a test has at most one.
    pub fn container(mut self, spec: ContainerSpec) -> Self {
        self.container = Some(spec);
        self
    }

    /// Sets the test's compose stack (see `TestMeta::compose`, defined with
    /// [`compose`](crate::compose) so that the runner does not depend on it).
    pub(crate) fn with_stack(mut self, stack: Opaque) -> Self {
        self.compose = Some(stack);
        self
    }

    /// The test's identity.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What the body's setup gets: the test's identity and network.
#[derive(Debug, Clone)]
pub struct TestContext {
    test_id: String,
    network: Option<String>,
    /// [`TestMeta::container`], until an argument takes it.
    container: Arc<Mutex<Option<ContainerSpec>>>,
    /// [`TestMeta::compose`], until an argument takes it.
    compose: Arc<Mutex<Option<Opaque>>>,
    /// Where [`watch`](Self::watch) sends its futures: to the runner, which races them
    /// with the body.
    watchers: tokio::sync::mpsc::UnboundedSender<Watcher>,
}

/// A value the runner carries for a module above it (the test's compose stack), without
/// depending on that module: it only hands it back to whoever set it.
#[derive(Clone)]
pub(crate) struct Opaque(pub(crate) Arc<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opaque(..)")
    }
}

/// A future that resolves only when the test must fail: see [`TestContext::watch`].
pub(crate) type Watcher = std::pin::Pin<Box<dyn Future<Output = Error> + Send + 'static>>;

impl TestContext {
    /// The test's identity (label `testdock.test`).
    pub fn test_id(&self) -> &str {
        &self.test_id
    }

    /// The per-test network's name, if the test asked for one.
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// A spec labelled with this test and joined to its network.
    pub fn spec(&self, image: impl Into<crate::image::ImageSource>) -> ContainerSpec {
        let spec = ContainerSpec::new(image).test_id(self.test_id.clone());
        match &self.network {
            Some(net) => spec.network(net.clone()),
            None => spec,
        }
    }

    pub(crate) fn new(
        meta: &TestMeta,
        network: Option<String>,
        watchers: tokio::sync::mpsc::UnboundedSender<Watcher>,
    ) -> Self {
        TestContext {
            watchers,
            test_id: meta.id.clone(),
            network,
            container: Arc::new(Mutex::new(meta.container.clone())),
            compose: Arc::new(Mutex::new(meta.compose.clone())),
        }
    }

    /// Fails the test at once, with the error `watch` resolves to, if it resolves before
    /// the body ends: how a fixture says "if this dies, the test is over" (e.g.
    /// [`Stack::watch`](crate::compose::Stack::watch), which [`Compose::up_in`]
    /// registers). The body is cancelled; the failure report and the teardown run as for
    /// any failure. Dropped unfinished when the body ends.
    ///
    /// [`Compose::up_in`]: crate::compose::Compose::up_in
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use testdock::runner::TestContext;
    /// use testdock::{Container, Error};
    ///
    /// async fn server(ctx: &TestContext) -> testdock::Result<Container> {
    ///     let c = ctx.spec("my-server:1").expose(8080).start().await?;
    ///     let addr = c.addr(8080)?;
    ///     ctx.watch(async move {
    ///         while tokio::net::TcpStream::connect(addr).await.is_ok() {
    ///             tokio::time::sleep(Duration::from_secs(1)).await;
    ///         }
    ///         Error::InvalidInput {
    ///             container: "my-server".into(),
    ///             message: format!("{addr} stopped answering"),
    ///         }
    ///     });
    ///     Ok(c)
    /// }
    /// ```
    pub fn watch(&self, watch: impl Future<Output = Error> + Send + 'static) {
        // The runner is gone only when the body has ended: nothing left to fail.
        let _ = self.watchers.send(Box::pin(watch));
    }

    /// Takes the test's own container spec ([`TestMeta::container`]); the second taker
    /// and a test without one get [`Error::InvalidInput`].
    fn take_container(&self) -> Result<ContainerSpec> {
        let mut slot = self.container.lock().unwrap_or_else(|p| p.into_inner());
        slot.take().ok_or_else(|| Error::InvalidInput {
            container: format!("(not created) the container of {}", self.test_id),
            message: format!(
                "{} takes a `Container` argument, but the test describes no container \
                 for it (give the attribute `image = ...` or `spec = ...`, or \
                 `TestMeta::container`), or an earlier argument already took it; other \
                 containers come from `#[from(fixture_fn)]` or a `Fixture` type",
                self.test_id
            ),
        })
    }

    /// Takes the test's compose stack (`TestMeta::compose`), if it is still there.
    pub(crate) fn take_stack(&self) -> Option<Opaque> {
        self.compose
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Prepares `spec` for this test: labels it and joins the network (unless the spec
    /// chose one).
    pub fn adopt(&self, spec: ContainerSpec) -> ContainerSpec {
        let spec = spec.test_id(self.test_id.clone());
        match (&self.network, spec.has_network()) {
            (Some(net), false) => spec.network(net.clone()),
            _ => spec,
        }
    }
}

/// A fixture a test can take as an argument: it knows how to start itself.
///
/// ```no_run
/// use testdock::runner::{Fixture, TestContext};
/// use testdock::{Container, Probe};
///
/// struct Redis(Container);
///
/// impl Fixture for Redis {
///     async fn setup(ctx: &TestContext) -> testdock::Result<Self> {
///         let c = ctx.spec("redis:7").expose(6379).alias("redis")
///             .wait_for(Probe::log("Ready to accept connections")).start().await?;
///         Ok(Redis(c))
///     }
/// }
/// ```
pub trait Fixture: Sized + Send + 'static {
    /// Whether this fixture is the test's own container ([`TestMeta::container`]): the
    /// attribute checks at compile time that exactly one argument takes it.
    #[doc(hidden)]
    const IS_TEST_CONTAINER: bool = false;

    /// Whether this fixture is the stack of the test's compose file
    /// (`TestMeta::compose`): the attribute checks at compile time that exactly one
    /// argument takes it.
    #[doc(hidden)]
    const IS_TEST_STACK: bool = false;

    /// Starts the fixture for the test described by `ctx`.
    fn setup(ctx: &TestContext) -> impl Future<Output = Result<Self>> + Send;
}

/// A `Container` argument is the test's own container, [`TestMeta::container`].
impl Fixture for Container {
    #[doc(hidden)]
    const IS_TEST_CONTAINER: bool = true;

    async fn setup(ctx: &TestContext) -> Result<Self> {
        ctx.adopt(ctx.take_container()?).start().await
    }
}

/// Runs one test: see the [module docs](self). Panics (failing the test) if the
/// fixtures fail to start, the body panics or returns an error, or the timeout passes;
/// hands the teardown of everything off first in every case. The panic is reported at the caller
/// (the test), not inside testdock.
#[track_caller]
pub fn run_test<F, Fut, T>(meta: TestMeta, test: F)
where
    F: FnOnce(TestContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: TestOutcome,
{
    // The body runs on its own runtime, whose threads carry the test's name (so every
    // container started in it is labelled with the test). The limit, the diagnostics
    // and the teardown run on this thread's runtime, which the body cannot block: a body
    // stuck in synchronous code cannot stop the clock or the teardown.
    let body_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(meta.id.clone())
        .enable_all()
        .build()
        .expect("build the test runtime");
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the runner's runtime");
    let verdict = control.block_on(scope::run(&meta, body_runtime.handle(), test));
    // A body stuck in blocking code must not hold the test forever.
    body_runtime.shutdown_timeout(Duration::from_millis(100));
    verdict.conclude(&meta);
}

/// Runs a plain (non-async) test body on a blocking thread, re-raising its panic.
#[doc(hidden)]
pub async fn run_blocking<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let test_id = crate::labels::current_test_id();
    let body = move || {
        let _running = scope::BlockingBody::enter(&test_id);
        body()
    };
    match tokio::task::spawn_blocking(body).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the test body was cancelled: {e}"),
    }
}

pub(crate) fn elapsed_since(start: Instant) -> Duration {
    start.elapsed()
}
