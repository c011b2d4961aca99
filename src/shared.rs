//! Shared fixtures: one container for many tests, started once and removed when the
//! run ends.
//!
//! A [`Shared`] is declared once, in a `static`. The first test that calls
//! [`Shared::get`] starts the container; the others wait for it and get the same one.
//!
//! - Under `cargo test` (all tests of a binary in one process) it is started once per
//!   test binary and owned by that process: its reaper removes it when the process ends.
//! - Under `cargo nextest run` (each test in its own process) it is started once per
//!   session: the container has a fixed name derived from the session and the key, so
//!   the first process creates it and the others find it by name and wait until it is
//!   ready. It is owned by the session's root process (nextest): the reapers of the
//!   test processes remove it when that process ends, and a stale sweep would too.
//!
//! - With `TESTDOCK_REUSE=1` (the local dev loop; ignored when `CI` is set, with a
//!   note on stderr) it outlives the run: the next run whose spec for it is the same
//!   adopts it instead of starting another (a second `cargo test` skips the start of a
//!   database server), once it passed its readiness probe again. See "Reuse across
//!   runs" below.
//!
//! A handle from [`Shared::get`] does not remove the container when dropped, and
//! [`Container::remove`] on it does nothing: the container belongs to its scope.
//! Isolate tests from each other inside it (a database, schema, key prefix or
//! directory per test, named after [`crate::runner::TestContext::test_id`] or
//! [`unique_name`]), or snapshot a prepared state with [`Container::commit`] and start
//! per-test containers from it.
//!
//! ```no_run
//! use testdock::shared::Shared;
//! use testdock::{ContainerSpec, Probe};
//!
//! static REDIS: Shared = Shared::new("redis", || {
//!     ContainerSpec::new("redis:7").expose(6379).wait_for(Probe::log("Ready to accept"))
//! });
//!
//! #[tokio::test]
//! async fn one_of_many_tests() -> testdock::Result<()> {
//!     let redis = REDIS.get().await?;
//!     let prefix = testdock::shared::unique_name("t"); // isolate this test's keys
//!     # let _ = (redis, prefix);
//!     Ok(())
//! }
//! ```
//!
//! ## Reuse across runs
//!
//! With `TESTDOCK_REUSE=1` (also `true`, `yes`, `on`), each [`Shared`] that is
//! [`reusable`](Shared::reusable) (the default) looks for a container of an earlier run
//! before starting one:
//!
//! - **Matched by spec, never by key alone.** The container is named
//!   `testdock-reuse-<key>-<hash>` and labelled `testdock.reuse=<hash>`, where the hash
//!   covers everything that decides its behaviour: the image's id (so a rebuilt image
//!   or a moved tag is a new container), command, entrypoint, env, user, workdir,
//!   hostname, published ports and the address they bind, mounts, limits, network,
//!   stop signal, healthcheck, labels, the injected files' paths, contents, modes and
//!   owners, and the readiness probe. A spec that differs in any of these never adopts
//!   it; the two containers live side by side. Test binaries that declare the same key
//!   and spec share one container.
//! - **Checked before use.** An adopted container must pass its readiness probe again.
//!   One that exited or died is removed and started afresh; one that runs but fails the
//!   probe is replaced once.
//! - **Owned by no one.** It carries no `testdock.owner`: the reapers, the runner's
//!   teardown and the stale sweep of later runs never remove it (it is
//!   [`Ownership::Reused`](crate::prune::Ownership::Reused), never stale, whatever became
//!   of the run that made it). `testdock ps` shows it as `reused`; `testdock prune
//!   --reused` (or `--all`) removes it, with the volumes it made. A container of a spec
//!   you changed since stays until then.
//! - **Never in CI**: when `CI` is set to anything, `TESTDOCK_REUSE` is ignored and a
//!   line on stderr says so. Opt one fixture out with
//!   [`.reusable(false)`](Shared::reusable) (e.g. one whose tests leave state they do
//!   not clean up).
//! - **State carries over.** Whatever the tests wrote into it is there in the next run.
//!   Per-test isolation by [`unique_name`] keeps working (a killed run may leave its
//!   per-test databases or keys behind, but no later test uses those names); a fixture
//!   that prepares shared state once (a template database with migrations applied)
//!   must do it idempotently, named after what it contains (e.g. a hash of the
//!   migrations), as it already must under nextest, where several processes attach to
//!   one container.

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::container::Container;
use crate::error::Result;
use crate::labels;
use crate::spec::{ContainerSpec, Holder, Sharing};

