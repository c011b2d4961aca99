use super::*;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn env_only(json: &str) -> AuthSnapshot {
    AuthSnapshot {
        auth_config_env: Some(json.to_owned()),
        ..Default::default()
    }
}

fn file_only(json: &str) -> AuthSnapshot {
    let path = PathBuf::from("/home/u/.docker/config.json");
    AuthSnapshot {
        config_file: Some((path.clone(), json.to_owned())),
        config_path: Some(path),
        ..Default::default()
    }
}

fn user_pass(user: &str, pass: &str) -> Credentials {
    Credentials {
        username: Some(user.into()),
        password: Some(pass.into()),
        ..Default::default()
    }
}

fn found(lookup: Lookup) -> (Credentials, String) {
    match lookup {
        Lookup::Found {
            credentials,
            origin,
        } => (credentials, origin),
        other => panic!("expected credentials, got {other:?}"),
    }
}

#[test]
fn base64_auth_gives_user_and_password_for_the_exact_host() {
    let json = format!(
        r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{}"}}, "other:1": {{"auth": "{}"}}}}}}"#,
        b64("alice:s3:cret"),
        b64("bob:x")
    );
    let (c, origin) = found(lookup("127.0.0.1:5000", &env_only(&json)).unwrap());
    assert_eq!(c, user_pass("alice", "s3:cret"), "split at the first colon");
    assert_eq!(origin, "DOCKER_AUTH_CONFIG");
}

#[test]
fn keys_match_by_host_whatever_their_scheme_or_path() {
    let json =
        r#"{"auths": {"https://registry.example.com/v1/": {"username": "u", "password": "p"}}}"#;
    let (c, _) = found(lookup("registry.example.com", &file_only(json)).unwrap());
    assert_eq!(c, user_pass("u", "p"));
    assert!(matches!(
        lookup("registry.example.com:5000", &file_only(json)).unwrap(),
        Lookup::Anonymous { .. }
    ));
}

#[test]
fn docker_hub_uses_the_index_key_and_its_aliases() {
    for key in [
        HUB_AUTH_KEY,
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
    ] {
        let json = format!(
            r#"{{"auths": {{"{key}": {{"auth": "{}"}}}}}}"#,
            b64("hub:pw")
        );
        let (c, _) = found(lookup("docker.io", &env_only(&json)).unwrap());
        assert_eq!(c, user_pass("hub", "pw"), "key {key}");
    }
    assert_eq!(server_url("docker.io"), HUB_AUTH_KEY);
    assert_eq!(server_url("localhost:5000"), "localhost:5000");
}

#[test]
fn identity_and_registry_tokens_are_passed_on() {
    let json =
        r#"{"auths": {"r.io": {"identitytoken": "id-tok"}, "t.io": {"registrytoken": "reg-tok"}}}"#;
    let (c, _) = found(lookup("r.io", &env_only(json)).unwrap());
    assert_eq!(c.identity_token.as_deref(), Some("id-tok"));
    let (c, _) = found(lookup("t.io", &env_only(json)).unwrap());
    assert_eq!(c.registry_token.as_deref(), Some("reg-tok"));
    let docker = c.to_docker("t.io");
    assert_eq!(docker.registrytoken.as_deref(), Some("reg-tok"));
    assert_eq!(docker.serveraddress.as_deref(), Some("t.io"));
}

#[test]
fn the_environment_comes_before_the_file_and_empty_entries_do_not_count() {
    let env = format!(
        r#"{{"auths": {{"a.io": {{"auth": "{}"}}, "b.io": {{}}}}}}"#,
        b64("env:1")
    );
    let file = format!(
        r#"{{"auths": {{"a.io": {{"auth": "{0}"}}, "b.io": {{"auth": "{0}"}}}}}}"#,
        b64("file:2")
    );
    let snapshot = AuthSnapshot {
        auth_config_env: Some(env),
        ..file_only(&file)
    };
    let (c, origin) = found(lookup("a.io", &snapshot).unwrap());
    assert_eq!(
        (c, origin.as_str()),
        (user_pass("env", "1"), "DOCKER_AUTH_CONFIG")
    );
    let (c, origin) = found(lookup("b.io", &snapshot).unwrap());
    assert_eq!(
        (c, origin.as_str()),
        (user_pass("file", "2"), "/home/u/.docker/config.json")
    );
}

