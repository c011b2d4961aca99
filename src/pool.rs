//! The pod pool: test containers started in pre-warmed network namespaces.
//!
//! Most of a container's `start` (and much of its removal) is the daemon setting up
//! its network. A container that joins the namespace of a running one
//! (`NetworkMode=container:<pause>`) skips that: on a 2-core docker 20.10 host its
//! lifecycle takes about half as long. In pool mode each test leases one *pause*
//! container (a host-binary image running `sleep infinity`) and every eligible
//! container of the test joins its namespace, like the containers of a pod: they reach
//! each other on `localhost`, and this process reaches them on the pause's bridge IP
//! and the container port ([`Container::host`](crate::Container::host) and
//! [`Container::addr`](crate::Container::addr) say so; nothing is published on the host).
//!
//! | | |
//! |---|---|
//! | opt in | [`TestMeta::pool`](crate::runner::TestMeta::pool), or `TESTDOCK_POOL=1` for every runner test; by hand, a [`Pod`] |
//! | applies to | containers of a runner test on Linux, daemon on this host ([`Topology::Host`]), spec without its own network, alias, hostname or fixed host port, not shared |
//! | otherwise | the normal path (default bridge, ports published on `127.0.0.1`) |
//! | reachable from | this host and containers on the default bridge; nothing outside the host |
//! | lease | lazily at the test's first eligible container; one test per pause at a time |
//! | return | after the test's teardown removed its containers, if no container is left in the namespace and nothing listens in it (`/proc/<pause pid>/net/{tcp,tcp6,udp,udp6}`); else the pause is removed |
//! | dead pause | found at lease time (inspect), removed and replaced |
//! | ports | [`ContainerSpec::expose`](crate::ContainerSpec::expose) still declares the ports probes and `addr` use; the containers of one test share `localhost`, so two of them cannot listen on one port |
//! | end | [`drain`] removes the idle pauses; pauses carry the process's owner labels (`testdock.role=pause`): its reaper removes them when it ends, however it ends; `testdock ps` lists them |
//!
//! ## Why opt-in, not the default (yet)
//!
//! Measured on a 2-core docker 20.10 host (`cargo bench --bench lifecycle`, 20
//! iterations, interleaved with the raw-bollard floor on the default bridge): a pooled
//! lifecycle (create, inject 4 KiB, start, log line, remove) took 375 ms median against
//! the floor's 676 ms (0.55×; start to ready 0.56×, removal 0.51×). The first lease of
//! a process creates the pause: 2.5 s for that first lifecycle when the pause image is
//! also prepared then. The 32-test suite (`cargo bench --bench suite`, 3 rounds on a
//! quiet machine), pool vs bridge mode vs raw bollard: `cargo test` 4.7 vs 8.1 vs 7.9 s,
//! one test thread 6.2 vs 12.5 vs 11.5 s: about half. Under `cargo nextest run` it is a
//! loss (12.8 vs 8.8 vs 8.2 s): every test process makes a pause of its own, so each test
//! pays a pause's create and start as well; use it with `cargo test`, not nextest, until
//! pauses are shared by the processes of a session. The whole test suite passes with it on.
//!
//! It stays opt-in because it changes what a test sees: [`Container::host`](crate::Container::host)
//! is a bridge IP instead of `127.0.0.1`, [`Container::host_port`](crate::Container::host_port)
//! the container port instead of a published one, the service is reachable from every
//! container on the default bridge (not only from this host's loopback), and the
//! containers of a test share `localhost` (two listening on one port now clash). With
//! more suite rounds confirming the gain, it could become the Linux default for tests
//! that use only those APIs.

mod pause;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;

use crate::docker::{Daemon, Topology};
use crate::error::Result;
pub(crate) use pause::Pause;

/// Environment variable: `1` runs every runner test in pool mode (see the module docs).
pub const POOL_ENV: &str = "TESTDOCK_POOL";

