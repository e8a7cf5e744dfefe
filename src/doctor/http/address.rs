//! The addresses of a name served over HTTP: found through the resolver, and each judged as the CA
//! sees it (a private or reserved address blocks, loopback is warned about). Asks the resolver only.

use crate::doctor::{Finding, Severity};
use crate::error::Kind;
use crate::resolver::Resolver;
use std::net::IpAddr;

/// The name's addresses, or the finding that says why there are none.
pub(super) fn addresses(resolver: &Resolver, host: &str) -> Result<Vec<IpAddr>, Finding> {
    match resolver.addresses(host) {
        Ok(a) => Ok(a),
        Err(e) if e.kind() == Kind::Unavailable => Err(Finding::unchecked(host, &e)),
        Err(e) => Err(Finding::new(
            "http.no_address",
            Severity::Blocks,
            host,
            e.to_string(),
            "give the name an A or AAAA record pointing at the web server",
        )),
    }
}

/// A finding for an address the CA will not (or cannot) connect to.
pub(super) fn judge_address(addr: IpAddr, acme: bool) -> Option<Finding> {
    if addr.is_loopback() {
        return Some(Finding::new(
            "http.address.loopback",
            Severity::Warns,
            addr.to_string(),
            "a loopback address: only this machine reaches it (fine in a lab, no CA can)",
            "publish the web server's public address",
        ));
    }
    let reserved = match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
        }
    };
    reserved.then(|| {
        Finding::new(
            "http.address.reserved",
            Severity::Blocks,
            addr.to_string(),
            format!(
                "a private or reserved address: {} refuses to connect to it",
                if acme { "the CA" } else { "DigiCert" }
            ),
            "publish only the web server's public addresses for the name",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_addresses_digicert_refuses() {
        let code = |a: &str| judge_address(a.parse().unwrap(), false).map(|f| f.code);
        assert_eq!(code("10.1.2.3"), Some("http.address.reserved"));
        assert_eq!(code("192.168.0.1"), Some("http.address.reserved"));
        assert_eq!(code("100.64.0.1"), Some("http.address.reserved"));
        assert_eq!(code("fd00::1"), Some("http.address.reserved"));
        assert_eq!(code("127.0.0.1"), Some("http.address.loopback"));
        assert_eq!(code("93.184.216.34"), None);
        assert_eq!(code("2606:4700::1"), None);
    }
}
