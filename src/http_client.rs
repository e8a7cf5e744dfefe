//! The one way dcv-hook starts an HTTP client: rustls, trusting the system's CA store only (read by
//! rustls-native-certs: `/etc/ssl/certs`, `SSL_CERT_FILE`, `SSL_CERT_DIR`), never the Mozilla bundle
//! compiled into reqwest (the cloudflare crate's features switch it on for the whole binary). So an
//! organisation's own CA, added to the system store, is trusted, and a CA removed from it is not.
//! The callers add their timeouts and redirect rules.

use reqwest::blocking::{Client, ClientBuilder};
use std::time::Duration;

/// The client of an API that holds a credential (CertCentral, PowerDNS, Azure, Google): each
/// request given up after `timeout` (connecting after at most 10 s), and no redirect followed, so
/// a key never reaches another origin (a 3xx comes back to the caller).
pub fn api_client(purpose: &str, timeout: Duration) -> crate::error::Result<Client> {
    builder(purpose)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| crate::error::Error::software(format!("cannot build the HTTP client: {e}")))
}

/// A client builder with the roots above and dcv-hook's user agent, `(purpose)` appended.
pub fn builder(purpose: &str) -> ClientBuilder {
    let agent = match purpose {
        "" => concat!("dcv-hook/", env!("CARGO_PKG_VERSION")).to_string(),
        _ => format!("dcv-hook/{} ({purpose})", env!("CARGO_PKG_VERSION")),
    };
    reqwest::blocking::Client::builder()
        .tls_built_in_webpki_certs(false)
        .tls_built_in_native_certs(true)
        .user_agent(agent)
}
