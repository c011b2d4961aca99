//! The files a PostgreSQL container starts with, as text: `postgresql.conf` (defaults
//! tuned for tests, then the builder's settings) and `pg_hba.conf` (socket trusted, the
//! builder's lines, then everyone over TCP with the chosen method). Pure: unit-tested.

/// Where the spec puts the two files in the container.
pub(super) const CONF_PATH: &str = "/etc/testdock/postgresql.conf";
pub(super) const HBA_PATH: &str = "/etc/testdock/pg_hba.conf";

/// Settings every test server gets unless the builder overrides them: durability off
/// (a test database is thrown away), no JIT (the host image leaves LLVM out), and
/// listening on every address of the container.
pub(super) const TEST_DEFAULTS: [(&str, &str); 5] = [
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("jit", "off"),
    ("listen_addresses", "*"),
];

/// `postgresql.conf`: the defaults, then `settings` (a later setting wins, as in the
/// file), then the `hba_file` this spec injects.
pub(super) fn postgresql_conf(settings: &[(String, String)]) -> String {
    let mut out = String::from("# written by testdock\n");
    let defaults = TEST_DEFAULTS
        .iter()
        .filter(|(k, _)| !settings.iter().any(|(s, _)| s == k))
        .map(|(k, v)| (k.to_string(), v.to_string()));
    for (key, value) in defaults.chain(settings.iter().cloned()) {
        out.push_str(&format!("{key} = {}\n", quote(&value)));
    }
    out.push_str(&format!("hba_file = {}\n", quote(HBA_PATH)));
    out
}

/// A setting's value as `postgresql.conf` reads it: single-quoted, quotes doubled.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// `pg_hba.conf`: the local socket trusted (the image's own init steps and `psql` in
/// `exec` use it), the builder's `lines`, then every TCP client with `method`.
pub(super) fn pg_hba_conf(lines: &[String], method: &str) -> String {
    let mut out = String::from("# written by testdock\nlocal all all trust\n");
    for line in lines {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("host all all all {method}\n"));
    out
}

/// A `pg_hba.conf` line that can never work, found before anything starts: empty, or
/// spanning lines. What PostgreSQL itself rejects (an unknown type or method) fails the
/// start with its own message.
pub(super) fn check_hba_line(line: &str) -> Result<(), String> {
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return Err(format!(
            "the pg_hba.conf line {line:?} is empty or a comment"
        ));
    }
    if line.trim_end().contains('\n') {
        return Err(format!(
            "the pg_hba.conf line {line:?} spans several lines; add one line per call"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_tuned_for_tests_and_overridable() {
        let conf = postgresql_conf(&[
            ("fsync".into(), "on".into()),
            ("search_path".into(), "app, 'x'".into()),
        ]);
        assert!(conf.contains("synchronous_commit = 'off'\n"), "{conf}");
        assert!(conf.contains("full_page_writes = 'off'\n"), "{conf}");
        assert!(conf.contains("fsync = 'on'\n"), "{conf}");
        assert!(!conf.contains("fsync = 'off'"), "{conf}");
        assert!(conf.contains("search_path = 'app, ''x'''\n"), "{conf}");
        assert!(
            conf.ends_with("hba_file = '/etc/testdock/pg_hba.conf'\n"),
            "{conf}"
        );
    }

    #[test]
    fn hba_lines_come_before_the_catch_all() {
        let hba = pg_hba_conf(&["host all reader all trust".into()], "scram-sha-256");
        assert_eq!(
            hba,
            "# written by testdock\nlocal all all trust\nhost all reader all trust\n\
             host all all all scram-sha-256\n"
        );
        assert!(check_hba_line("host all all all trust").is_ok());
        assert!(check_hba_line("  ").is_err());
        assert!(check_hba_line("a\nb")
            .unwrap_err()
            .contains("one line per call"));
    }
}
