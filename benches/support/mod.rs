//! Support code the benches share, written once: each bench includes it with
//! `mod support;` (this directory is not a bench target of its own).
//!
//! - [`run`]: connecting (daemon and busybox checks), the iteration count, the order of
//!   variants, running the measurement so that a panic or Ctrl-C still reaches the
//!   cleanup, and the exit code;
//! - [`stats`]: medians, percentiles and milliseconds;
//! - [`table`]: the result tables and the `targets:` section;
//! - [`leaks`]: the sweep that removes and reports what a run left behind;
//! - [`images`]: the busybox images every bench builds from the host, and their import;
//! - [`raw`]: what the raw-bollard floor of the comparisons repeats (labels, following
//!   the logs until a line).
//!
//! No bench uses all of it, hence the `allow` below (as in `tests/common`).

#![allow(dead_code, unreachable_pub)]

pub mod images;
pub mod leaks;
pub mod procs;
pub mod raw;
pub mod run;
pub mod stats;
pub mod table;

/// Label on the containers and images a bench run makes itself, valued with something
/// unique to the run (e.g. `shared-<owner id>`), so that its leak check finds them.
/// Not under `testdock.`: testdock refuses to set its own labels' keys.
pub const BENCH_LABEL: &str = "testdock-bench.run";

/// The error of a bench's fallible steps.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A bench step's result.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
