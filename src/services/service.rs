//! What every service is: a config that knows its container ([`Service`]), started
//! three ways from that one description (per test, by hand, shared by the run).

use std::future::Future;
use std::ops::Deref;

use tokio::sync::OnceCell;

use crate::container::Container;
use crate::error::Result;
use crate::runner::TestContext;
use crate::spec::ContainerSpec;

/// A service: a configuration that describes its container, and the handle tests get
/// once it runs. Implement it for a service of your own and it starts the same three
/// ways as the built-in ones: [`start`], [`start_for_test`] (the body of a `Fixture`
/// impl), and [`SharedService`].
///
/// ```no_run
/// use testdock::services::{ImageChoice, Service, ServiceContainer};
/// use testdock::{ContainerSpec, HostImage, Probe};
///
/// #[derive(Debug, Clone, Default)]
/// struct Memcached;
///
/// #[derive(Debug)]
/// struct MemcachedServer(ServiceContainer);
///
/// impl Service for Memcached {
///     type Server = MemcachedServer;
///
///     async fn spec(&self) -> testdock::Result<ContainerSpec> {
///         let image = ImageChoice::new("memcached", "memcached:1.6-alpine")
///             .host(
///                 HostImage::new().binary_at("/usr/bin/memcached", "/usr/local/bin/memcached"),
///                 ["/usr/bin/memcached"],
///                 "apt-get install memcached",
///             )
///             .choose(None)
///             .await?;
///         Ok(ContainerSpec::new(image)
///             .cmd(["memcached", "-u", "nobody"])
///             .expose(11211)
///             .wait_for(testdock::services::exchange_probe(11211, "version\r\n", "VERSION ")))
///     }
///
///     fn server(self, container: ServiceContainer) -> testdock::Result<MemcachedServer> {
///         Ok(MemcachedServer(container))
///     }
/// }
/// ```
pub trait Service: Clone + Send + Sync + 'static {
    /// What a test gets once the service runs (with its address, URL, clients).
    type Server: Send + Sync + 'static;

    /// The container to start: image (see [`ImageChoice`](super::ImageChoice)), files,
    /// command, ports, and a readiness probe that passes only once the service answers
    /// its own protocol. Fails before anything is created when the config cannot work.
    fn spec(&self) -> impl Future<Output = Result<ContainerSpec>> + Send;

    /// The handle, once `container` is ready.
    fn server(self, container: ServiceContainer) -> Result<Self::Server>;
}

/// The container behind a service's handle: the handle's own (removed when it is
/// dropped or [`remove`](Container::remove)d) or the run's (a [`SharedService`]'s,
/// removed when the run ends). Dereferences to the [`Container`].
#[derive(Debug)]
pub enum ServiceContainer {
    /// Started for this handle alone.
    Owned(Box<Container>),
    /// Shared by the tests of the run.
    Shared(&'static Container),
}

impl Deref for ServiceContainer {
    type Target = Container;

    fn deref(&self) -> &Container {
        match self {
            ServiceContainer::Owned(c) => c,
            ServiceContainer::Shared(c) => c,
        }
    }
}

impl ServiceContainer {
    /// Removes an owned container now (see [`Container::remove`]); a shared one stays
    /// for the other tests of the run.
    pub async fn remove(self) -> Result<()> {
        match self {
            ServiceContainer::Owned(c) => c.remove().await,
            ServiceContainer::Shared(_) => Ok(()),
        }
    }
}

/// Starts `service` in a container of its own, removed when its handle is dropped.
pub async fn start<S: Service>(service: S) -> Result<S::Server> {
    let container = service.spec().await?.start().await?;
    service.server(ServiceContainer::Owned(Box::new(container)))
}

/// Starts `service` for the test `ctx` describes: labelled with the test and on its
/// network (if any), removed with the test's containers. What a service's
/// [`Fixture`](crate::runner::Fixture) impl calls.
pub async fn start_for_test<S: Service>(service: S, ctx: &TestContext) -> Result<S::Server> {
    let container = ctx.adopt(service.spec().await?).start().await?;
    service.server(ServiceContainer::Owned(Box::new(container)))
}

/// Runs `cleanup` on testdock's background teardown thread and returns at once: what
/// a `Drop` that must undo something inside a service calls (drop a test's database,
/// flush its keys), since `Drop` cannot `.await` and may run on no runtime, or on one
/// that is shutting down. If the process ends first the cleanup is lost: undo only
/// what the server's own removal at the end of the run would remove anyway.
///
/// ```no_run
/// struct TestKeys { prefix: String }
///
/// impl Drop for TestKeys {
///     fn drop(&mut self) {
///         let prefix = std::mem::take(&mut self.prefix);
///         testdock::services::spawn_cleanup(async move {
///             // ... delete the keys under `prefix` ...
///             # let _ = prefix;
///         });
///     }
/// }
/// ```
pub fn spawn_cleanup(cleanup: impl Future<Output = ()> + Send + 'static) {
    if let Err(e) = crate::cleanup::spawn_detached(cleanup) {
        tracing::warn!(error = %e, "cannot start the teardown thread: a service cleanup is skipped");
    }
}

/// A service shared by the tests of a run, declared in a `static`: started by the
/// first [`get`](Self::get), with the same lifecycle as a [`Shared`](crate::shared::Shared)
/// container (one per test binary under `cargo test`, one per session under nextest,
/// removed when the run ends).
///
/// ```no_run
/// use testdock::services::postgres::Postgres;
/// use testdock::services::SharedService;
///
/// static PG: SharedService<Postgres> =
///     SharedService::new("app-db", || Postgres::default().setting("max_connections", "200"));
///
/// #[tokio::test]
/// async fn uses_the_shared_server() -> testdock::Result<()> {
///     let pg = PG.get().await?;
///     println!("{}", pg.url());
///     Ok(())
/// }
/// ```
pub struct SharedService<S: Service> {
    key: &'static str,
    make: fn() -> S,
    container: OnceCell<Container>,
    server: OnceCell<S::Server>,
}

impl<S: Service> std::fmt::Debug for SharedService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedService")
            .field("key", &self.key)
            .field("started", &self.container.initialized())
            .finish()
    }
}

impl<S: Service> SharedService<S> {
    /// The service `make` returns, shared under `key` (unique among the run's shared
    /// fixtures).
    pub const fn new(key: &'static str, make: fn() -> S) -> Self {
        SharedService {
            key,
            make,
            container: OnceCell::const_new(),
            server: OnceCell::const_new(),
        }
    }

    /// The shared server, started by the first caller; the others wait until it is
    /// ready. A failed start is returned to each caller that tries again.
    pub async fn get(&'static self) -> Result<&'static S::Server> {
        self.server
            .get_or_try_init(|| async {
                let service = (self.make)();
                let container = self
                    .container
                    .get_or_try_init(|| async {
                        crate::shared::start_shared(self.key, service.spec().await?, true).await
                    })
                    .await?;
                service.server(ServiceContainer::Shared(container))
            })
            .await
    }

    /// The key it is shared under.
    pub fn key(&self) -> &'static str {
        self.key
    }
}
