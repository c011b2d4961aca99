//! What a reaper does once its owner is gone, whichever kind it is.

use std::time::Duration;

use bollard::Docker;

use super::Instructions;
use crate::labels;

/// How long a reaper may spend removing an owner's resources.
pub(super) const REAP_LIMIT: Duration = Duration::from_secs(600);

/// Removes every resource labelled with `owner` (kept containers excepted), then the
/// images the owner asked to have removed. Returns how many were removed.
pub(super) async fn reap(
    docker: &Docker,
    owner: &str,
    instructions: &Instructions,
) -> crate::Result<usize> {
    let filter = format!("{}={owner}", labels::OWNER);
    let mut removed = crate::cleanup::sweep::remove_labelled(docker, &filter)
        .await?
        .len();
    for image in &instructions.images {
        // An image still used by a container (another run's) stays: 409.
        if docker
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Runs `work` on a fresh current-thread runtime, bounded by [`REAP_LIMIT`]; failures go
/// to `$TMPDIR/testdock-reaper.log` (a reaper has no terminal). Returns the exit code.
pub(super) fn run_to_completion<F>(who: &str, work: F) -> i32
where
    F: std::future::Future<Output = crate::Result<usize>>,
{
    let report = |message: String| {
        use std::io::Write;
        let path = std::env::temp_dir().join("testdock-reaper.log");
        if let Ok(mut log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(log, "testdock reaper of {who}: {message}");
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(format!("no runtime: {e}"));
            return 1;
        }
    };
    match runtime.block_on(async { tokio::time::timeout(REAP_LIMIT, work).await }) {
        Ok(Ok(_)) => 0,
        Ok(Err(e)) => {
            report(format!("removing its resources failed: {e}"));
            1
        }
        Err(_) => {
            report(format!("removing its resources took over {REAP_LIMIT:?}"));
            1
        }
    }
}
