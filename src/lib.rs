//! # testdock
//!
//! Container-backed integration tests that are as easy and as trustworthy as unit tests.
//!
//! As a test, with the attribute (containers ready when the body starts, gone when it
//! ends, however it ends):
//!
//! ```no_run
//! use testdock::{container_test, Container, Exec, Probe};
//!
//! #[container_test(image = "redis:7", expose = [6379], ready = Probe::log("Ready to accept"))]
//! async fn redis_answers(redis: Container) {
//!     let out = redis.exec(Exec::new(["redis-cli", "ping"])).await.unwrap();
//!     assert_eq!(out.stdout_text(), "PONG\n");
//! }
//! ```
//!
//! Or with the fixture API, in any async code:
//!
//! ```no_run
//! use testdock::{ContainerSpec, Exec, HostImage, InjectFile, Probe};
//!
//! # async fn demo() -> testdock::Result<()> {
//! // An image made from host binaries: no registry, no Dockerfile.
//! let image = HostImage::new().binary("/bin/sh").binary("/bin/cat");
//! let c = ContainerSpec::new(image)
//!     // Copied in after create and before start, so the service boots with it.
//!     .file(InjectFile::from_bytes("/etc/app.conf", "greeting=hello\n").mode(0o600))
//!     .cmd(["/bin/sh", "-c", "cat /etc/app.conf; echo ready; exec cat"])
//!     .wait_for(Probe::log("ready"))
//!     .start()
//!     .await?;
//! let out = c.exec(Exec::new(["cat", "/etc/app.conf"])).await?;
//! assert_eq!(out.stdout_text(), "greeting=hello\n");
//! c.remove().await?; // or drop it: removal is guaranteed either way
//! # Ok(()) }
//! ```
//!
//! ## What you get
//!
//! | | |
//! |---|---|
//! | [`container_test`] | the test attribute: the test's container from `image`/`spec`, `files`, `ready`; fixtures by argument type or `#[from(fn)]`, started together; a per-test network; test timeout; diagnostics of failed tests |
//! | [`runner`] | what the attribute calls, usable by hand: [`runner::run_test`], [`runner::Fixture`] |
//! | [`ContainerSpec`] | image, command, env, ports (published on `127.0.0.1`), mounts, limits, network, healthcheck, injected files, readiness probe, startup timeout |
//! | [`InjectFile`] | files from bytes, host files and host directories, with mode and owner, copied in one `put_archive` between create and start |
//! | images | [`RegistryImage`] (pull policy, credentials, pull timeout with stall detection), [`BuildContext`] (Dockerfile + files built in memory, content-hash tagged), [`HostImage`] (host executables and their shared libraries, no Dockerfile), [`RootfsImage`] and [`ImageArchive`] (tarballs), [`Container::commit`] snapshots |
//! | [`Probe`] | readiness: log line, TCP, HTTP(S), exec, healthcheck, exit code, delay, all/any, custom; fails fast when the container dies |
//! | [`Container`] | ports, exec, logs, file read/write, stop/kill/restart/pause, inspect, top, commit, remove, step [`timings`](Container::timings) |
//! | [`NetworkSpec`], [`VolumeSpec`] | networks (driver, internal, options) and named volumes as fixtures: labelled, removed like containers (after the containers that use them), one per test argument; `.network(&net)`, `.volume(&data, "/data")` |
//! | [`compose`] | a `docker-compose.yml` brought up natively ([`compose::Compose`]), as a [`compose::Stack`] of containers with injected files, probes, fail-fast and teardown |
//! | [`Container::wait`], [`ContainerSpec::run`], [`Container::stats`] | run to completion (exit code + logs), resource usage |
//! | [`ExecOutput::check`] | a command's non-zero exit as an error naming the command, the code and its output |
//! | [`prune`], the `testdock` command | what testdock left on a daemon and whose it is (`ps`, `--json`), removal of what is provably dead, kept or selected by test/session |
//! | [`services`] | PostgreSQL, Redis and memcached in one line (test argument, fixture, or shared by the run with a fresh database per test), from the official image or host binaries; [`services::Service`] for your own |
//! | [`Error`] | one error type naming the step, the container and the time spent, with the last log lines |
//! | [`pool`] | opt-in pool mode: a test's containers start in a pre-warmed network namespace (a leased pause container), reached on its bridge IP; about half the daemon's per-container cost on a Linux host |
//!
//! ## Cargo features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `postgres` | on | [`services::postgres`]: PostgreSQL as a service (pulls in `tokio-postgres`) |
//!
//! ## Teardown
//!
//! Every container, network and volume is labelled (see [`labels`]) and registered for
//! removal before it is created. It is removed by `remove()` ([`Container::remove`]),
//! when the handle is dropped (also during a panic, with or without a tokio runtime:
//! the drop hands the removal to a background thread and returns at once),
//! when `start`/`create` fails, and when that future is dropped mid-way (e.g. by an
//! outer `tokio::time::timeout`). Removal kills the container and removes its anonymous
//! volumes; a network or volume still used by containers is removed as soon as they
//! are gone.
//!
//! Under all of that is the reaper (see `src/cleanup/reaper/`), started on first use,
//! which removes everything the process owned once it dies, however it dies (`kill -9`,
//! its job container killed), within 2 s: on a Linux host a local watchdog process; in
//! a container, another pid namespace or against a TCP daemon a watcher in the
//! session's reaper container on the daemon's side ([`prune::reaper`] says which).
//! Resources of runs that died anyway are swept at the next first use, but only when
//! their owner is proven dead (same host, same pid namespace, process gone: see
//! [`prune::Ownership`]); [`prune`] lists and removes them by hand, and
//! [`shared::Shared`] fixtures live as long as the run.
//!
//! ## Which daemon
//!
//! The first of these that applies, resolved once per process:
//!
//! 1. `DOCKER_HOST`: `unix:///path`, `tcp://host:port` or `http://` (plain), `https://`
//!    (TLS). With `tcp://`, `DOCKER_TLS_VERIFY=1` turns TLS on with `ca.pem`, `cert.pem` and
//!    `key.pem` from `DOCKER_CERT_PATH` (default `~/.docker`). When set, nothing else is tried.
//! 2. The active Docker context: `DOCKER_CONTEXT`, else `currentContext` in
//!    `~/.docker/config.json` (`DOCKER_CONFIG` moves `~/.docker`), read from
//!    `contexts/meta/*/meta.json` with TLS material from `contexts/tls/`. `default` means none.
//! 3. `/var/run/docker.sock`, then the rootless socket (`$XDG_RUNTIME_DIR/docker.sock`,
//!    else `/run/user/<uid>/docker.sock`), then Docker Desktop's (`~/.docker/run/docker.sock`,
//!    `~/.docker/desktop/docker.sock`).
//!
//! The API version is negotiated with the daemon (Docker 20.10 speaks 1.41). When no
//! endpoint answers, [`Error::NoDaemon`] lists each one tried, with why it failed and how to
//! get a daemon.
//!
//! ## Readiness and timeouts
//!
//! [`ContainerSpec::wait_for`] takes a [`Probe`]: a log line (substring or regex, Nth
//! occurrence, streamed), a TCP port, an HTTP(S) answer, an exec command, Docker's
//! healthcheck, an exit code, a delay, `all`/`any` of those, or your own async check.
//! While a probe waits, the container is watched: an exit, an OOM kill or an
//! `unhealthy` status fails the start at once ([`Error::Exited`],
//! [`Error::ProbeFailed`]) instead of at the timeout.
//!
//! | limit | default | set with |
//! |---|---|---|
//! | create + inject + start + readiness | 60 s | [`ContainerSpec::startup_timeout`] |
//! | one probe | none (the startup limit) | [`Probe::within`] |
//! | teardown of one container | 30 s | — |
//!
//! Every limit is multiplied by `TESTDOCK_TIMEOUT_SCALE` (see [`timeouts`]). A timeout
//! is an [`Error::Timeout`] naming the step, the limit, what was awaited and what a
//! polling probe last saw, the container's state and its last 50 log lines; it never
//! leaves the container behind.
//!
//! ## Tracing
//!
//! testdock reports each step through [`tracing`](https://docs.rs/tracing) spans and
//! events. Without a subscriber they cost next to nothing and print nothing; install
//! one to see them, e.g. in a test with `tracing-subscriber`:
//!
//! ```no_run
//! # async fn demo(spec: testdock::ContainerSpec) -> testdock::Result<()> {
//! let _guard = tracing::subscriber::set_default(
//!     tracing_subscriber::fmt()
//!         .with_max_level(tracing::Level::DEBUG)
//!         .with_test_writer()
//!         .finish(),
//! );
//! let c = spec.start().await?;
//! println!("{:?}", c.timings()); // the same durations, without a subscriber
//! # Ok(()) }
//! ```
//!
//! | span (INFO) | fields | what |
//! |---|---|---|
//! | `testdock.container` | `container`, `test`, `image` | one [`ContainerSpec::start`]; ends with the event `container ready` (every step's `*_ms`) or `container start failed` (`error`) |
//! | `testdock.image` | `source` (`registry`, `host`, `build`, ...), `image`, `cached` | making the image present (pull, build, import, load) |
//! | `testdock.create` | `container`, `image` | the create request (and joining the network a job container meets containers on) |
//! | `testdock.inject` | `container`, `files`, `bytes` | copying the injected files in |
//! | `testdock.start` | `container`, `id` | the start request |
//! | `testdock.ready` | `container`, `probe` | the readiness wait; a DEBUG event `probe attempt` per attempt of a polled probe (`attempt`, `outcome`: `ready`/`retry`/`never`, `seen`) |
//! | `testdock.remove` | `container` | removing one container (handle, drop, failed start, runner, sweep) |
//! | `testdock.teardown` | `test` | the runner's removal of everything of a test |
//! | `testdock.reaper` | `kind` | starting this process's reaper (once) |
//! | `testdock.sweep` | | the background sweep of stale resources (once), event with `removed` |
//!
//! Every step span gets `elapsed_ms` (milliseconds, `f64`) when it ends, with a DEBUG
//! event `step done` or `step failed` (`error`). Failures testdock handles itself
//! (a removal on drop that failed, a teardown left to the reaper) are WARN events.
//! A few lines stay on stderr as well, as they matter without a subscriber: a failed
//! test's report under the runner, an ignored setting, a reaper fallback, registry pull
//! progress after 1 s, and a kept container under `TESTDOCK_KEEP_FAILED`.
//! [`Container::timings`] keeps each step's duration ([`StepTimings`]).
//!
//! ## Environment variables
//!
//! | variable | effect |
//! |---|---|
//! | `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, `DOCKER_CONTEXT`, `DOCKER_CONFIG` | which daemon, as above |
//! | `TESTDOCK_HOST` | the host containers are reached on (default `127.0.0.1` for a local socket, the daemon's host for `tcp://`, the container's IP from a job container) |
//! | `TESTDOCK_BIND` | the host address ports are published on (default `127.0.0.1`, or a TCP daemon's address); `0.0.0.0` is an explicit opt-in |
//! | `TESTDOCK_REAPER` | `local` or `daemon`: force the reaper kind (see [`prune::reaper`]) |
//! | `TESTDOCK_REAPER_SOCKET` | the daemon's socket as its host sees it, mounted into the daemon-side reaper (default `/var/run/docker.sock`) |
//! | `TESTDOCK_SESSION` | the session id put on every resource (default: derived from the parent process, cargo or nextest, and its start time: one session per test run) |
//! | `TESTDOCK_TIMEOUT_SCALE` | multiplies every time limit (e.g. `3` on a slow CI runner) |
//! | `TESTDOCK_REMOVE_IMAGES` | remove the images a process built or imported when it ends (they are a cache by default) |
//! | `TESTDOCK_KEEP_FAILED` | keep the containers of tests that failed under the runner |
//! | `TESTDOCK_REUSE` | `1`: [`shared::Shared`] containers outlive the run and the next run with the same spec adopts them (ignored when `CI` is set; see [`shared`]) |
//! | `TESTDOCK_POOL` | `1`: runner tests start their containers in pooled network namespaces (see [`pool`]; [`runner::TestMeta::pool`] per test) |
//! | `TESTDOCK_SKIP_WITHOUT_DOCKER` | without a daemon, runner tests print a skip line instead of failing |
//! | `TESTDOCK_SERVICES` | `auto`, `host` or `registry`: where [`services`] get their images (see [`services::ServiceSource`]) |
//! | `DOCKER_AUTH_CONFIG` | registry credentials (JSON with `auths`), before `~/.docker/config.json` |

