//! The labels testdock puts on everything it creates, and the session they name.
//!
//! Labels are how cleanup, leak checks and `prune` find exactly what a run created:
//!
//! | label | value |
//! |---|---|
//! | `testdock.managed-by` | `testdock` |
//! | `testdock.session` | the session id ([`session_id`]) |
//! | `testdock.test` | the test's identity (`module::path::test_name`) |
//! | `testdock.pid` | the owning process id |
//! | `testdock.owner` | the owning process, `<pid>-<start time>-<pid namespace>` (a reused pid does not match) |
//! | `testdock.host` | the boot id of the owner's host (absent where `/proc` is missing) |
//! | `testdock.pidns` | the owner's pid namespace (inode), so only a process that sees the owner's pids judges it |
//! | `testdock.created` | creation time, seconds since the epoch (networks and volumes have no number for it) |
//! | `testdock.shared` | on a shared fixture's container: the fixture's key |
//! | `testdock.reuse` | on a container reused across runs (`TESTDOCK_REUSE`): the hash of its spec; it has no `testdock.owner` or `testdock.pid` |
//! | `testdock.container` | on named volumes a container created: that container's name |
//! | `testdock.role` | `reaper` on a session's daemon-side reaper container, `pause` on a pod pool's pause container |
//! | `testdock.pod` | on a container started in a pooled namespace: the pause container's name |
//!
//! A container kept for debugging (`TESTDOCK_KEEP_FAILED`) is renamed to end in `-kept`:
//! it then belongs to no one, and only `testdock prune --kept` (or `--all`) removes it.
//!
//! The session is one `cargo test` or `cargo nextest run`: it is derived from the
//! parent process (cargo, or nextest, which runs each test in its own process) and its
//! start time, unless `TESTDOCK_SESSION` names one (e.g. one session across the steps
//! of a CI job).

use std::collections::HashMap;

use once_cell::sync::Lazy;
use rand::Rng;

/// Label key marking every resource testdock creates.
pub const MANAGED_BY: &str = "testdock.managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "testdock";
/// Label key holding the session id.
pub const SESSION: &str = "testdock.session";
/// Label key holding the test's identity.
pub const TEST: &str = "testdock.test";
/// Label key holding the owning process id.
pub const PID: &str = "testdock.pid";
/// Label key holding the owning process as `<pid>-<start time>`.
pub const OWNER: &str = "testdock.owner";
/// Label key holding the boot id of the owner's host.
pub const HOST: &str = "testdock.host";
/// Label key holding the owner's pid namespace (the inode of `/proc/self/ns/pid`).
pub const PID_NAMESPACE: &str = "testdock.pidns";
/// Label key holding the creation time, seconds since the epoch.
pub const CREATED: &str = "testdock.created";
/// Label key marking testdock's own helper containers (`reaper`).
pub const ROLE: &str = "testdock.role";
/// Label key on a shared fixture's container: the fixture's key.
pub const SHARED: &str = "testdock.shared";
/// Label key on a container reused across runs (see [`crate::shared`]): the hash of its
/// spec. Such a container (and the volumes it made) has no owner: only `testdock prune
/// --all` or `--reused` removes it.
pub const REUSE: &str = "testdock.reuse";
/// Label key on named volumes created by a container's mounts: the container's name.
pub const CONTAINER: &str = "testdock.container";
/// Label key on a container that joined a pooled pause's network namespace: the
/// pause's name (see `TESTDOCK_POOL`).
pub const POD: &str = "testdock.pod";

/// Environment variable that sets the session id (e.g. one id for all steps of a CI job).
pub const SESSION_ENV: &str = "TESTDOCK_SESSION";

static SESSION_ID: Lazy<String> = Lazy::new(|| {
    std::env::var(SESSION_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| SESSION_OWNER.as_ref().map(|owner| format!("p{owner}")))
        .unwrap_or_else(|| random_hex(12))
});

static OWNER_ID: Lazy<String> = Lazy::new(|| {
    let pid = std::process::id();
    let start = own_proc()
        .and_then(|proc| proc.start_time(pid))
        .unwrap_or(0);
    owner_value(pid, start)
});

/// `<pid>-<start time>[-<pid namespace>]`: pids and start times repeat across pid
/// namespaces (every job container has a pid 1), so the namespace makes it unique.
fn owner_value(pid: u32, start: u64) -> String {
    match crate::procfs::LocalFacts::system().pid_namespace {
        Some(namespace) => format!("{pid}-{start}-{namespace}"),
        None => format!("{pid}-{start}"),
    }
}

/// This process's `/proc`, if it has one of its own pid namespace.
fn own_proc() -> Option<&'static crate::procfs::Procfs> {
    crate::procfs::LocalFacts::system().proc.as_ref()
}

/// The id of this test session: `TESTDOCK_SESSION` if set, else derived from the parent
/// process (cargo or nextest) and its start time.
pub fn session_id() -> &'static str {
    &SESSION_ID
}

/// This process as an owner: `<pid>-<start time>-<pid namespace>` (`<pid>-<start time>`
/// where `/proc` is missing).
pub fn owner_id() -> &'static str {
    &OWNER_ID
}

/// The session's root process (cargo or nextest) as an owner, `<pid>-<start time>`,
/// if it can be known.
pub(crate) fn session_owner_id() -> Option<&'static str> {
    SESSION_OWNER.as_deref()
}