mod reuse;

pub use reuse::REUSE_ENV;

/// A container shared by the tests of a run. Declare it in a `static`.
pub struct Shared {
    key: &'static str,
    make: fn() -> ContainerSpec,
    reusable: bool,
    cell: OnceCell<Container>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("key", &self.key)
            .field("reusable", &self.reusable)
            .field("started", &self.cell.initialized())
            .finish()
    }
}

/// Whether the tests of this run each have their own process (nextest).
fn process_per_test() -> bool {
    std::env::var_os("NEXTEST").is_some() || std::env::var_os("NEXTEST_RUN_ID").is_some()
}

impl Shared {
    /// A shared container named `key` (unique among the run's shared fixtures), made
    /// from the spec `make` returns.
    pub const fn new(key: &'static str, make: fn() -> ContainerSpec) -> Self {
        Shared {
            key,
            make,
            reusable: true,
            cell: OnceCell::const_new(),
        }
    }

    /// Whether `TESTDOCK_REUSE=1` may keep this fixture's container for the next run
    /// (default `true`; see "Reuse across runs" in the [module docs](self)). Without
    /// that variable, or with `CI` set, containers are never reused either way.
    ///
    /// ```
    /// use testdock::shared::Shared;
    /// use testdock::ContainerSpec;
    ///
    /// // Its tests leave data behind that a next run must not see.
    /// static SCRATCH: Shared =
    ///     Shared::new("scratch", || ContainerSpec::new("redis:7")).reusable(false);
    /// ```
    #[must_use]
    pub const fn reusable(mut self, reusable: bool) -> Self {
        self.reusable = reusable;
        self
    }

    /// The shared container, started by the first caller of the run (and, under nextest,
    /// of the session); the others wait until it is ready.
    pub async fn get(&'static self) -> Result<&'static Container> {
        self.cell.get_or_try_init(|| self.start()).await
    }

    async fn start(&self) -> Result<Container> {
        start_shared(self.key, (self.make)(), self.reusable).await
    }
}

/// Starts `spec` as the shared container `key` of this run (or finds it, under nextest):
/// what [`Shared::get`] does once, and what other shared fixtures built on a spec (the
/// servers of [`crate::services`]) do, so that they share one lifecycle.
pub(crate) async fn start_shared(
    key: &str,
    spec: ContainerSpec,
    reusable: bool,
) -> Result<Container> {
    let mut spec = spec.test_id(format!("shared::{key}"));
    if reusable && reuse::enabled() {
        return reuse::start(key, spec).await;
    }
    let (scope, owner) = match labels::session_owner_id() {
        Some(session_owner) if process_per_test() => (labels::session_id(), session_owner),
        _ => (labels::owner_id(), labels::owner_id()),
    };
    spec.sharing = Some(Sharing {
        name: shared_name(scope, key),
        key: key.to_owned(),
        holder: Holder::Owner(owner.to_owned()),
    });
    spec.start().await
}

/// The fixed container name of `key` within `scope` (a session or a process).
fn shared_name(scope: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{scope}\0{key}").as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    fixed_name("testdock-shared", key, &hash)
}

/// `<prefix>-<key>-<suffix>`, the key made fit for a container name and cut to 30
/// characters.
fn fixed_name(prefix: &str, key: &str, suffix: &str) -> String {
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    format!("{prefix}-{key}-{suffix}")
}

/// A name no other test of any run shares: `prefix` plus random hex, usable as a
/// database, schema, bucket or key prefix inside a shared server.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", labels::random_hex(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_names_are_fixed_per_scope_and_key() {
        let a = shared_name("s1", "pg");
        assert_eq!(a, shared_name("s1", "pg"));
        assert_ne!(a, shared_name("s2", "pg"));
        assert_ne!(a, shared_name("s1", "redis"));
        assert!(a.starts_with("testdock-shared-pg-"), "{a}");
        assert!(shared_name("s", "a b/c").starts_with("testdock-shared-a-b-c-"));
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("t"), unique_name("t"));
        assert!(unique_name("db").starts_with("db_"));
    }
}