// `unsafe` is denied everywhere but in the reaper's constructor (src/cleanup/reaper.rs).
#![deny(unsafe_code)]

// `testdock::...` paths inside the crate too: code written with the public API alone
// (src/services/memcached.rs) compiles both here and from outside the crate.
extern crate self as testdock;

mod archive;
mod at_exit;
mod cleanup;
pub mod compose;
mod container;
pub mod docker;
mod endpoint;
mod error;
mod exec;
mod host_tree;
mod image;
mod inject;
pub mod labels;
mod lifecycle;
mod logs;
mod network;
pub mod pool;
mod ports;
mod probe;
mod procfs;
pub mod prune;
mod reach;
mod readiness;
mod resource;
mod resource_kind;
mod run;
pub mod runner;
pub mod services;
pub mod shared;
mod spec;
pub mod timeouts;
mod timings;
mod trace;
mod volume;
mod watch;

pub use archive::{ArchiveEntry, EntryKind};
pub use container::Container;
pub use docker::{daemon, Daemon, Engine, Topology};
pub use error::{Error, LogTail, Result, Step};
pub use exec::{Exec, ExecOutput};
pub use image::{
    remove_image, BuildContext, HostImage, ImageArchive, ImageSource, LocalImage, PreparedImage,
    PullPolicy, RegistryImage, RootfsImage,
};
pub use inject::InjectFile;
pub use logs::{LogChunk, LogStream, Logs};
pub use network::{Network, NetworkSpec};
pub use ports::{Port, Protocol};
pub use probe::{Probe, ProbeTarget};
pub use run::RunOutput;
pub use spec::{ContainerSpec, Healthcheck, DEFAULT_STARTUP_TIMEOUT};
pub use timings::StepTimings;
pub use volume::{Volume, VolumeSpec};

#[doc = include_str!("../docs/container_test.md")]
pub use testdock_macros::container_test;

#[doc(hidden)]
pub mod __private {
    //! What `#[container_test]` expands to. Not a public API: use [`crate::runner`].
    pub use crate::runner::{run_blocking, run_test, Fixture, TestContext, TestMeta};
    pub use futures::try_join;
}

/// bollard, for anything testdock does not wrap: `testdock::daemon().await?.client()` is
/// the shared, version-negotiated client.
pub use bollard;
