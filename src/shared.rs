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

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::container::Container;
use crate::error::Result;
use crate::labels;
use crate::spec::{ContainerSpec, Sharing};

/// A container shared by the tests of a run. Declare it in a `static`.
pub struct Shared {
    key: &'static str,
    make: fn() -> ContainerSpec,
    cell: OnceCell<Container>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("key", &self.key)
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
            cell: OnceCell::const_new(),
        }
    }

    /// The shared container, started by the first caller of the run (and, under nextest,
    /// of the session); the others wait until it is ready.
    pub async fn get(&'static self) -> Result<&'static Container> {
        self.cell.get_or_try_init(|| self.start()).await
    }

    async fn start(&self) -> Result<Container> {
        start_shared(self.key, (self.make)()).await
    }
}

/// Starts `spec` as the shared container `key` of this run (or finds it, under nextest):
/// what [`Shared::get`] does once, and what other shared fixtures built on a spec (the
/// servers of [`crate::services`]) do, so that they share one lifecycle.
pub(crate) async fn start_shared(key: &str, spec: ContainerSpec) -> Result<Container> {
    let (scope, owner) = match labels::session_owner_id() {
        Some(session_owner) if process_per_test() => (labels::session_id(), session_owner),
        _ => (labels::owner_id(), labels::owner_id()),
    };
    let mut spec = spec.test_id(format!("shared::{key}"));
    spec.sharing = Some(Sharing {
        name: shared_name(scope, key),
        key: key.to_owned(),
        owner: owner.to_owned(),
    });
    spec.start().await
}

/// The fixed container name of `key` within `scope` (a session or a process).
fn shared_name(scope: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{scope}\0{key}").as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    format!("testdock-shared-{key}-{hash}")
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
