//! What a failed test prints and leaves for CI: each container's name, image, state and
//! last log lines, once; and the same (plus inspect JSON) under `target/testdock/<test>/`.

use std::fmt::Write as _;
use std::path::PathBuf;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;

/// Prints and writes the diagnostics of `test_id`'s containers.
pub(super) async fn report(docker: &Docker, test_id: &str, headline: &str) {
    let filter = crate::labels::test_filter(test_id);
    let containers = match crate::docker::compat::list_containers(
        docker,
        ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filter)
            .build(),
    )
    .await
    {
        Ok(list) => list,
        Err(e) => {
            tracing::error!(test = test_id, headline, error = %e, "test failed; listing its containers failed too");
            eprintln!("testdock: {test_id} failed; listing its containers failed too: {e}");
            return;
        }
    };
    let dir = artifact_dir(test_id);
    let mut text = format!("testdock: test {test_id} failed: {headline}\n");
    if containers.is_empty() {
        text.push_str("  (no container of this test is left to describe)\n");
    }
    for c in containers {
        let name = c
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default();
        let image = c.image.unwrap_or_default();
        let state = c.status.unwrap_or_default();
        let logs = crate::logs::tail(docker, &name).await;
        let _ = writeln!(
            text,
            "  container {name} (image {image}): {state}\n  last log lines:\n{logs}"
        );
        if let Some(dir) = &dir {
            let inspect = crate::docker::compat::inspect_container(docker, &name)
                .await
                .ok()
                .and_then(|i| serde_json::to_string_pretty(&i).ok())
                .unwrap_or_default();
            let _ = std::fs::write(dir.join(format!("{name}.log")), logs.lines.join("\n"));
            let _ = std::fs::write(dir.join(format!("{name}.inspect.json")), inspect);
        }
    }
    if let Some(dir) = &dir {
        let _ = writeln!(text, "  (saved under {})", dir.display());
    }
    // The failure report stays on stderr: it is what a failed test prints.
    tracing::error!(test = test_id, headline, report = %text, "test failed");
    eprint!("{text}");
}

/// `target/testdock/<test-id>/`, created; `None` if it cannot be made.
fn artifact_dir(test_id: &str) -> Option<PathBuf> {
    let target = target_dir()?;
    let safe: String = test_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = target.join("testdock").join(safe);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// `CARGO_TARGET_DIR`, else the `target` directory the test executable runs from.
fn target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))
        .map(PathBuf::from)
}