/// Whether `TESTDOCK_POOL` asks for pool mode.
pub(crate) fn enabled_by_env() -> bool {
    std::env::var(POOL_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A test's lease, taken on first use.
type Lease = Arc<tokio::sync::OnceCell<Pause>>;

/// Tests in pool mode, by test id: their lease, if taken.
static SLOTS: Lazy<Mutex<HashMap<String, Lease>>> = Lazy::new(Default::default);

/// Pauses no test holds, proven clean when returned.
static IDLE: Lazy<Mutex<Vec<Pause>>> = Lazy::new(Default::default);

/// A test in pool mode: while it lives, the eligible containers whose test id is its
/// own join one pooled namespace (leased on the first). The runner opens one per test
/// in pool mode; by hand, open one, start containers with
/// [`ContainerSpec::test_id`](crate::ContainerSpec::test_id) set to the same id, remove
/// them, then [`release`](Pod::release) it.
///
/// ```no_run
/// # async fn demo() -> testdock::Result<()> {
/// use testdock::{pool::Pod, ContainerSpec, Probe};
/// let pod = Pod::open("my_suite::my_test");
/// let c = ContainerSpec::new("redis:7")
///     .test_id("my_suite::my_test")
///     .expose(6379)
///     .wait_for(Probe::tcp(6379))
///     .start()
///     .await?;
/// let addr = c.addr(6379)?; // the pause's IP, port 6379
/// # let _ = addr;
/// c.remove().await?;
/// pod.release().await; // back to the pool, if proven clean
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a pod that is dropped unreleased keeps its pause until the process ends"]
pub struct Pod {
    test_id: String,
}

impl Pod {
    /// Puts test `test_id` in pool mode (on Linux, daemon on this host).
    pub fn open(test_id: impl Into<String>) -> Self {
        let test_id = test_id.into();
        SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(test_id.clone(), Lease::default());
        Pod { test_id }
    }

    fn take(&self) -> Option<Pause> {
        let lease = SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.test_id)?;
        Arc::try_unwrap(lease).ok()?.into_inner()
    }

    /// Returns the test's pause to the pool; call it once the test's containers are
    /// removed. Only a namespace proven clean returns (no container joined to it is
    /// left, nothing listens in it); any other is removed.
    pub async fn release(self) {
        if let Ok(daemon) = crate::docker::daemon().await {
            self.release_with(daemon.client()).await;
        }
    }

    pub(crate) async fn release_with(self, docker: &bollard::Docker) {
        let Some(pause) = self.take() else { return };
        match pause.clean(docker).await {
            Ok(()) => IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(pause),
            Err(why) => {
                tracing::debug!(pause = %pause.name, %why, "namespace not proven clean: discarded");
                pause.discard(docker).await;
            }
        }
    }

    /// The test's containers are kept (`TESTDOCK_KEEP_FAILED`): its pause is kept with
    /// them (renamed like them, so no reaper removes it), never reused.
    pub(crate) async fn keep(self, docker: &bollard::Docker) -> Option<String> {
        let pause = self.take()?;
        pause.keep(docker).await
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        // A pod not released (a panic in the runner): its pause, if any, stays leased
        // and the reaper removes it at process end.
        SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.test_id);
    }
}

/// The pause that a container of test `test_id` joins, leased on first use; `None` when
/// the test is not in pool mode or the daemon is not on this host.
pub(crate) async fn pod(test_id: &str, daemon: &Daemon) -> Result<Option<Pause>> {
    if !cfg!(target_os = "linux") || *daemon.topology() != Topology::Host {
        return Ok(None);
    }
    let lease = SLOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(test_id)
        .cloned();
    let Some(lease) = lease else { return Ok(None) };
    let pause = lease.get_or_try_init(|| lease_one(daemon)).await?;
    Ok(Some(pause.clone()))
}

/// An idle pause that still runs (dead ones are removed), or a new one.
async fn lease_one(daemon: &Daemon) -> Result<Pause> {
    let docker = daemon.client();
    loop {
        let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let Some(pause) = idle else { break };
        if pause.running(docker).await {
            return Ok(pause);
        }
        tracing::debug!(pause = %pause.name, "pooled pause died: replaced");
        pause.discard(docker).await;
    }
    Pause::create(docker).await
}

/// Removes this process's idle pauses now, instead of leaving them to the reaper at
/// process end (e.g. before a leak check of the session). Leased pauses are left.
pub async fn drain() {
    let idle = std::mem::take(&mut *IDLE.lock().unwrap_or_else(|e| e.into_inner()));
    let Ok(daemon) = crate::docker::daemon().await else {
        return;
    };
    let removals = idle.iter().map(|pause| pause.discard(daemon.client()));
    futures::future::join_all(removals).await;
}

/// The names of this process's idle pauses, proven clean, the next to be leased last.
pub fn idle() -> Vec<String> {
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    idle.iter().map(|p| p.name.clone()).collect()
}
