//! Every branch of the ownership decision, on fake `/proc` trees in temp dirs.

use std::collections::HashMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;
use crate::procfs::Procfs;

const BOOT: &str = "11111111-2222-3333-4444-555555555555";
const NAMESPACE: u64 = 4026532001;
const NOW: i64 = 1_800_000_000;

/// A `/proc` tree in which this process is `me` and `others` run, as (pid, start time).
fn fake_proc(dir: &Path, me: u32, others: &[(u32, u64)]) {
    let process = |pid: u32, start: u64| {
        let p = dir.join(pid.to_string());
        std::fs::create_dir_all(p.join("ns")).unwrap();
        let stat = format!(
            "{pid} (some proc) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"
        );
        std::fs::write(p.join("stat"), stat).unwrap();
        symlink(format!("pid:[{NAMESPACE}]"), p.join("ns/pid")).unwrap();
    };
    process(me, 500);
    for &(pid, start) in others {
        process(pid, start);
    }
    symlink(me.to_string(), dir.join("self")).unwrap();
    std::fs::create_dir_all(dir.join("sys/kernel/random")).unwrap();
    std::fs::write(dir.join("sys/kernel/random/boot_id"), format!("{BOOT}\n")).unwrap();
}

/// Facts of process 100 in a tree where process 200 (start 7000) runs.
fn facts() -> (tempfile::TempDir, LocalFacts) {
    let dir = tempfile::tempdir().unwrap();
    fake_proc(dir.path(), 100, &[(200, 7000)]);
    let facts = LocalFacts::read(Procfs::at(dir.path()), 100);
    (dir, facts)
}

fn owned(owner: &str, host: &str, namespace: u64) -> HashMap<String, String> {
    HashMap::from([
        (labels::OWNER.to_owned(), owner.to_owned()),
        (labels::HOST.to_owned(), host.to_owned()),
        (labels::PID_NAMESPACE.to_owned(), namespace.to_string()),
    ])
}

fn old() -> i64 {
    NOW - GRACE_SECS - 1
}

#[test]
fn facts_come_from_the_tree() {
    let (_dir, facts) = facts();
    assert_eq!(facts.boot_id.as_deref(), Some(BOOT));
    assert_eq!(facts.pid_namespace, Some(NAMESPACE));
    assert!(facts.proc.is_some());
    assert!(!facts.in_initial_pid_namespace());
}

#[test]
fn a_running_owner_is_alive() {
    let (_dir, facts) = facts();
    let labels = owned("200-7000", BOOT, NAMESPACE);
    assert_eq!(judge("c", &labels, old(), NOW, &facts), Ownership::Alive);
}

#[test]
fn a_gone_owner_of_an_old_resource_is_dead() {
    let (_dir, facts) = facts();
    let labels = owned("300-7000", BOOT, NAMESPACE);
    assert_eq!(judge("c", &labels, old(), NOW, &facts), Ownership::Dead);
}

#[test]
fn a_reused_pid_does_not_keep_a_dead_owner_alive() {
    let (_dir, facts) = facts();
    let labels = owned("200-6999", BOOT, NAMESPACE);
    assert_eq!(judge("c", &labels, old(), NOW, &facts), Ownership::Dead);
}

#[test]
fn a_resource_younger_than_the_grace_period_is_not_judged() {
    let (_dir, facts) = facts();
    let labels = owned("300-7000", BOOT, NAMESPACE);
    assert_eq!(
        judge("c", &labels, NOW - 2, NOW, &facts),
        Ownership::Unknown(Unproven::Recent)
    );
    assert_eq!(
        judge("c", &labels, 0, NOW, &facts),
        Ownership::Unknown(Unproven::Recent),
        "an unknown age is not old"
    );
}

#[test]
fn the_created_label_dates_networks_and_volumes() {
    let (_dir, facts) = facts();
    let mut labels = owned("300-7000", BOOT, NAMESPACE);
    labels.insert(labels::CREATED.to_owned(), old().to_string());
    assert_eq!(judge("n", &labels, 0, NOW, &facts), Ownership::Dead);
    labels.insert(labels::CREATED.to_owned(), NOW.to_string());
    assert_eq!(
        judge("n", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::Recent)
    );
}

