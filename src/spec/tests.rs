use bollard::models::{ContainerCreateBody, MountType};

use super::*;

fn body(spec: &ContainerSpec) -> ContainerCreateBody {
    spec.create_body("c-1", "img:1", "my::test", [127, 0, 0, 1].into())
}

#[test]
fn ports_are_published_on_loopback_with_a_daemon_chosen_port() {
    let b = body(&ContainerSpec::new("img").expose(6379).expose_udp(53));
    let bindings = b.host_config.unwrap().port_bindings.unwrap();
    let tcp = bindings["6379/tcp"].as_ref().unwrap();
    assert_eq!(tcp[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(tcp[0].host_port.as_deref(), Some(""));
    assert!(bindings.contains_key("53/udp"));
    let mut exposed = b.exposed_ports.unwrap();
    exposed.sort();
    assert_eq!(exposed, ["53/udp", "6379/tcp"]);
}

#[test]
fn an_explicit_port_binding_is_kept_and_replaces_the_default() {
    let spec = ContainerSpec::new("img").expose(80).port(
        Port::tcp(80)
            .host_ip("0.0.0.0".parse().unwrap())
            .host_port(8080),
    );
    let bindings = body(&spec).host_config.unwrap().port_bindings.unwrap();
    let b = &bindings["80/tcp"].as_ref().unwrap()[0];
    assert_eq!(b.host_ip.as_deref(), Some("0.0.0.0"));
    assert_eq!(b.host_port.as_deref(), Some("8080"));
    assert_eq!(bindings.len(), 1);
}

#[test]
fn testdock_labels_are_set_and_cannot_be_overridden() {
    let spec = ContainerSpec::new("img")
        .label("team", "db")
        .label(labels::SESSION, "forged");
    let labels = body(&spec).labels.unwrap();
    assert_eq!(labels["team"], "db");
    assert_eq!(labels[labels::SESSION], labels::session_id());
    assert_eq!(labels[labels::TEST], "my::test");
    assert_eq!(labels[labels::MANAGED_BY], "testdock");
}

#[test]
fn command_env_user_and_limits_reach_the_create_body() {
    let spec = ContainerSpec::new("img")
        .entrypoint(["/bin/sh", "-c"])
        .cmd(["echo hi"])
        .env("A", "1")
        .env("B", "two words")
        .user("1000:1000")
        .workdir("/srv")
        .hostname("db")
        .memory_limit(64 << 20)
        .cpus(0.5)
        .stop_signal("SIGINT")
        .read_only_rootfs(true);
    let b = body(&spec);
    assert_eq!(b.entrypoint.unwrap(), ["/bin/sh", "-c"]);
    assert_eq!(b.cmd.unwrap(), ["echo hi"]);
    assert_eq!(b.env.unwrap(), ["A=1", "B=two words"]);
    assert_eq!(b.user.as_deref(), Some("1000:1000"));
    assert_eq!(b.working_dir.as_deref(), Some("/srv"));
    assert_eq!(b.hostname.as_deref(), Some("db"));
    assert_eq!(b.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(b.image.as_deref(), Some("img:1"));
    let host = b.host_config.unwrap();
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.privileged, Some(false));
}

#[test]
fn mounts_and_network_aliases_are_described() {
    let spec = ContainerSpec::new("img")
        .bind_read_only("/host/data", "/data")
        .volume("cache", "/cache")
        .anonymous_volume("/scratch")
        .tmpfs("/run", Some(1 << 20))
        .network("net-1")
        .alias("db");
    let b = body(&spec);
    let mounts = b.host_config.as_ref().unwrap().mounts.clone().unwrap();
    assert_eq!(mounts.len(), 4);
    assert_eq!(mounts[0].typ, Some(MountType::BIND));
    assert_eq!(mounts[0].read_only, Some(true));
    assert_eq!(mounts[1].source.as_deref(), Some("cache"));
    let vol_labels = mounts[1]
        .volume_options
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    assert_eq!(vol_labels[labels::CONTAINER], "c-1");
    assert_eq!(mounts[2].source, None);
    assert_eq!(
        mounts[3].tmpfs_options.as_ref().unwrap().size_bytes,
        Some(1 << 20)
    );
    assert_eq!(
        b.host_config.unwrap().network_mode.as_deref(),
        Some("net-1")
    );
    let endpoints = b.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(
        endpoints["net-1"].aliases.as_deref(),
        Some(&["db".to_owned()][..])
    );
    assert_eq!(spec.named_volumes(), ["cache"]);
}

#[test]
fn names_are_sanitised_and_random() {
    let spec = ContainerSpec::new("img").name_prefix("my test/α");
    let a = spec.fresh_name();
    let b = spec.fresh_name();
    assert_ne!(a, b);
    assert!(a.starts_with("my-test--"), "{a}");
    assert!(a
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
    let odd = ContainerSpec::new("img").name_prefix("-x").fresh_name();
    assert!(odd.starts_with("testdock-x-"), "{odd}");
}

#[test]
fn defaults_are_loopback_friendly_and_bounded() {
    let spec = ContainerSpec::new("img");
    assert_eq!(spec.startup_timeout, DEFAULT_STARTUP_TIMEOUT);
    assert!(matches!(spec.probe.kind, crate::probe::Kind::Started));
    assert_eq!(
        spec.resolved_test_id(),
        "spec::tests::defaults_are_loopback_friendly_and_bounded"
    );
    let b = body(&spec);
    assert!(b.host_config.unwrap().port_bindings.is_none());
    assert!(b.env.is_none());
}

#[test]
fn testdock_labels_are_reserved() {
    assert!(ContainerSpec::new("img")
        .label("app", "x")
        .check_labels()
        .is_ok());
    let err = ContainerSpec::new("img")
        .label("testdock.session", "mine")
        .check_labels()
        .unwrap_err();
    assert!(err.contains("`testdock.session` is reserved"), "{err}");
}

#[test]
fn a_shared_container_and_its_volumes_name_the_fixture_and_its_holder() {
    let volume_labels = |b: &ContainerCreateBody| {
        let mounts = b.host_config.as_ref().unwrap().mounts.as_ref().unwrap();
        let options = mounts[0].volume_options.as_ref().unwrap();
        options.labels.clone().unwrap()
    };
    let mut owned = ContainerSpec::new("img").volume("data", "/data");
    owned.sharing = Some(Sharing {
        name: "testdock-shared-pg-0a1b".into(),
        key: "pg".into(),
        holder: Holder::Owner("1-2-3".into()),
    });
    let b = body(&owned);
    for labels in [b.labels.clone().unwrap(), volume_labels(&b)] {
        assert_eq!(labels[labels::SHARED], "pg");
        assert_eq!(labels[labels::OWNER], "1-2-3");
        assert!(!labels.contains_key(labels::REUSE));
    }

    let mut reused = owned.clone();
    reused.sharing.as_mut().unwrap().holder = Holder::Reuse("ab12".into());
    let b = body(&reused);
    for labels in [b.labels.clone().unwrap(), volume_labels(&b)] {
        assert_eq!(labels[labels::SHARED], "pg");
        assert_eq!(labels[labels::REUSE], "ab12");
        // No owner: no reaper, teardown or stale sweep finds it.
        assert!(!labels.contains_key(labels::OWNER), "{labels:?}");
        assert!(!labels.contains_key(labels::PID), "{labels:?}");
        assert_eq!(labels[labels::MANAGED_BY], "testdock");
    }
}
