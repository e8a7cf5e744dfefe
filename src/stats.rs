//! Counters of network work done by this process, reported in JSON output so benchmarks can read them.
//!
//! Plain relaxed atomics: the numbers are statistics, never used for control flow.

use std::sync::atomic::{AtomicU64, Ordering};

static DNS_QUERIES: AtomicU64 = AtomicU64::new(0);
static HTTP_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Counts one DNS query sent to a server (resolver or authoritative).
pub fn count_dns_query() {
    DNS_QUERIES.fetch_add(1, Ordering::Relaxed);
}

/// Counts one HTTP request made by a propagation check.
pub fn count_http_request() {
    HTTP_REQUESTS.fetch_add(1, Ordering::Relaxed);
}

pub fn dns_queries() -> u64 {
    DNS_QUERIES.load(Ordering::Relaxed)
}

pub fn http_requests() -> u64 {
    HTTP_REQUESTS.load(Ordering::Relaxed)
}
