//! Exercise ch02-safe-path: map a URL path to a file, and never leave the root.
//!
//! A static file server turns `GET /docs/a.html` into `ROOT/docs/a.html`.
//! An attacker sends `GET /../../etc/passwd`, or hides the dots as
//! `%2e%2e`, or an encoded slash `%2f`, or a NUL byte. The safe way is to
//! percent-decode first, then accept only plain path segments: no `..`, no
//! `.`-tricks that leave the root, no absolute paths, no NUL, no backslash.
//!
//! Reference solution.

use std::path::{Path, PathBuf};

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
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

/// The file under `root` that `url_path` (the path part of a request target,
/// starting with `/`, query already removed) names, or `None` if it is
/// malformed or would escape `root`. Percent-escapes are decoded; `.` and
/// empty segments are skipped; `..`, NUL and `\` are refused.
pub fn safe_join(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path.strip_prefix('/')?)?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return None,
            _ if segment.contains(['\0', '\\']) || segment.contains(':') => return None,
            _ => path.push(segment),
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(url_path: &str) -> Option<PathBuf> {
        safe_join(Path::new("/srv/www"), url_path)
    }

    #[test]
    fn plain_paths_land_under_the_root() {
        assert_eq!(
            join("/index.html"),
            Some(PathBuf::from("/srv/www/index.html"))
        );
        assert_eq!(
            join("/docs/a.html"),
            Some(PathBuf::from("/srv/www/docs/a.html"))
        );
        assert_eq!(join("/"), Some(PathBuf::from("/srv/www")));
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(
            join("/my%20file.txt"),
            Some(PathBuf::from("/srv/www/my file.txt"))
        );
        assert_eq!(join("/caf%C3%A9"), Some(PathBuf::from("/srv/www/café")));
    }

    #[test]
    fn dot_and_empty_segments_are_skipped() {
        assert_eq!(
            join("/./docs//a.html"),
            Some(PathBuf::from("/srv/www/docs/a.html"))
        );
    }

    #[test]
    fn dot_dot_is_refused_however_it_is_written() {
        for attack in [
            "/../etc/passwd",
            "/docs/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/docs/..",
            "/.%2e/x",
        ] {
            assert_eq!(join(attack), None, "{attack}");
        }
    }

    #[test]
    fn nul_backslash_and_drive_tricks_are_refused() {
        for attack in ["/a%00.html", "/..%5c..%5cwindows", "/c:/windows", "/a\\b"] {
            assert_eq!(join(attack), None, "{attack}");
        }
    }

    #[test]
    fn bad_escapes_and_relative_targets_are_refused() {
        for bad in ["/%zz", "/%4", "/%ff", "relative/path", ""] {
            assert_eq!(join(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_encoded_absolute_path_stays_under_the_root() {
        assert_eq!(
            join("/%2Fetc%2Fpasswd"),
            Some(PathBuf::from("/srv/www/etc/passwd"))
        );
    }
}
