//! A static file server (`WebServer`) standing in for one node of a web farm.
//!
//! It serves GET and HEAD for regular files under its root and nothing outside it (404), logs
//! every request with its Host header, can answer chosen paths with a 301, and can pretend to
//! sync late: with a lag, a file modified less than that long ago is answered 404. Two servers on
//! two loopback addresses over one root, one of them lagging, make the web farm that dcv-hook's
//! HTTP propagation check must wait for. It never writes files.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::serve::{HttpThread, header};

/// One request a `WebServer` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebRequest {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// The Host header, if any.
    pub host: Option<String>,
    /// The status answered.
    pub status: u16,
    /// When it was answered.
    pub at: Instant,
}

struct Site {
    root: PathBuf,
    lag: Mutex<Duration>,
    redirects: Mutex<HashMap<String, String>>,
    /// When set, every GET is answered with this status (a broken node).
    failing: Mutex<Option<u16>>,
    log: Mutex<Vec<WebRequest>>,
}

/// A static file server on one loopback address. Stops on Drop.
pub struct WebServer {
    http: HttpThread,
    site: Arc<Site>,
}

impl WebServer {
    /// Serves the files under `root` on `addr` (loopback only; port 0 = ephemeral).
    pub fn start(addr: SocketAddr, root: PathBuf) -> io::Result<WebServer> {
        // Canonical once, so the "inside root" test below compares like with like even when
        // root itself sits behind a symlink (e.g. /tmp on some systems).
        let root = root.canonicalize()?;
        let site = Arc::new(Site {
            root,
            lag: Mutex::new(Duration::ZERO),
            redirects: Mutex::new(HashMap::new()),
            failing: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        });
        let handler_site = Arc::clone(&site);
        let http = HttpThread::start(addr, "web", move |request| {
            handler_site.handle(request);
        })?;
        Ok(WebServer { http, site })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    /// Builder form of [`WebServer::set_lag`].
    pub fn with_lag(self, lag: Duration) -> WebServer {
        self.set_lag(lag);
        self
    }

    /// Answers every request with `status` (say 500, a broken node) until called with `None`.
    pub fn fail_with(&self, status: Option<u16>) {
        *self.site.failing.lock().unwrap() = status;
    }

    /// Files modified less than `lag` ago are answered 404, as on a node that syncs late.
    pub fn set_lag(&self, lag: Duration) {
        *self.site.lag.lock().unwrap() = lag;
    }

    /// Builder form of [`WebServer::redirect`].
    pub fn with_redirect(self, path: &str, location: &str) -> WebServer {
        self.redirect(path, location);
        self
    }

    /// Answers requests for exactly `path` (no query) with 301 to `location`.
    pub fn redirect(&self, path: &str, location: &str) {
        self.site
            .redirects
            .lock()
            .unwrap()
            .insert(path.to_string(), location.to_string());
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<WebRequest> {
        self.site.log.lock().unwrap().clone()
    }
}

impl Site {
    fn handle(&self, request: tiny_http::Request) {
        let method = request.method().as_str().to_string();
        let target = request.url().to_string();
        let host = header(&request, "Host");
        let path = target.split(['?', '#']).next().unwrap_or("").to_string();

        let redirect = self.redirects.lock().unwrap().get(&path).cloned();
        let failing = *self.failing.lock().unwrap();
        let (status, body, location) = if method != "GET" && method != "HEAD" {
            (405, Vec::new(), None)
        } else if let Some(status) = failing {
            (status, b"internal error\n".to_vec(), None)
        } else if let Some(location) = redirect {
            (301, Vec::new(), Some(location))
        } else {
            match self.file(&path) {
                Some(body) => (200, body, None),
                None => (404, b"not found\n".to_vec(), None),
            }
        };

        self.log.lock().unwrap().push(WebRequest {
            method,
            path: target,
            host,
            status,
            at: Instant::now(),
        });
        let mut response = tiny_http::Response::from_data(body).with_status_code(status);
        let content_type = tiny_http::Header::from_bytes("Content-Type", "text/plain");
        response.add_header(content_type.expect("static header"));
        if let Some(location) = location
            && let Ok(h) = tiny_http::Header::from_bytes("Location", location.as_bytes())
        {
            response.add_header(h);
        }
        let _ = request.respond(response);
    }

    /// The contents of the regular file `path` names under root, unless it is outside root,
    /// missing, or too fresh for the configured lag.
    fn file(&self, path: &str) -> Option<Vec<u8>> {
        let decoded = percent_decode(path)?;
        let mut full = self.root.clone();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => {}
                // Refused outright rather than resolved: a web root has no business with them.
                ".." => return None,
                s if s.contains('\\') || s.contains('\0') => return None,
                s => full.push(s),
            }
        }
        // Symlinks could still point out of root: compare the resolved path.
        let full = full.canonicalize().ok()?;
        if !full.starts_with(&self.root) {
            return None;
        }
        let meta = std::fs::metadata(&full).ok()?;
        if !meta.is_file() || self.too_fresh(&meta) {
            return None;
        }
        std::fs::read(&full).ok()
    }

