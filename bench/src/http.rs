//! A minimal HTTP/1.1 client for the few set-up requests (sign-up, login,
//! readiness polls). Loopback and plain HTTP only; the load itself is `wrk`'s.
//! One connection per request (`Connection: close`), so the body ends at EOF.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::BenchError;

/// A response: status code and body.
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
}

/// Sends one request; `body` is sent as JSON when given.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Response, BenchError> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body.as_bytes())?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| BenchError::Http(format!("{method} {path}: no status line in the response")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok(Response { status, body })
}

/// `GET path` answered 200?  Connection errors count as "no".
pub(crate) fn answers_ok(addr: SocketAddr, path: &str) -> bool {
    request(addr, "GET", path, &[], None).is_ok_and(|response| response.status == 200)
}
