//! A tiny TCP echo server: the tests pack this program into a host-binary image
//! (`HostImage::binary_at(<path of this example>, "/server")`) to show that a program
//! of your own runs in a container with no Dockerfile and no registry.
//!
//! It is an example rather than a binary of the package so that `cargo install
//! testdock` does not install it. `cargo test` builds it with the other examples; a
//! test that needs it finds it with `tests/common/examples.rs`, which builds it when a
//! narrower invocation (`cargo test --test host_images`, `cargo nextest run --test
//! host_images`) did not.
//!
//! Usage: `cargo run --example echo_server -- [port]` (default 7000). Prints
//! `listening on <port>`, then echoes every line back to whoever sent it.

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
