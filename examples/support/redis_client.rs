//! A minimal Redis client (one RESP command, one reply) the examples share: included
//! with `#[path = "support/redis_client.rs"] mod redis_client;`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// Sends one Redis command (RESP) to `addr` and returns the reply: a status, an integer
/// or a bulk string (`(nil)` for none).
pub(crate) fn redis(addr: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(addr)?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end();
    match line.split_at(1) {
        ("+" | ":", rest) => Ok(rest.to_owned()),
        ("$", "-1") => Ok("(nil)".to_owned()),
        ("$", _) => {
            let mut value = String::new();
            reader.read_line(&mut value)?;
            Ok(value.trim_end().to_owned())
        }
        _ => Err(format!("redis answered `{line}`").into()),
    }
}
