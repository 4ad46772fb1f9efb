//! CORS for the polling transport: a page on another origin may only read
//! the server's answers if the server says so, and a browser asks first
//! (the `OPTIONS` preflight) before a POST with a body.

use crate::http::Response;

/// Which origins may use the endpoint from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// None: no CORS headers at all (same-origin pages still work).
    None,
    /// Any origin (echoed back, so credentials still work).
    Any,
    /// These origins exactly, like `http://127.0.0.1:8000`.
    List(Vec<String>),
}

/// The CORS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Who may call.
    pub origins: AllowedOrigins,
    /// Whether cookies and HTTP authentication may come along
    /// (`Access-Control-Allow-Credentials: true`).
    pub credentials: bool,
}

impl Default for Cors {
    fn default() -> Cors {
        Cors {
            origins: AllowedOrigins::None,
            credentials: false,
        }
    }
}

/// The methods a preflight allows.
const METHODS: &str = "GET, POST, OPTIONS";

impl Cors {
    /// Whether a request from `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match &self.origins {
            AllowedOrigins::None => false,
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o == origin),
        }
    }

    /// Adds the CORS headers to `response` for a request from `origin`
    /// (the request's `Origin` field), if that origin is allowed.
    pub fn apply(&self, origin: Option<&str>, mut response: Response) -> Response {
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            response.headers.push("Access-Control-Allow-Origin", origin);
            response.headers.push("Vary", "Origin");
            if self.credentials {
                response
                    .headers
                    .push("Access-Control-Allow-Credentials", "true");
            }
        }
        response
    }

    /// The answer to a preflight `OPTIONS`: 204, and for an allowed origin
    /// the methods and the header fields it asked for
    /// (`Access-Control-Request-Headers`). A refused origin gets no CORS
    /// headers, which is how a browser learns it is refused.
    pub fn preflight(&self, origin: Option<&str>, request_headers: Option<&str>) -> Response {
        let mut response = self.apply(origin, Response::new(204));
        if origin.is_some_and(|o| self.allows(o)) {
            response
                .headers
                .push("Access-Control-Allow-Methods", METHODS);
            if let Some(asked) = request_headers {
                response.headers.push("Access-Control-Allow-Headers", asked);
            }
            response.headers.push("Access-Control-Max-Age", "86400");
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Cors {
        Cors {
            origins: AllowedOrigins::List(vec!["http://a.test".into()]),
            credentials: true,
        }
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_credentials() {
        let r = list().apply(Some("http://a.test"), Response::new(200));
        assert_eq!(
            r.headers.get_str("access-control-allow-origin"),
            Some("http://a.test")
        );
        assert_eq!(
            r.headers.get_str("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(r.headers.get_str("vary"), Some("Origin"));
    }

    #[test]
    fn other_origins_and_no_origin_get_nothing() {
        for origin in [Some("http://b.test"), None] {
            let r = list().apply(origin, Response::new(200));
            assert!(r.headers.is_empty(), "{origin:?}");
        }
        let r = Cors::default().apply(Some("http://a.test"), Response::new(200));
        assert!(r.headers.is_empty());
    }

    #[test]
    fn any_origin_is_echoed_not_starred() {
        let cors = Cors {
            origins: AllowedOrigins::Any,
            credentials: false,
        };
        let r = cors.apply(Some("http://z.test"), Response::new(200));
        assert_eq!(
            r.headers.get_str("access-control-allow-origin"),
            Some("http://z.test")
        );
        assert_eq!(r.headers.get("access-control-allow-credentials"), None);
    }

    #[test]
    fn preflights() {
        let r = list().preflight(Some("http://a.test"), Some("content-type"));
        assert_eq!(r.status, 204);
        assert_eq!(
            r.headers.get_str("access-control-allow-methods"),
            Some("GET, POST, OPTIONS")
        );
        assert_eq!(
            r.headers.get_str("access-control-allow-headers"),
            Some("content-type")
        );
        let refused = list().preflight(Some("http://evil.test"), Some("content-type"));
        assert_eq!(refused.status, 204);
        assert!(refused.headers.is_empty());
    }
}
