use super::*;

/// An environment with `HOME=/home/u`, adjusted by `edit`.
fn env(edit: impl FnOnce(&mut EnvSnapshot)) -> EnvSnapshot {
    let mut env = EnvSnapshot {
        home: Some("/home/u".into()),
        ..EnvSnapshot::default()
    };
    edit(&mut env);
    env
}

/// The single candidate for `DOCKER_HOST=value` in `env`.
fn resolve(value: &str, edit: impl FnOnce(&mut EnvSnapshot)) -> Result<Endpoint, String> {
    let mut list = candidates(&env(|e| {
        e.docker_host = Some(value.into());
        edit(e);
    }))
    .map_err(|e| e.message)?;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].origin, Origin::DockerHost);
    Ok(list.remove(0).endpoint)
}

fn tcp(addr: &str, tls_dir: Option<&str>) -> Endpoint {
    let tls = tls_dir.map(|dir| TlsFiles::in_dir(Path::new(dir)));
    let addr = addr.to_owned();
    Endpoint::Tcp { addr, tls }
}

fn unix(path: &str) -> Endpoint {
    Endpoint::Unix { path: path.into() }
}

/// The local socket candidates as `(display, origin)` pairs.
fn sockets(env: &EnvSnapshot) -> Vec<(String, Origin)> {
    let list = candidates(env).unwrap().into_iter();
    list.map(|c| (c.endpoint.to_string(), c.origin)).collect()
}

#[test]
fn docker_host_unix_socket_is_the_only_candidate_even_with_a_context() {
    let found = resolve("unix:///tmp/d.sock", |e| {
        e.docker_context = Some("x".into())
    });
    assert_eq!(found, Ok(unix("/tmp/d.sock")));
}

#[test]
fn docker_host_tcp_without_port_defaults_to_2375() {
    assert_eq!(resolve("tcp://box", |_| {}), Ok(tcp("box:2375", None)));
}

#[test]
fn docker_host_tcp_with_tls_verify_uses_cert_path() {
    let found = resolve("tcp://box:3000", |e| {
        e.docker_tls_verify = Some("1".into());
        e.docker_cert_path = Some("/certs".into());
    });
    assert_eq!(found, Ok(tcp("box:3000", Some("/certs"))));
    let tls = TlsFiles::in_dir(Path::new("/certs"));
    let names = [tls.ca, tls.cert, tls.key].map(|p| p.display().to_string());
    assert_eq!(
        names,
        ["/certs/ca.pem", "/certs/cert.pem", "/certs/key.pem"]
    );
}

#[test]
fn docker_host_tls_without_port_uses_2376_and_config_dir_certs() {
    let verify = |e: &mut EnvSnapshot| e.docker_tls_verify = Some("yes".into());
    let found = resolve("tcp://box", verify);
    assert_eq!(found, Ok(tcp("box:2376", Some("/home/u/.docker"))));
    let found = resolve("tcp://box", |e| {
        verify(e);
        e.docker_config = Some("/cfg".into());
    });
    assert_eq!(found, Ok(tcp("box:2376", Some("/cfg"))));
}

#[test]
fn docker_tls_verify_zero_or_empty_means_plain_tcp() {
    for value in ["0", "", "  "] {
        let found = resolve("tcp://box:2375", |e| {
            e.docker_tls_verify = Some(value.into())
        });
        assert_eq!(found, Ok(tcp("box:2375", None)), "{value:?}");
    }
}

#[test]
fn tls_without_any_cert_location_is_a_config_error() {
    let found = resolve("tcp://box", |e| {
        e.home = None;
        e.docker_tls_verify = Some("1".into());
    });
    assert!(found.unwrap_err().contains("DOCKER_CERT_PATH"));
}

#[test]
fn http_is_plain_tcp_and_https_is_tcp_with_tls() {
    assert_eq!(resolve("http://box:81", |_| {}), Ok(tcp("box:81", None)));
    let found = resolve("HTTPS://box", |_| {});
    assert_eq!(found, Ok(tcp("box:2376", Some("/home/u/.docker"))));
}

