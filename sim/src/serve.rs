//! The plumbing shared by the HTTP servers in this crate: a loopback-only bind, one thread that
//! takes requests off a `tiny_http` server, and a guard that stops and joins that thread on Drop.
//! It knows nothing about what is served.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Refuses anything but 127.0.0.0/8 and ::1: these servers are test fixtures and must never be
/// reachable from another host.
pub(crate) fn require_loopback(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} is not a loopback address; dcv-sim only listens on loopback"),
        ))
    }
}

/// A running `tiny_http` server whose requests go to one handler thread (or a pool of them).
pub(crate) struct HttpThread {
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    addr: SocketAddr,
}

impl HttpThread {
    /// Binds `addr` (loopback only) and hands every request to `handle`, one at a time: serial
    /// handling keeps the simulated state easy to reason about in tests.
    pub(crate) fn start<F>(addr: SocketAddr, name: &str, mut handle: F) -> io::Result<HttpThread>
    where
        F: FnMut(tiny_http::Request) + Send + 'static,
    {
        require_loopback(addr)?;
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let server = Arc::new(server);
        let worker = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{addr}"))
            .spawn(move || {
                // `recv` fails once `unblock` is called from Drop, which ends the loop.
                while let Ok(request) = worker.recv() {
                    handle(request);
                }
            })?;
        Ok(HttpThread {
            server,
            threads: vec![thread],
            addr,
        })
    }

    /// Like [`HttpThread::start`], but `workers` threads take requests side by side, so a slow answer
    /// (a DCV check given a latency) does not hold up the others, as on the real service. The handler
    /// must keep its state consistent itself (behind a lock).
    pub(crate) fn start_pool<F>(
        addr: SocketAddr,
        name: &str,
        workers: usize,
        handle: F,
    ) -> io::Result<HttpThread>
    where
        F: Fn(tiny_http::Request) + Send + Sync + 'static,
    {
        require_loopback(addr)?;
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let server = Arc::new(server);
        let handle = Arc::new(handle);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers.max(1) {
            let worker = Arc::clone(&server);
            let handle = Arc::clone(&handle);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("{name}-{addr}-{i}"))
                    .spawn(move || {
                        while let Ok(request) = worker.recv() {
                            handle(request);
                        }
                    })?,
            );
        }
        Ok(HttpThread {
            server,
            threads,
            addr,
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpThread {
    fn drop(&mut self) {
        // Each unblock wakes one waiting thread.
        for _ in &self.threads {
            self.server.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // The last Arc goes here, and tiny_http's own Drop closes the listening socket.
    }
}

/// A header value from a `tiny_http` request, matched case-insensitively.
pub(crate) fn header(request: &tiny_http::Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub(crate) fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded value of `key` in a query string (`None` when absent).
pub(crate) fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| form_decode(k) == key)
        .map(|(_, v)| form_decode(v))
}