    fn too_fresh(&self, meta: &std::fs::Metadata) -> bool {
        let lag = *self.lag.lock().unwrap();
        if lag.is_zero() {
            return false;
        }
        match meta.modified() {
            Ok(mtime) => match SystemTime::now().duration_since(mtime) {
                Ok(age) => age < lag,
                // Modified "in the future" (clock skew): certainly not synced yet.
                Err(_) => true,
            },
            Err(_) => false,
        }
    }
}

/// Decodes %XX escapes; None on a malformed escape or non-UTF-8 result.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::get as http_get;

    const T: Duration = Duration::from_secs(2);

    fn site() -> (PathBuf, WebServer) {
        let root = std::env::temp_dir().join(format!("dcv-sim-web-{}", fastrand::u64(..)));
        std::fs::create_dir_all(root.join(".well-known/pki-validation")).unwrap();
        std::fs::write(
            root.join(".well-known/pki-validation/fileauth.txt"),
            "token123\n",
        )
        .unwrap();
        let web = WebServer::start("127.0.0.1:0".parse().unwrap(), root.clone()).unwrap();
        (root, web)
    }

    #[test]
    fn serves_files_and_logs_host() {
        let (root, web) = site();
        let r = http_get(
            web.addr(),
            "www.example.test",
            "/.well-known/pki-validation/fileauth.txt",
            T,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "token123\n");
        let log = web.requests();
        assert_eq!(log[0].host.as_deref(), Some("www.example.test"));
        assert_eq!(log[0].status, 200);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn never_serves_outside_root() {
        let (root, web) = site();
        let outside = root.parent().unwrap().join(format!(
            "{}-secret",
            root.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&outside, "secret").unwrap();
        let escape = format!("/../{}", outside.file_name().unwrap().to_string_lossy());
        for path in [escape.as_str(), "/%2e%2e/etc/passwd", "/nope.txt", "/"] {
            let r = http_get(web.addr(), "h", path, T).unwrap();
            assert_eq!(r.status, 404, "{path}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
            assert_eq!(http_get(web.addr(), "h", "/link", T).unwrap().status, 404);
        }
        std::fs::remove_file(outside).unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn lagging_node_hides_fresh_files() {
        let (root, web) = site();
        let web = web.with_lag(Duration::from_secs(3600));
        let path = "/.well-known/pki-validation/fileauth.txt";
        assert_eq!(http_get(web.addr(), "h", path, T).unwrap().status, 404);
        web.set_lag(Duration::ZERO);
        assert_eq!(http_get(web.addr(), "h", path, T).unwrap().status, 200);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn redirects_a_path() {
        let (root, web) = site();
        let web = web.with_redirect("/old", "http://other.example.test/new");
        let r = http_get(web.addr(), "h", "/old", T).unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(r.location.as_deref(), Some("http://other.example.test/new"));
        std::fs::remove_dir_all(root).unwrap();
    }
}