#[test]
fn ipv6_literal_keeps_brackets_in_addr() {
    assert_eq!(
        resolve("tcp://[::1]:2375", |_| {}),
        Ok(tcp("[::1]:2375", None))
    );
    let found = resolve("tcp://[fe80::1]/", |_| {});
    assert_eq!(found, Ok(tcp("[fe80::1]:2375", None)));
}

#[test]
fn unsupported_scheme_error_names_the_value_and_supported_schemes() {
    for value in ["ssh://me@box", "npipe:////./pipe/docker_engine", "garbage"] {
        let text = resolve(value, |_| {}).unwrap_err();
        assert!(text.starts_with("DOCKER_HOST: "), "{text}");
        assert!(text.contains(&format!("`{value}`")), "{text}");
        for scheme in ["unix://", "tcp://", "http://", "https://"] {
            assert!(text.contains(scheme), "{text}");
        }
    }
    assert!(resolve("ssh://box", |_| {}).unwrap_err().contains("ssh -L"));
}

#[test]
fn malformed_addresses_are_config_errors() {
    let cases = [
        ("tcp://", "no host"),
        ("tcp://:2375", "no host"),
        ("tcp://[]:2375", "no host"),
        ("tcp://box:port", "port"),
        ("tcp://box:0", "port"),
        ("tcp://box:", "port"),
        ("tcp://::1", "brackets"),
        ("tcp://[::1", "`]`"),
        ("tcp://[::1]x", "after `]`"),
        ("tcp://box:2375/v1", "path"),
        ("unix://", "socket path"),
    ];
    for (value, expected) in cases {
        let text = resolve(value, |_| {}).unwrap_err();
        assert!(text.contains(expected), "{value}: {text}");
        assert!(text.contains(value), "{value}: {text}");
    }
}

#[test]
fn parse_docker_host_requires_tls_for_https_and_ignores_it_for_unix() {
    let err = parse_docker_host("https://box", None).unwrap_err();
    assert!(err.message.contains("TLS files"), "{err}");
    let tls = TlsFiles::in_dir(Path::new("/c"));
    let found = parse_docker_host(" unix:///s.sock ", Some(tls));
    assert_eq!(found, Ok(unix("/s.sock")));
}

#[test]
fn empty_docker_host_falls_through_to_local_sockets() {
    let list = sockets(&env(|e| e.docker_host = Some(String::new())));
    assert_eq!(list[0].1, Origin::DefaultSocket);
}

#[test]
fn local_sockets_are_listed_in_order_with_xdg_runtime_dir() {
    let env = env(|e| {
        e.xdg_runtime_dir = Some("/xdg".into());
        e.uid = Some(1000);
    });
    let expected = [
        ("unix:///var/run/docker.sock", Origin::DefaultSocket),
        ("unix:///xdg/docker.sock", Origin::Rootless),
        (
            "unix:///home/u/.docker/run/docker.sock",
            Origin::DockerDesktop,
        ),
        (
            "unix:///home/u/.docker/desktop/docker.sock",
            Origin::DockerDesktop,
        ),
        ("unix:///xdg/podman/podman.sock", Origin::Podman),
        ("unix:///run/podman/podman.sock", Origin::Podman),
    ]
    .map(|(s, o)| (s.to_owned(), o));
    assert_eq!(sockets(&env), expected);
}

#[test]
fn rootless_socket_falls_back_to_run_user_uid() {
    let env = env(|e| {
        e.home = None;
        e.uid = Some(1234);
    });
    let expected = [
        ("unix:///var/run/docker.sock", Origin::DefaultSocket),
        ("unix:///run/user/1234/docker.sock", Origin::Rootless),
        ("unix:///run/user/1234/podman/podman.sock", Origin::Podman),
        ("unix:///run/podman/podman.sock", Origin::Podman),
    ]
    .map(|(s, o)| (s.to_owned(), o));
    assert_eq!(sockets(&env), expected);
}

