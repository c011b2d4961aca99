//! The active Docker context chooses the daemon: `currentContext` in the config dir's
//! `config.json`, resolved through `contexts/meta/*/meta.json`. Its own test binary,
//! because the daemon connection is chosen once per process.

use std::path::Path;

use testdock::docker::{Endpoint, Origin};

#[tokio::test]
async fn the_current_context_of_the_docker_config_picks_the_daemon() {
    let socket = Path::new("/var/run/docker.sock");
    assert!(
        socket.exists(),
        "this test points a context at {}: start dockerd",
        socket.display()
    );
    let config = tempfile::tempdir().unwrap();
    let meta = config.path().join("contexts/meta/0123abcd");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        meta.join("meta.json"),
        r#"{"Name":"local-ci","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock","SkipTLSVerify":false}}}"#,
    )
    .unwrap();
    std::fs::write(
        config.path().join("config.json"),
        r#"{"currentContext":"local-ci"}"#,
    )
    .unwrap();
    std::env::remove_var("DOCKER_HOST");
    std::env::remove_var("DOCKER_CONTEXT");
    std::env::set_var("DOCKER_CONFIG", config.path());

    let daemon = testdock::daemon()
        .await
        .expect("connect through the context");
    assert_eq!(daemon.endpoint().origin, Origin::Context("local-ci".into()));
    assert_eq!(
        daemon.endpoint().endpoint,
        Endpoint::Unix {
            path: socket.to_path_buf()
        }
    );
    assert_eq!(daemon.host(), "127.0.0.1");
    let version = daemon.client().version().await.expect("the daemon answers");
    assert!(version.api_version.is_some());
}
