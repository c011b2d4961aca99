//! Unit tests of the error type: texts, accessors, what is a source.

use super::*;

#[test]
fn log_tail_displays_as_an_indented_block() {
    let tail = LogTail {
        lines: vec!["starting".into(), "boom".into()],
    };
    assert_eq!(tail.to_string(), "    | starting\n    | boom");
    assert_eq!(LogTail::default().to_string(), "    (no output)");
}

#[test]
fn exited_error_names_container_code_and_logs() {
    let err = Error::Exited {
        step: Step::Ready,
        container: "testdock-ab12".into(),
        image: "busybox".into(),
        exit_code: 3,
        oom_killed: false,
        elapsed: Duration::from_millis(120),
        logs: LogTail {
            lines: vec!["fatal: no config".into()],
        },
    };
    let text = err.to_string();
    assert!(text.contains("testdock-ab12"), "{text}");
    assert!(text.contains("exited with code 3"), "{text}");
    assert!(text.contains("wait for readiness"), "{text}");
    assert!(text.contains("fatal: no config"), "{text}");
    assert_eq!(err.container(), Some("testdock-ab12"));
    assert_eq!(err.logs().unwrap().lines.len(), 1);
}

#[test]
fn timeout_error_names_limit_and_what_it_waited_for() {
    let err = Error::Timeout {
        step: Step::Ready,
        container: "c".into(),
        image: "i".into(),
        limit: Duration::from_secs(2),
        elapsed: Duration::from_secs(2),
        waiting_for: Some("log line \"ready\"".into()),
        state: Some("running".into()),
        logs: LogTail::default(),
    };
    let text = err.to_string();
    assert!(text.contains("timed out"), "{text}");
    assert!(text.contains("limit 2s"), "{text}");
    assert!(text.contains("waiting for log line \"ready\""), "{text}");
    assert!(text.contains("container state: running"), "{text}");
}

#[test]
fn host_io_error_shows_the_io_error_once() {
    let err = Error::HostIo {
        action: "read",
        path: "/nope".into(),
        target: Some("`/etc/x` in container `c`".into()),
        error: std::io::Error::from_raw_os_error(2),
    };
    assert_eq!(
        err.to_string(),
        "cannot read `/nope` (for `/etc/x` in container `c`): No such file or directory (os \
         error 2)"
    );
    assert!(std::error::Error::source(&err).is_none());
    assert_eq!(format!("{err:?}"), err.to_string(), "no chain to repeat it");
}

#[test]
fn an_exec_error_keeps_the_command_out_of_the_container_field() {
    let err = Error::Exec {
        container: "testdock-ab12".into(),
        image: "busybox".into(),
        command: "cat /etc/hostname".into(),
        elapsed: Duration::from_millis(5),
        source: Box::new(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message: "container is paused".into(),
        }),
    };
    assert_eq!(err.container(), Some("testdock-ab12"));
    assert_eq!(err.step(), Some(Step::Exec));
    assert_eq!(err.status_code(), Some(409));
    let text = err.to_string();
    assert!(
        text.starts_with("exec of `cat /etc/hostname` failed for container `testdock-ab12`"),
        "{text}"
    );
    assert!(
        !text.contains("is paused"),
        "the source, in the message: {text}"
    );
}

#[test]
fn podmans_500s_read_as_dockers_statuses() {
    let answer =
        |status_code: u16, message: &str| bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        };
    let gone = "container 0b29 does not exist in database: no such container";
    assert_eq!(status_of(&answer(500, gone)), Some(404));
    let network = "\"net\" has associated containers with it. Use -f to forcibly delete \
                   containers and pods: network is being used";
    assert_eq!(status_of(&answer(500, network)), Some(409));
    assert_eq!(status_of(&answer(500, "boom")), Some(500));
    assert_eq!(status_of(&answer(403, "has active endpoints")), Some(403));
}
