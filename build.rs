//! Build script: a hash of testdock's own sources. The daemon-side reaper runs the test
//! executable in a container whose image is shared by every test binary of a testdock
//! build; tagging it with this hash means an image is never reused by a build whose
//! reaper code differs (a version number alone does not change during development).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let mut files = Vec::new();
    walk(Path::new("src"), &mut files);
    files.push(PathBuf::from("Cargo.toml"));
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=TESTDOCK_SOURCE_HASH={:016x}",
        hasher.finish()
    );
}
