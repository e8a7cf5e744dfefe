//! The CA's redirect rules: DigiCert's (301, 302, 307, 308 only, at most 5 hops, on the same
//! registered domain, ports 80 and 443) or, for ACME challenges, Let's Encrypt's (at most 10 hops,
//! ports 80 and 443). Judges one hop; never fetches.

use reqwest::Url;

/// The CA's redirect rule (Let's Encrypt's when `acme`) that the hop from a URL on `host` to
/// `next` (with HTTP `status`, `hops` so far) breaks: its code, what was seen and the fix.
pub(super) fn broken_rule(
    host: &str,
    acme: bool,
    status: u16,
    next: &Url,
    hops: &[String],
) -> Option<(&'static str, String, &'static str)> {
    let max_hops = if acme { 10 } else { 5 };
    let home = registered(host);
    if !matches!(status, 301 | 302 | 307 | 308) {
        return Some((
            "http.redirect.status",
            format!("redirects with HTTP {status}: only 301, 302, 307 and 308 are followed"),
            "redirect with 301 or 302, or serve the file directly",
        ));
    }
    if !matches!(next.scheme(), "http" | "https") {
        return Some((
            "http.redirect.scheme",
            format!("redirects to {next}: only http and https are followed"),
            "redirect to an http(s) URL",
        ));
    }
    let port = next.port_or_known_default().unwrap_or(0);
    if port != 80 && port != 443 {
        return Some((
            "http.redirect.port",
            format!("redirects to {next}, port {port}: only ports 80 and 443 are followed"),
            "redirect to port 80 or 443 (no port in the URL), or serve the file directly",
        ));
    }
    let next_host = next.host_str().unwrap_or("");
    if !acme && registered(next_host) != home {
        return Some((
            "http.redirect.domain",
            format!(
                "redirects to {next_host}, outside {home}: DigiCert follows only redirects on the same registered domain"
            ),
            "serve /.well-known/pki-validation/ on this name without redirecting elsewhere",
        ));
    }
    (hops.len() > max_hops).then(|| {
        (
            "http.redirect.too_many",
            format!("more than {max_hops} redirects: {}", hops.join(" -> ")),
            "shorten the redirect chain (one redirect at most is safest)",
        )
    })
}

/// The registered domain by the Public Suffix List (a name that is itself a public suffix, or an
/// address, stands for itself).
fn registered(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    psl::domain_str(&host).unwrap_or(&host).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registered_domain_follows_the_public_suffix_list() {
        assert_eq!(registered("a.b.example.com"), "example.com");
        assert_eq!(registered("www.Example.co.uk."), "example.co.uk");
        assert_ne!(registered("a.co.uk"), registered("b.co.uk"));
        assert_eq!(registered("shop.example.test"), "example.test");
        assert_eq!(registered("co.uk"), "co.uk");
        assert_eq!(registered("192.0.2.1"), "192.0.2.1");
        assert_ne!(registered("192.0.2.1"), registered("198.51.2.1"));
        assert_eq!(registered("[2001:db8::1]"), "[2001:db8::1]");
    }
}
