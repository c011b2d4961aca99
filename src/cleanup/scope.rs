//! Tests run by the runner, which owns the teardown of their containers.
//!
//! Normally a dropped [`Container`](crate::Container) removes itself. A container of a
//! test the runner is running is left to the runner instead: it describes the test's
//! containers if the test failed (so they must still exist when the body has already
//! dropped them, e.g. while its panic unwound), then removes them, or keeps them when
//! `TESTDOCK_KEEP_FAILED` is set.

use std::collections::HashSet;
use std::sync::Mutex;

use once_cell::sync::Lazy;

static ACTIVE: Lazy<Mutex<HashSet<String>>> = Lazy::new(Default::default);

/// Marks a test as run by the runner while it lives.
#[derive(Debug)]
pub(crate) struct Scope(String);

impl Scope {
    pub(crate) fn enter(test_id: &str) -> Self {
        ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(test_id.to_owned());
        Scope(test_id.to_owned())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// Whether dropping a container of `test_id` should leave it to the runner.
pub(crate) fn runner_decides(test_id: &str) -> bool {
    ACTIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(test_id)
}
