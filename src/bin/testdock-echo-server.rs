//! A tiny TCP echo server: the tests pack this workspace binary into a host-binary image
//! (`HostImage::binary_at(env!("CARGO_BIN_EXE_testdock-echo-server"), ...)`) to show
//! that a program of your own runs in a container with no Dockerfile and no registry.
//!
//! Usage: `testdock-echo-server [port]` (default 7000). Prints `listening on <port>`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(7000);
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    println!("listening on {port}");
    for stream in listener.incoming() {
        let mut stream = stream?;
        std::thread::spawn(move || {
            let reader = BufReader::new(stream.try_clone()?);
            for line in reader.lines() {
                writeln!(stream, "{}", line?)?;
            }
            Ok::<_, std::io::Error>(())
        });
    }
    Ok(())
}