#[test]
fn another_hosts_owner_is_unknown() {
    let (_dir, facts) = facts();
    let labels = owned("300-7000", "another-boot-id", NAMESPACE);
    assert_eq!(
        judge("c", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::OtherHost)
    );
}

#[test]
fn another_pid_namespaces_owner_is_unknown_even_if_the_pid_is_free_here() {
    let (_dir, facts) = facts();
    let labels = owned("300-7000", BOOT, NAMESPACE + 1);
    assert_eq!(
        judge("c", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::OtherPidNamespace)
    );
}

#[test]
fn without_proc_every_owner_is_unknown() {
    let facts = LocalFacts::read(Procfs::at("/nonexistent-proc"), 100);
    assert_eq!(facts.boot_id, None);
    let labels = owned("300-7000", BOOT, NAMESPACE);
    assert_eq!(
        judge("c", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::NoProc)
    );
    // Docker Desktop's old fallback labels ("unknown" host, start 0) prove nothing either.
    let labels = owned("300-0", "unknown", NAMESPACE);
    assert_eq!(
        judge("c", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::NoProc)
    );
}

#[test]
fn a_proc_of_another_namespace_proves_nothing() {
    // `/proc/self` names pid 100, but this process is pid 5 in its own namespace: the
    // tree was mounted by another namespace (unshare --pid without --mount-proc).
    let dir = tempfile::tempdir().unwrap();
    fake_proc(dir.path(), 100, &[]);
    let facts = LocalFacts::read(Procfs::at(dir.path()), 5);
    assert_eq!(facts.pid_namespace, None);
    let labels = owned("300-7000", BOOT, NAMESPACE);
    assert_eq!(
        judge("c", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::NoProc)
    );
}

#[test]
fn missing_labels_prove_nothing() {
    let (_dir, facts) = facts();
    let mut labels = owned("300-7000", BOOT, NAMESPACE);
    labels.remove(labels::PID_NAMESPACE);
    assert_eq!(
        judge("c", &labels, old(), NOW, &facts),
        Ownership::Unknown(Unproven::NoLabels)
    );
    assert_eq!(
        judge("c", &HashMap::new(), old(), NOW, &facts),
        Ownership::Unknown(Unproven::NoLabels)
    );
}

#[test]
fn a_kept_container_belongs_to_no_one() {
    let (_dir, facts) = facts();
    let labels = owned("300-7000", BOOT, NAMESPACE);
    let kept = labels::kept_name("testdock-abc123");
    assert_eq!(judge(&kept, &labels, old(), NOW, &facts), Ownership::Kept);
}

#[test]
fn a_reused_container_belongs_to_no_one_and_is_never_stale() {
    let (_dir, facts) = facts();
    // No owner labels at all (a reused container has none)...
    let mut labels = HashMap::from([(labels::REUSE.to_owned(), "ab12".to_owned())]);
    assert_eq!(judge("c", &labels, old(), NOW, &facts), Ownership::Reused);
    // ... and even one labelled with an owner long dead is not stale.
    labels.extend(owned("300-7000", BOOT, NAMESPACE));
    assert_eq!(judge("c", &labels, old(), NOW, &facts), Ownership::Reused);
}

#[test]
fn the_host_is_in_the_initial_pid_namespace() {
    let facts = LocalFacts {
        boot_id: None,
        pid_namespace: Some(crate::procfs::INITIAL_PID_NAMESPACE),
        proc: None,
    };
    assert!(facts.in_initial_pid_namespace());
}

#[test]
fn verdicts_read_as_text_for_people_and_codes_for_scripts() {
    let unknown = Ownership::Unknown(Unproven::OtherPidNamespace);
    assert_eq!(unknown.to_string(), "unknown (another pid namespace)");
    assert_eq!(unknown.code(), "unknown");
    assert_eq!(Unproven::OtherPidNamespace.code(), "other-pid-namespace");
    for (ownership, text) in [
        (Ownership::Alive, "alive"),
        (Ownership::Dead, "stale"),
        (Ownership::Kept, "kept"),
        (Ownership::Reused, "reused"),
    ] {
        assert_eq!(ownership.to_string(), text);
        assert_eq!(ownership.code(), text);
    }
}