#[test]
fn cred_helpers_beat_creds_store_which_beats_auths_kept_as_fallback() {
    let json = format!(
        r#"{{"credsStore": "desktop", "credHelpers": {{"gcr.io": "gcloud"}},
            "auths": {{"gcr.io": {{}}, "x.io": {{"auth": "{}"}}}}}}"#,
        b64("x:y")
    );
    let snapshot = file_only(&json);
    assert_eq!(
        lookup("gcr.io", &snapshot).unwrap(),
        Lookup::Helper {
            helper: "gcloud".into(),
            server_url: "gcr.io".into(),
            origin: "credHelpers in /home/u/.docker/config.json".into(),
            fallback: None,
        }
    );
    assert_eq!(
        lookup("x.io", &snapshot).unwrap(),
        Lookup::Helper {
            helper: "desktop".into(),
            server_url: "x.io".into(),
            origin: "credsStore in /home/u/.docker/config.json".into(),
            fallback: Some(user_pass("x", "y")),
        }
    );
    match lookup("docker.io", &snapshot).unwrap() {
        Lookup::Helper { server_url, .. } => assert_eq!(server_url, HUB_AUTH_KEY),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nothing_found_names_every_place_searched() {
    let Lookup::Anonymous { searched } = lookup("a.io", &file_only("{}")).unwrap() else {
        panic!("expected anonymous");
    };
    assert_eq!(
        searched,
        "DOCKER_AUTH_CONFIG (unset) or /home/u/.docker/config.json"
    );
    let snapshot = AuthSnapshot {
        config_path: Some("/nowhere/config.json".into()),
        ..Default::default()
    };
    let Lookup::Anonymous { searched } = lookup("a.io", &snapshot).unwrap() else {
        panic!("expected anonymous");
    };
    assert!(
        searched.contains("/nowhere/config.json (absent)"),
        "{searched}"
    );
}

#[test]
fn malformed_configs_are_errors_that_name_their_origin() {
    let cases = [
        ("{not json", "DOCKER_AUTH_CONFIG is not valid JSON"),
        ("[]", "not a JSON object"),
        (r#"{"auths": []}"#, "`auths` must be an object"),
        (
            r#"{"auths": {"h": {"auth": "%%%"}}}"#,
            "`auths.h.auth` is not valid base64",
        ),
        (
            r#"{"auths": {"h": {"auth": "dXNlcg=="}}}"#,
            "`auths.h.auth` has no `:`",
        ),
        (
            r#"{"credHelpers": {"h": 1}}"#,
            "`credHelpers.h` must be a string",
        ),
        (r#"{"credsStore": 1}"#, "`credsStore` must be a string"),
    ];
    for (json, expected) in cases {
        let err = lookup("h", &env_only(json)).expect_err(json);
        assert!(err.contains(expected), "{json}: {err}");
    }
}

#[test]
fn helper_output_is_read_as_user_and_secret_or_identity_token() {
    let out = r#"{"ServerURL":"x.io","Username":"u","Secret":"s"}"#;
    assert_eq!(
        parse_helper_output("h", true, out, "").unwrap(),
        Some(user_pass("u", "s"))
    );
    let out = r#"{"ServerURL":"x.io","Username":"<token>","Secret":"tok"}"#;
    let c = parse_helper_output("h", true, out, "").unwrap().unwrap();
    assert_eq!(
        (c.username, c.identity_token.as_deref()),
        (None, Some("tok"))
    );
    let none = parse_helper_output("h", false, "credentials not found in native keychain\n", "");
    assert_eq!(none.unwrap(), None);
    let err = parse_helper_output("h", false, "", "boom\n").unwrap_err();
    assert_eq!(err, "`docker-credential-h get` failed: boom");
    let err = parse_helper_output("h", true, "nope", "").unwrap_err();
    assert!(err.contains("not JSON"), "{err}");
}

#[test]
fn credentials_never_print_their_secrets() {
    let text = format!("{:?}", user_pass("alice", "s3cret"));
    assert!(text.contains("alice") && !text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn a_missing_helper_binary_is_a_clear_error() {
    let err = run_helper("testdock-surely-absent", "x.io", "credsStore in c.json")
        .await
        .unwrap_err();
    assert!(
        err.contains(
            "`docker-credential-testdock-surely-absent` (credsStore in c.json) is not installed"
        ),
        "{err}"
    );
}
