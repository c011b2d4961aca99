//! The keys of one test in a shared memcached: [`TestMemcached`], a key prefix, and
//! their deletion when it is dropped (listed with `lru_crawler metadump`, deleted one
//! by one).

use std::net::SocketAddr;
use std::time::Duration;

use testdock::runner::{Fixture, TestContext};
use testdock::services::spawn_cleanup;
use testdock::Result;

use super::{MemcachedServer, SHARED};

/// The keys of one test in a shared server: memcached has no databases, so a test
/// writes under a [`prefix`](Self::prefix) no other test uses ([`key`](Self::key)
/// adds it), and its keys are deleted in the background when it is dropped (after the
/// test, also when it panics), found by `lru_crawler metadump` (a crawl of the
/// server's keys: cheap on a test server).
///
/// Never send `flush_all` to a shared server: it is server-wide and empties every
/// test's keys at once. A test that needs an empty cache takes a server of its own
/// ([`MemcachedServer`] as its argument). Eviction is server-wide too: a test that
/// fills the memory evicts the others' keys (give [`SHARED`]'s tests small values, or
/// a server of their own). A server whose key dump is off (`-X`, `no_lru_crawler`)
/// keeps a test's keys (with a warning) until it is removed at the end of the run.
#[derive(Debug)]
pub struct TestMemcached {
    server: &'static MemcachedServer,
    prefix: String,
}

impl TestMemcached {
    /// A fresh prefix in `server`.
    pub fn new(server: &'static MemcachedServer) -> TestMemcached {
        TestMemcached {
            server,
            prefix: format!("{}:", testdock::shared::unique_name("test")),
        }
    }

    /// The prefix no other test uses (`test_<hex>:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `name` under the test's prefix: the key to read and write.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The server's `memcache://host:port`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The server's host address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The server it is in.
    pub fn server(&self) -> &'static MemcachedServer {
        self.server
    }
}

impl Drop for TestMemcached {
    fn drop(&mut self) {
        let (server, prefix) = (self.server, std::mem::take(&mut self.prefix));
        spawn_cleanup(async move {
            if let Err(e) = server.delete_prefixed(&prefix).await {
                tracing::warn!(%prefix, error = %e, "could not delete the test's memcached keys");
            }
        });
    }
}

/// A `TestMemcached` argument: a fresh prefix in [`SHARED`].
impl Fixture for TestMemcached {
    async fn setup(_: &TestContext) -> Result<Self> {
        Ok(TestMemcached::new(SHARED.get().await?))
    }
}

impl MemcachedServer {
    /// Deletes every key that starts with `prefix` (listed with `lru_crawler metadump`);
    /// how many there were.
    async fn delete_prefixed(&self, prefix: &str) -> Result<usize> {
        let mut busy = 0;
        let dump = loop {
            match self.metadump().await? {
                Some(dump) => break dump,
                // One crawl at a time: another test's cleanup may hold the crawler.
                None if busy < 20 => {
                    busy += 1;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                None => return Err(self.error("listing keys", "the LRU crawler stayed busy")),
            }
        };
        let keys: Vec<String> = dump
            .lines()
            .filter_map(|line| uri_decode(line.strip_prefix("key=")?.split(' ').next()?))
            .filter(|key| key.starts_with(prefix) && !key.contains(char::is_whitespace))
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        let mut request = String::new();
        for key in &keys {
            request.push_str(&format!("delete {key} noreply\r\n"));
        }
        request.push_str("version\r\n");
        self.send(request.as_bytes(), b"VERSION ", "deleting a test's keys")
            .await?;
        Ok(keys.len())
    }

    /// The server's keys, one `key=<URI-encoded key> exp=...` line each; `None` while
    /// its LRU crawler is busy (with another dump).
    async fn metadump(&self) -> Result<Option<String>> {
        let request = b"lru_crawler metadump all\r\n";
        // Key lines end in a bare `\n`, so the first `\r\n` is the `END` or a refusal
        // (`BUSY ...`, `ERROR`); read on to the `END` if a version ends them in `\r\n`.
        let mut text = self.send(request, b"\r\n", "listing keys").await?;
        if text.starts_with("BUSY") {
            return Ok(None);
        }
        if !text.ends_with("END\r\n") {
            text = self.send(request, b"END\r\n", "listing keys").await?;
        }
        Ok(Some(text))
    }
}

/// A key as `lru_crawler metadump` prints it (URI-encoded), decoded.
fn uri_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumped_keys_are_decoded() {
        assert_eq!(uri_decode("test_ab%3Auser%201").unwrap(), "test_ab:user 1");
        assert_eq!(uri_decode("plain").unwrap(), "plain");
        assert_eq!(uri_decode("bad%4"), None);
    }
}
