//! The examples of this package as programs for the tests (e.g. `echo_server`, packed
//! into a host-binary image). Examples are not `[[bin]]`s, so cargo gives a test no
//! `CARGO_BIN_EXE_<name>` for them: they are found next to the test executable, and
//! built with cargo when the invocation that built the test did not build them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The executable of example `name`, in the target directory and profile of this test
/// executable (`<target>/<profile>/deps/<test>-<hash>`: the example is
/// `<target>/<profile>/examples/<name>`).
///
/// `cargo test` builds every example, but `cargo test --test <file>` and `cargo nextest
/// run --test <file>` do not: if the example is missing, or older than its source, it
/// is built here with `cargo build --example <name>` (same target directory, same
/// profile).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} is not in <target>/<profile>/deps", exe.display()));
    let path = profile_dir.join("examples").join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    if !is_fresh(&path, &source) {
        build(name, profile_dir);
    }
    assert!(
        path.exists(),
        "`cargo build --example {name}` made no {}",
        path.display()
    );
    path
}

/// Whether `built` exists and is not older than `source`.
fn is_fresh(built: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(built), modified(source)) {
        (Some(built), Some(source)) => built >= source,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `cargo build --example name` into the target directory and profile of `profile_dir`.
fn build(name: &str, profile_dir: &Path) {
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        // `dev` and `test` build into `debug`, `release` and `bench` into `release`.
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("no profile directory in {}", profile_dir.display()),
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    // The cargo that built this test (under `cargo test` also in `CARGO` at run time).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let started = SystemTime::now();
    let status = Command::new(&cargo)
        .args(["build", "--quiet", "--example", name, "--profile", profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", Path::new(&cargo).display()));
    assert!(
        status.success(),
        "`cargo build --example {name} --profile {profile}` failed ({status}, after {:?}); \
         build the example yourself (`cargo build --examples`) and run the test again",
        started.elapsed().unwrap_or_default()
    );
}
