//! Once per session, not once per process: whether this process is the first of its
//! session (on this host, for one daemon) to do something.
//!
//! Under `cargo nextest run` every test is a process of its own, and the stale sweep
//! (three list calls) at each one's first use would be repeated by every test of the
//! run, for the same answer. The first process of a session creates a marker file
//! (`create_new`, so exactly one process wins a race); the others find it and skip.
//! Markers live in `$TMPDIR/testdock-once/`; those older than a day are removed when a
//! new one is made. A marker is keyed by the daemon's endpoint as well as the session:
//! one session may run against two daemons of one host (partitions of a suite, see
//! `.ci/partitions`), and each daemon is swept by the first process that talks to it. Where no marker can be written, every process does the work, as
//! before.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Markers older than this are removed (sessions are short; ids are not reused).
const MARKER_AGE: Duration = Duration::from_secs(24 * 3600);

/// Whether this process is the first to do `what` in `session` against `daemon`
/// (an endpoint, as text). Never fails: `true` where it cannot tell.
pub(crate) fn first_in_session(what: &str, session: &str, daemon: &str) -> bool {
    first_in_session_at(
        &std::env::temp_dir().join("testdock-once"),
        what,
        session,
        daemon,
    )
}

fn first_in_session_at(dir: &Path, what: &str, session: &str, daemon: &str) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return true;
    }
    let marker = marker_path(dir, what, session, daemon);
    match std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&marker)
    {
        Ok(_) => {
            remove_old_markers(dir, &marker);
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(_) => true,
    }
}

fn marker_path(dir: &Path, what: &str, session: &str, daemon: &str) -> PathBuf {
    let mut hash = blake3::Hasher::new();
    for part in [what, session, daemon] {
        hash.update(part.as_bytes());
        hash.update(&[0]);
    }
    dir.join(&hash.finalize().to_hex()[..24])
}

fn remove_old_markers(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > MARKER_AGE);
        if old && path != keep {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_process_of_a_session_is_first() {
        let dir = tempfile::tempdir().unwrap();
        assert!(first_in_session_at(dir.path(), "sweep", "s1", "unix:///a"));
        assert!(!first_in_session_at(dir.path(), "sweep", "s1", "unix:///a"));
        // Another session, daemon or task is first again.
        assert!(first_in_session_at(dir.path(), "sweep", "s2", "unix:///a"));
        assert!(first_in_session_at(
            dir.path(),
            "sweep",
            "s1",
            "tcp://b:2375"
        ));
        assert!(first_in_session_at(dir.path(), "other", "s1", "unix:///a"));
    }

    #[test]
    fn one_session_on_two_daemons_of_one_host_sweeps_each() {
        // Partitions of a suite on one host: the same TMPDIR and session, two sockets.
        let dir = tempfile::tempdir().unwrap();
        let first = crate::endpoint::Endpoint::Unix {
            path: "/var/run/docker.sock".into(),
        };
        let second = crate::endpoint::Endpoint::Unix {
            path: "/tmp/testdock-part-1/docker.sock".into(),
        };
        for endpoint in [&first, &second] {
            let endpoint = endpoint.to_string();
            assert!(first_in_session_at(dir.path(), "sweep", "ci-1", &endpoint));
            assert!(!first_in_session_at(dir.path(), "sweep", "ci-1", &endpoint));
        }
    }

    #[test]
    fn concurrent_first_uses_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let winners: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| first_in_session_at(dir.path(), "sweep", "s", "d")))
                .collect();
            threads
                .into_iter()
                .map(|t| usize::from(t.join().unwrap()))
                .sum()
        });
        assert_eq!(winners, 1);
    }

    #[test]
    fn old_markers_are_removed_when_a_new_one_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("0123456789abcdef01234567");
        std::fs::write(&old, "").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * MARKER_AGE)
            .unwrap();
        assert!(first_in_session_at(dir.path(), "sweep", "s", "d"));
        assert!(!old.exists());
    }

    #[test]
    fn an_unwritable_place_means_every_process_does_the_work() {
        let file = tempfile::NamedTempFile::new().unwrap();
        // A directory cannot be made under a regular file.
        let dir = file.path().join("sub");
        assert!(first_in_session_at(&dir, "sweep", "s", "d"));
        assert!(first_in_session_at(&dir, "sweep", "s", "d"));
    }
}
