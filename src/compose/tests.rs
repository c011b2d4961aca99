//! Unit tests of [`Compose`](super::Compose) parsing and checking, without a daemon.

use super::Compose;
use crate::error::Error;

fn message(yaml: &str) -> String {
    match Compose::from_str(yaml) {
        Err(Error::Compose { message, .. }) => message,
        other => panic!("expected a compose error, got {other:?}"),
    }
}

#[test]
fn a_yaml_syntax_error_names_line_and_column() {
    let m = message("services:\n  web:\n    image: [unclosed\n    ports: 1\n");
    assert!(m.starts_with("invalid YAML"), "{m}");
    assert!(m.contains("line 4 column"), "{m}");
}

#[test]
fn an_unsupported_key_is_named() {
    let m = message("services:\n  web:\n    image: x\n    container_name: fixed\n");
    assert!(
        m.contains("unsupported key `services.web.container_name`"),
        "{m}"
    );
}

#[test]
fn cycles_and_unknown_dependencies_are_refused_at_parse_time() {
    let m =
        message("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n");
    assert_eq!(m, "dependency cycle: a -> b -> a");
    let m = message("services:\n  a: {image: x, depends_on: {db: {condition: service_healthy}}}\n");
    assert!(
        m.contains("`a` depends on `db`, which the file does not define"),
        "{m}"
    );
}

#[test]
fn undeclared_volumes_and_unknown_conditions_are_refused() {
    let m = message("services:\n  a: {image: x, volumes: ['data:/data']}\n");
    assert!(
        m.contains("volume `data`, which the file does not declare"),
        "{m}"
    );
    let m = message(
        "services:\n  a: {image: x, depends_on: {b: {condition: soon}}}\n  b: {image: x}\n",
    );
    assert!(m.contains("unknown condition `soon`"), "{m}");
}

#[test]
fn profiles_choose_the_services_to_start() {
    let yaml = "services:\n  a: {image: x}\n  b: {image: x, profiles: [debug]}\n";
    assert_eq!(Compose::from_str(yaml).unwrap().services(), ["a"]);
    assert_eq!(
        Compose::from_str(yaml).unwrap().profile("debug").services(),
        ["a", "b"]
    );
}

#[test]
fn a_service_without_image_or_build_is_refused() {
    let m = message("services:\n  a: {command: [x]}\n");
    assert!(
        m.contains("service `a`: has neither `image` nor `build`"),
        "{m}"
    );
}

#[test]
fn numbers_where_compose_takes_strings_are_read() {
    let yaml = "services:\n  a:\n    image: x\n    ports: [8080, \"127.0.0.1:9000:90\"]\n    expose: [80]\n";
    let compose = Compose::from_str(yaml).unwrap();
    assert_eq!(compose.services(), ["a"]);
}
