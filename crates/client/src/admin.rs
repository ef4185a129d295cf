//! A minimal HTTP/1.0 client for a node's admin endpoint (`/status`,
//! `/metrics`, the `/cluster` membership API), so the CLI and the load
//! generator need no HTTP client library for a few lines of protocol on a
//! trusted network.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect, read and write time limit of one request.
pub const REQUEST_TIMEOUT_MILLISECONDS: u64 = 2_000;
/// The largest response read.
pub const RESPONSE_SIZE_MAX_BYTES: u64 = 1024 * 1024;

/// `GET path` from `address`; returns the status code and the body.
pub fn get(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    get_with_timeout(
        address,
        path,
        Duration::from_millis(REQUEST_TIMEOUT_MILLISECONDS),
    )
}

/// [`get`] with another limit on connecting, reading and writing: an
/// observer polling many nodes, some paused, needs a short one.
pub fn get_with_timeout(
    address: &str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    request(address, "GET", path, None, timeout)
}

/// `method path` with an optional JSON `body` to `address`; returns the
/// status code and the body.
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let socket_address = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{address} resolves to nothing")))?;
    let mut stream = TcpStream::connect_timeout(&socket_address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    match body {
        None => write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\n\r\n"
        )?,
        Some(body) => write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )?,
    }
    let mut response = String::new();
    stream
        .take(RESPONSE_SIZE_MAX_BYTES)
        .read_to_string(&mut response)?;
    let malformed = || std::io::Error::other("malformed HTTP response");
    let code = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(malformed)?;
    let (_, body) = response.split_once("\r\n\r\n").ok_or_else(malformed)?;
    Ok((code, body.to_string()))
}
