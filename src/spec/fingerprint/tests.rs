//! Unit tests of the fingerprint: equal specs hash equal, whatever varies from run to run
//! is left out, and each part of a container's behaviour changes the hash.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::inject::InjectFile;
use crate::ports::Port;
use crate::probe::Probe;
use crate::spec::{Healthcheck, Holder, Sharing};

const IMAGE_ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A spec with something set for each part a change below touches.
fn base() -> ContainerSpec {
    ContainerSpec::new("postgres:16")
        .cmd(["postgres", "-c", "fsync=off"])
        .env("PGDATA", "/data")
        .expose(5432)
        .tmpfs("/data", Some(1 << 20))
        .file(InjectFile::from_bytes("/etc/app.conf", "a=1\n").mode(0o644))
        .wait_for(Probe::log("ready"))
}

fn hash(spec: &ContainerSpec) -> String {
    spec.fingerprint(IMAGE_ID, LOCALHOST).unwrap()
}

#[test]
fn equal_specs_hash_equal_and_the_hash_is_hex() {
    let a = hash(&base());
    assert_eq!(a, hash(&base()));
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn what_varies_between_runs_does_not_change_the_hash() {
    let a = hash(&base());
    // Another thread, test id, name prefix and startup limit; a shared fixture's labels.
    let other = std::thread::spawn(|| {
        let mut spec = base()
            .test_id("another::test")
            .name_prefix("other")
            .startup_timeout(Duration::from_secs(5));
        spec.sharing = Some(Sharing {
            name: "testdock-reuse-x".into(),
            key: "pg".into(),
            holder: Holder::Reuse("h".into()),
        });
        hash(&spec)
    })
    .join()
    .unwrap();
    assert_eq!(a, other);
    // Labels given in another order.
    let ab = base().label("a", "1").label("b", "2");
    let ba = base().label("b", "2").label("a", "1");
    assert_eq!(hash(&ab), hash(&ba));
}

#[test]
fn each_part_of_the_behaviour_changes_the_hash() {
    let changes: Vec<(&str, ContainerSpec)> = vec![
        ("command", base().cmd(["postgres"])),
        ("entrypoint", base().entrypoint(["/bin/sh", "-c"])),
        ("env value", base().env("PGDATA", "/other")),
        ("another env", base().env("TZ", "UTC")),
        ("user", base().user("999:999")),
        ("workdir", base().workdir("/srv")),
        ("hostname", base().hostname("db")),
        ("another port", base().expose(8080)),
        ("a udp port", base().expose_udp(5432)),
        (
            "a fixed host port",
            base().port(Port::tcp(5432).host_port(15432)),
        ),
        ("a bind mount", base().bind("/tmp", "/mnt")),
        ("a volume", base().volume("data", "/var/lib/data")),
        ("an anonymous volume", base().anonymous_volume("/cache")),
        ("another tmpfs", base().tmpfs("/run", None)),
        ("memory", base().memory_limit(1 << 30)),
        ("cpus", base().cpus(0.5)),
        ("network", base().network("net")),
        ("another network", base().join_network("back", ["db"])),
        (
            "an alias on another network",
            base().join_network("back", ["db", "pg"]),
        ),
        ("read-only root", base().read_only_rootfs(true)),
        ("stop signal", base().stop_signal("SIGINT")),
        ("user label", base().label("team", "db")),
        (
            "healthcheck",
            base().healthcheck(Healthcheck::cmd(["pg_isready"])),
        ),
        (
            "healthcheck interval",
            base().healthcheck(Healthcheck::cmd(["pg_isready"]).interval(Duration::from_secs(9))),
        ),
        ("probe", base().wait_for(Probe::log("other"))),
        (
            "another file",
            base().file(InjectFile::from_bytes("/x", "y")),
        ),
    ];
    let files_changed: Vec<(&str, InjectFile)> = vec![
        (
            "file content",
            InjectFile::from_bytes("/etc/app.conf", "a=2\n").mode(0o644),
        ),
        (
            "file mode",
            InjectFile::from_bytes("/etc/app.conf", "a=1\n").mode(0o600),
        ),
        (
            "file owner",
            InjectFile::from_bytes("/etc/app.conf", "a=1\n")
                .mode(0o644)
                .owner(999, 999),
        ),
        (
            "file path",
            InjectFile::from_bytes("/etc/b.conf", "a=1\n").mode(0o644),
        ),
    ];
    let base_hash = hash(&base());
    let mut seen = std::collections::HashMap::from([(base_hash.clone(), "base")]);
    for (what, spec) in changes {
        let h = hash(&spec);
        if let Some(earlier) = seen.insert(h, what) {
            panic!("{what} hashes like {earlier}");
        }
    }
    for (what, file) in files_changed {
        let mut spec = base();
        spec.files = vec![file];
        let h = hash(&spec);
        if let Some(earlier) = seen.insert(h, what) {
            panic!("{what} hashes like {earlier}");
        }
    }
}

#[test]
fn the_image_id_and_the_bind_address_change_the_hash() {
    let spec = base();
    let a = hash(&spec);
    let other_image = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    assert_ne!(a, spec.fingerprint(other_image, LOCALHOST).unwrap());
    let everywhere = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    assert_ne!(a, spec.fingerprint(IMAGE_ID, everywhere).unwrap());
}

#[test]
fn a_host_file_is_hashed_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("init.sql");
    std::fs::write(&path, "create table t ();").unwrap();
    let spec = || base().file(InjectFile::from_host_file("/init.sql", &path));
    let before = hash(&spec());
    assert_eq!(before, hash(&spec()));
    std::fs::write(&path, "create table u ();").unwrap();
    assert_ne!(before, hash(&spec()));
}

#[test]
fn canonical_json_sorts_keys_and_keeps_array_order() {
    let mut out = String::new();
    canonical_json(
        &serde_json::json!({"b": [2, 1], "a": {"y": "\"q\"", "x": null}}),
        &mut out,
    );
    assert_eq!(out, r#"{"a":{"x":null,"y":"\"q\""},"b":[2,1]}"#);
}
