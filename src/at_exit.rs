//! What a process asks to have undone when it ends, apart from who does it: image
//! sources register the images they made here (with `TESTDOCK_REMOVE_IMAGES`), and the
//! reaper (in `cleanup`), which also builds its own image from an image source,
//! installs itself as the one that carries it out. The hook keeps `image` below
//! `cleanup` without a cycle between them.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// Removes an image once the process has ended.
pub(crate) type ImageRemover = fn(String) -> Pin<Box<dyn Future<Output = ()> + Send>>;

static IMAGE_REMOVER: OnceLock<ImageRemover> = OnceLock::new();

/// Installs the remover; the first one installed stays.
pub(crate) fn install_image_remover(remover: ImageRemover) {
    let _ = IMAGE_REMOVER.set(remover);
}

/// Asks for image `reference` to be removed when this process ends. Without a remover
/// installed (never, in a normal build: the reaper installs it before `main`), the
/// image stays, as cached images do by default.
pub(crate) async fn remove_image(reference: &str) {
    if let Some(remover) = IMAGE_REMOVER.get() {
        remover(reference.to_owned()).await;
    }
}
