//! Static files under a root folder, and never anything outside it.

use netladder::http::{Request, Response};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

// ANCHOR: safe_join
/// The file under `root` that a URL path names, or `None` if the path is
/// malformed or tries to leave `root`. Decoding comes first, so `%2e%2e`
/// and `%2f` are judged as the `..` and `/` they stand for.
pub fn safe_join(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path.strip_prefix('/')?)?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return None,
            // NUL ends C strings; `\` and `:` mean something to other OSes.
            _ if segment.contains(['\0', '\\', ':']) => return None,
            _ => path.push(segment),
        }
    }
    Some(path)
}
// ANCHOR_END: safe_join

/// Decodes `%XX` escapes; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Answers a GET or HEAD for a file or folder under `root`.
pub fn serve(root: &Path, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::new(405)
            .header("Allow", "GET, HEAD")
            .text("only GET and HEAD here\n");
    }
    let Some(path) = safe_join(root, request.path()) else {
        return Response::new(403).text("forbidden\n");
    };
    // Hidden files (`.git/`, `.env`) are not published, as most static
    // servers do: a `--root .` must not hand out the repository's internals.
    if request.path().split('/').any(|segment| {
        segment.starts_with('.') || segment.starts_with("%2e") || segment.starts_with("%2E")
    }) {
        return Response::new(404).text("not found\n");
    }
    // A symbolic link could still point outside: compare real paths.
    let (Ok(real), Ok(real_root)) = (path.canonicalize(), root.canonicalize()) else {
        return Response::new(404).text("not found\n");
    };
    if !real.starts_with(&real_root) {
        return Response::new(403).text("forbidden\n");
    }
    if real.is_dir() {
        if !request.path().ends_with('/') {
            // Relative links in the listing need the trailing slash.
            let location = format!("{}/", request.path());
            return Response::new(301)
                .header("Location", location)
                .text("moved\n");
        }
        let index = real.join("index.html");
        if index.is_file() {
            return file(&index);
        }
        return listing(&real, request.path());
    }
    file(&real)
}

fn file(path: &Path) -> Response {
    match fs::read(path) {
        Ok(body) => Response::new(200)
            .header("Content-Type", content_type(path))
            .body(body),
        Err(_) => Response::new(404).text("not found\n"),
    }
}

/// An HTML list of a folder's entries.
fn listing(dir: &Path, url_path: &str) -> Response {
    let Ok(entries) = fs::read_dir(dir) else {
        return Response::new(404).text("not found\n");
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() {
                name + "/"
            } else {
                name
            }
        })
        .collect();
    names.sort();
    let title = escape_html(url_path);
    let mut html = format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<h1>{title}</h1>\n<ul>\n"
    );
    for name in names {
        let shown = escape_html(&name);
        let _ = writeln!(
            html,
            "<li><a href=\"{}\">{shown}</a></li>",
            percent_encode(&name)
        );
    }
    html.push_str("</ul>\n");
    Response::new(200)
        .header("Content-Type", "text/html; charset=utf-8")
        .body(html)
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes everything but unreserved characters and `/`.
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The media type for a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" | "md" | "rs" | "toml" => "text/plain; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_plain_paths_and_refuses_escapes() {
        let root = Path::new("/srv");
        assert_eq!(
            safe_join(root, "/a/b.html"),
            Some(PathBuf::from("/srv/a/b.html"))
        );
        assert_eq!(
            safe_join(root, "/my%20file"),
            Some(PathBuf::from("/srv/my file"))
        );
        for attack in [
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/a/%2E%2E%2F%2E%2E/x",
            "/a%00b",
            "/c:/x",
            "x",
            "/%zz",
        ] {
            assert_eq!(safe_join(root, attack), None, "{attack}");
        }
    }

    #[test]
    fn listing_escapes_names() {
        assert_eq!(escape_html("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
        assert_eq!(percent_encode("a b/#c"), "a%20b/%23c");
    }
}
