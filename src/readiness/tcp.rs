//! The TCP probe: a connection from the host, and optionally a listening socket inside.

use std::net::SocketAddr;
use std::time::Duration;

use crate::exec::Exec;
use crate::probe::TcpProbe;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{Attempt, Target};

/// One attempt: connect from the host, then (if asked) look for the listening socket in
/// the container's `/proc/net/tcp{,6}`.
pub(super) async fn check(
    target: &Target<'_>,
    addr: SocketAddr,
    probe: &TcpProbe,
) -> Result<(), Attempt> {
    let connect = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr));
    let mut stream = match connect.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(Attempt::Retry(format!("connecting to {addr}: {e}"))),
        Err(_) => {
            return Err(Attempt::Retry(format!(
                "connecting to {addr}: no answer within 1s"
            )))
        }
    };
    // Docker's userland proxy accepts on the host port even when nothing listens in the
    // container, then closes the connection at once. A service keeps it open (or greets).
    // (With `listening_inside`, the check inside decides: no need to wait for a close.)
    let mut byte = [0u8; 1];
    if probe.inside {
        drop(stream);
    } else if let Ok(Ok(0)) = tokio::time::timeout(PROXY_CLOSE_WINDOW, stream.read(&mut byte)).await
    {
        return Err(Attempt::Retry(format!(
            "{addr} accepted and closed at once: nothing listens on port {} yet",
            probe.port
        )));
    }
    if !probe.inside {
        return Ok(());
    }
    let out = Exec::new(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        .run(target.docker, target.id)
        .await
        .map_err(|e| Attempt::Retry(format!("reading /proc/net/tcp: {e}")))?;
    if !out.success() && super::cannot_run(target, &out).await {
        return Err(Attempt::Never(format!(
            "`listening_inside` reads /proc/net/tcp with `cat`, which failed (exit {}){}; \
             does the image have `cat`?",
            out.exit_code,
            super::output_suffix(&out)
        )));
    }
    if !out.success() {
        return Err(Attempt::Retry(format!(
            "reading /proc/net/tcp failed (exit {}){}",
            out.exit_code,
            super::output_suffix(&out)
        )));
    }
    if listening_ports(&out.stdout_text()).contains(&probe.port) {
        Ok(())
    } else {
        Err(Attempt::Retry(format!(
            "{addr} accepts, but nothing listens on port {} inside the container yet",
            probe.port
        )))
    }
}

/// How long a fresh connection is watched for the proxy's immediate close.
const PROXY_CLOSE_WINDOW: Duration = Duration::from_millis(25);

/// The local ports in state LISTEN (`0A`) in `/proc/net/tcp`-format text.
pub(crate) fn listening_ports(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _slot = fields.next()?;
            let local = fields.next()?;
            let _remote = fields.next()?;
            let state = fields.next()?;
            if state != "0A" {
                return None;
            }
            let port = local.rsplit_once(':')?.1;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0CEA 0100007F:A2B4 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
";
        assert_eq!(listening_ports(text), [8080, 5432]);
    }
}
