//! Readiness by a service's own protocol, for line-based protocols (Redis, memcached,
//! SMTP, ...): send a request over TCP, ready once the answer holds what is expected.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::probe::Probe;

/// How long one exchange may take before it counts as "not yet".
const EXCHANGE_LIMIT: Duration = Duration::from_secs(2);

/// Sends `request` to `addr` and reads the answer until it contains `until`, the
/// server closes the connection, or 2 s pass; returns what was read. For a few
/// commands of a text protocol without a client library (Redis's `PING`, memcached's
/// `version`).
///
/// ```no_run
/// # async fn demo(addr: std::net::SocketAddr) -> std::io::Result<()> {
/// let answer = testdock::services::exchange(addr, b"PING\r\n", b"\r\n").await?;
/// assert_eq!(answer, b"+PONG\r\n");
/// # Ok(()) }
/// ```
pub async fn exchange(addr: SocketAddr, request: &[u8], until: &[u8]) -> std::io::Result<Vec<u8>> {
    let talk = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(request).await?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !contains(&answer, until) {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        Ok(answer)
    };
    tokio::time::timeout(EXCHANGE_LIMIT, talk)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no complete answer from {addr} within {EXCHANGE_LIMIT:?}"),
            ))
        })
}

/// A probe that is ready once `request` sent to the published TCP `port` gets an
/// answer containing `expect` (see [`exchange`]); polled with back-off like every
/// custom probe, so a server that accepts before it answers (docker-proxy, a server
/// still loading) is retried.
///
/// ```
/// // Redis with a password: AUTH and PING in one write, ready at the PONG.
/// let probe = testdock::services::exchange_probe(6379, "AUTH secret\r\nPING\r\n", "+PONG");
/// # let _ = probe;
/// ```
#[must_use]
pub fn exchange_probe(port: u16, request: impl Into<Vec<u8>>, expect: impl Into<Vec<u8>>) -> Probe {
    let request = request.into();
    let expect = expect.into();
    let name = format!(
        "port {port} answers {:?}",
        String::from_utf8_lossy(&expect).trim()
    );
    Probe::custom(name, move |target| {
        let (request, expect) = (request.clone(), expect.clone());
        async move {
            let Ok(addr) = target.addr(port) else {
                return false;
            };
            exchange(addr, &request, &expect)
                .await
                .is_ok_and(|answer| contains(&answer, &expect))
        }
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_exchange_reads_until_the_expected_bytes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 6];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(b"+PO").await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            s.write_all(b"NG\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let answer = exchange(addr, b"PING\r\n", b"+PONG").await.unwrap();
        server.abort();
        assert_eq!(answer, b"+PONG\r\n");
        assert_eq!(
            exchange_probe(6379, "PING\r\n", "+PONG\r\n").to_string(),
            "custom check `port 6379 answers \"+PONG\"`"
        );
    }
}