static SESSION_OWNER: Lazy<Option<String>> = Lazy::new(|| {
    let proc = own_proc()?;
    let parent = proc.parent_pid(std::process::id())?;
    let start = proc.start_time(parent)?;
    Some(owner_value(parent, start))
});

/// The name a kept container is renamed to.
pub(crate) fn kept_name(name: &str) -> String {
    format!("{name}{KEPT_SUFFIX}")
}

/// Whether `name` is a kept container's (see [`kept_name`]).
pub(crate) fn is_kept_name(name: &str) -> bool {
    name.trim_start_matches('/').ends_with(KEPT_SUFFIX)
}

/// What a kept container's name ends with. testdock's own names end in hex digits.
const KEPT_SUFFIX: &str = "-kept";

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `n` random lowercase hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| DIGITS[rng.random_range(0..16)] as char)
        .collect()
}

/// The identity of the running test, as far as it can be known without being told.
///
/// `cargo test` names each test's thread after the test path; elsewhere this falls back
/// to the executable's name.
pub(crate) fn current_test_id() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" && !name.starts_with("tokio-runtime") => name.to_owned(),
        _ => std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// The labels every resource of `test_id` carries. The host and pid namespace are
/// left out where this process cannot know them: such owners are never judged dead.
pub(crate) fn standard(test_id: &str) -> HashMap<String, String> {
    standard_with(test_id, crate::procfs::LocalFacts::system())
}

fn standard_with(test_id: &str, facts: &crate::procfs::LocalFacts) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (SESSION.to_owned(), session_id().to_owned()),
        (TEST.to_owned(), test_id.to_owned()),
        (PID.to_owned(), std::process::id().to_string()),
        (OWNER.to_owned(), owner_id().to_owned()),
        (CREATED.to_owned(), now_secs().to_string()),
    ]);
    if let (Some(boot_id), Some(namespace)) = (&facts.boot_id, facts.pid_namespace) {
        labels.insert(HOST.to_owned(), boot_id.clone());
        labels.insert(PID_NAMESPACE.to_owned(), namespace.to_string());
    }
    labels
}

/// Refuses user labels under `testdock.`: those are testdock's own, and setting one is
/// a mistake, not something to drop silently.
pub(crate) fn refuse_reserved(user_labels: &HashMap<String, String>) -> Result<(), String> {
    match user_labels.keys().find(|k| k.starts_with("testdock.")) {
        Some(key) => Err(format!(
            "the label `{key}` is reserved: testdock sets the `testdock.*` labels of \
             everything it creates (see `testdock::labels`); use another prefix"
        )),
        None => Ok(()),
    }
}

/// `user_labels` (checked by [`refuse_reserved`]) with the [`standard`] labels of `test_id`.
pub(crate) fn with_standard(
    user_labels: &HashMap<String, String>,
    test_id: &str,
) -> HashMap<String, String> {
    let mut all = user_labels.clone();
    all.retain(|k, _| !k.starts_with("testdock."));
    all.extend(standard(test_id));
    all
}

/// A list-filter that selects resources of this session, for leak checks.
pub fn session_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("{SESSION}={}", session_id())],
    )])
}

/// The label filter (`key=value`) matching everything testdock made.
pub(crate) fn managed_filter() -> String {
    format!("{MANAGED_BY}={MANAGED_BY_VALUE}")
}

/// Docker list filters selecting this process's resources of `test_id`.
pub(crate) fn test_filter(test_id: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![
            format!("{}={test_id}", TEST),
            format!("{}={}", SESSION, session_id()),
            // The owner, not the pid: pids repeat across pid namespaces (every job
            // container has a pid 1), and a test of the same name may run in several.
            format!("{}={}", OWNER, owner_id()),
        ],
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_labels_name_session_test_and_pid() {
        let labels = standard("my::test");
        assert_eq!(labels[MANAGED_BY], "testdock");
        assert_eq!(labels[TEST], "my::test");
        assert_eq!(labels[SESSION], session_id());
        assert_eq!(labels[PID], std::process::id().to_string());
        assert!(labels[CREATED].parse::<i64>().unwrap() > 1_700_000_000);
        assert!(labels[PID_NAMESPACE].parse::<u64>().is_ok(), "linux /proc");
        assert!(!labels[HOST].is_empty());
    }

    #[test]
    fn without_proc_no_host_or_namespace_is_claimed() {
        // Docker Desktop's host side: nothing could ever prove this owner dead.
        let facts = crate::procfs::LocalFacts::read(crate::procfs::Procfs::at("/nonexistent"), 1);
        let labels = standard_with("t", &facts);
        assert!(!labels.contains_key(HOST));
        assert!(!labels.contains_key(PID_NAMESPACE));
        assert!(labels.contains_key(OWNER));
    }

    #[test]
    fn kept_names_are_told_apart_from_testdocks_own() {
        assert!(is_kept_name(&kept_name("testdock-0a1b2c")));
        assert!(is_kept_name("/testdock-0a1b2c-kept"));
        assert!(!is_kept_name("testdock-0a1b2c"));
    }

    #[test]
    fn the_test_thread_name_is_the_test_id() {
        assert_eq!(
            current_test_id(),
            "labels::tests::the_test_thread_name_is_the_test_id"
        );
    }

    #[test]
    fn random_hex_has_the_asked_length_and_alphabet() {
        let s = random_hex(20);
        assert_eq!(s.len(), 20);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
}
