//! A small static file server for the built book, on loopback only.
//!
//! It is deliberately minimal (GET and HEAD, one request per connection);
//! chapter 2 builds the real HTTP/1.1 server.

use crate::Result;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread;
use std::time::Duration;

/// Binds `addr`, which must be a loopback address.
pub fn bind_loopback(addr: &str) -> Result<TcpListener> {
    let resolved = netladder::cli::loopback_addr(addr)?;
    TcpListener::bind(resolved).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Serves `site` on `listener` until the process is stopped.
pub fn serve(site: &Path, listener: TcpListener) -> Result<()> {
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    say!("serving the book at http://{local}/  (Ctrl-C to stop)");
    for stream in listener.incoming().flatten() {
        let site = site.to_path_buf();
        thread::spawn(move || {
            let _ = answer(stream, &site);
        });
    }
    Ok(())
}

fn answer(mut stream: TcpStream, site: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: this server needs none of them.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let file = match (method, resolve(site, target)) {
        ("GET" | "HEAD", Some(file)) => file,
        ("GET" | "HEAD", None) => return not_found(&mut stream, site, method),
        _ => {
            return respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                b"GET only\n",
                method,
            );
        }
    };
    match std::fs::read(&file) {
        Ok(body) => respond(&mut stream, "200 OK", content_type(&file), &body, method),
        Err(_) => not_found(&mut stream, site, method),
    }
}

/// A 404 with the book's own "not found" page (mdBook writes `404.html`),
/// so the learner keeps the book's navigation; plain text if it is missing.
fn not_found(stream: &mut TcpStream, site: &Path, method: &str) -> std::io::Result<()> {
    match std::fs::read(site.join("404.html")) {
        Ok(page) => respond(
            stream,
            "404 Not Found",
            "text/html; charset=utf-8",
            &page,
            method,
        ),
        Err(_) => respond(
            stream,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            method,
        ),
    }
}

/// The file under `site` for a request target, or `None` for anything that
/// tries to leave `site`.
fn resolve(site: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let relative = Path::new(path.trim_start_matches('/'));
    if path.contains('%')
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let file = site.join(relative);
    Some(if file.is_dir() {
        file.join("index.html")
    } else {
        file
    })
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        _ => "application/octet-stream",
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &[u8],
    method: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_stays_inside_the_site() {
        let site = Path::new("/site");
        assert_eq!(
            resolve(site, "/a/b.html?x=1"),
            Some(PathBuf::from("/site/a/b.html"))
        );
        assert_eq!(resolve(site, "/../etc/passwd"), None);
        assert_eq!(resolve(site, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(site, "/a/../../b"), None);
    }
}
