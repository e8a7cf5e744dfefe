//! An API base URL (CertCentral's, a provider's), checked when the settings are built, before any
//! request and before any credentials are sent to it: a URL that parses, https, or plain http to a
//! loopback address only (a test server, a local PowerDNS), so a token never crosses a network in
//! clear.

use crate::error::{Error, Kind, Result};

/// The API base as the client needs it: https (http only to loopback, so a token never crosses a
/// network in clear), no credentials, query or fragment, ending in `/`. A refusal is a usage error
/// (64) naming `flag`.
pub fn check(flag: &str, text: &str) -> Result<String> {
    check_as(flag, text, Kind::Usage)
}

/// [`check`] for a URL that `setting` gave, refused as `kind` (78 for an environment variable).
pub fn check_as(setting: &str, text: &str, kind: Kind) -> Result<String> {
    let bad = |why: &str| Error::new(kind, format!("{setting} {text:?} {why}"));
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| bad(&format!("is not a URL ({e}); give an https URL")))?;
    let host = url
        .host_str()
        .ok_or_else(|| bad("has no host; give an https URL"))?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "would send the credentials unencrypted: use https (plain http only to a loopback address)",
            ));
        }
        _ => return Err(bad("is not an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    let mut base = url.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}