#[test]
fn without_home_or_uid_only_the_default_and_rootful_podman_sockets_remain() {
    let expected = [
        ("unix:///var/run/docker.sock", Origin::DefaultSocket),
        ("unix:///run/podman/podman.sock", Origin::Podman),
    ]
    .map(|(s, o)| (s.to_owned(), o));
    assert_eq!(sockets(&EnvSnapshot::default()), expected);
}

#[test]
fn podman_sockets_come_after_every_docker_socket() {
    let env = env(|e| {
        e.xdg_runtime_dir = Some("/xdg".into());
        e.uid = Some(1000);
    });
    let origins: Vec<Origin> = sockets(&env).into_iter().map(|(_, o)| o).collect();
    let first_podman = origins.iter().position(|o| *o == Origin::Podman).unwrap();
    assert_eq!(first_podman, origins.len() - 2, "{origins:?}");
    assert!(origins[..first_podman].iter().all(|o| *o != Origin::Podman));
}

#[test]
fn docker_host_naming_podman_is_the_only_candidate() {
    let env = env(|e| e.docker_host = Some("unix:///run/podman/podman.sock".into()));
    let expected = [(
        "unix:///run/podman/podman.sock".to_owned(),
        Origin::DockerHost,
    )];
    assert_eq!(sockets(&env), expected);
}

#[test]
fn identical_socket_paths_are_listed_once() {
    let env = env(|e| {
        e.home = Some("/h".into());
        e.xdg_runtime_dir = Some("/h/.docker/run/".into());
    });
    let origins: Vec<Origin> = sockets(&env).into_iter().map(|(_, o)| o).collect();
    assert_eq!(
        origins,
        [
            Origin::DefaultSocket,
            Origin::Rootless,
            Origin::DockerDesktop,
            Origin::Podman,
            Origin::Podman
        ]
    );
}

#[test]
fn testdock_host_overrides_the_mapped_port_host() {
    let set = env(|e| e.testdock_host = Some("docker.internal".into()));
    assert_eq!(mapped_port_host(&set, &unix("/s")), "docker.internal");
    let tcp_host = mapped_port_host(&set, &tcp("box:2375", None));
    assert_eq!(tcp_host, "docker.internal");
    let blank = env(|e| e.testdock_host = Some(" ".into()));
    assert_eq!(mapped_port_host(&blank, &unix("/s")), "127.0.0.1");
}

#[test]
fn mapped_port_host_is_loopback_for_unix_and_the_tcp_host_otherwise() {
    let env = EnvSnapshot::default();
    let host = |endpoint: Endpoint| mapped_port_host(&env, &endpoint);
    assert_eq!(host(unix("/var/run/docker.sock")), "127.0.0.1");
    assert_eq!(host(tcp("10.0.0.5:2376", None)), "10.0.0.5");
    assert_eq!(host(tcp("[::1]:2375", None)), "::1");
}

#[test]
fn endpoints_and_origins_display_for_humans() {
    let tls = tcp("h:1", Some("/dir"));
    assert_eq!(tls.to_string(), "tcp://h:1 (TLS, certs in /dir)");
    assert_eq!(tcp("h:1", None).to_string(), "tcp://h:1");
    assert_eq!(Origin::DockerHost.to_string(), "DOCKER_HOST");
    let remote = Origin::Context("remote".into());
    assert_eq!(remote.to_string(), "docker context `remote`");
    assert_eq!(Origin::DefaultSocket.to_string(), "default socket");
    assert_eq!(Origin::Rootless.to_string(), "rootless socket");
    assert_eq!(Origin::DockerDesktop.to_string(), "Docker Desktop socket");
    assert_eq!(Origin::Podman.to_string(), "Podman socket");
}

#[test]
fn config_dir_prefers_docker_config_over_home() {
    assert_eq!(env(|_| {}).config_dir(), Some("/home/u/.docker".into()));
    let env = env(|e| e.docker_config = Some("/cfg".into()));
    assert_eq!(env.config_dir(), Some("/cfg".into()));
    assert_eq!(EnvSnapshot::default().config_dir(), None);
}

#[cfg(target_os = "linux")]
#[test]
fn from_process_finds_the_uid() {
    assert!(EnvSnapshot::from_process().uid.is_some());
}
