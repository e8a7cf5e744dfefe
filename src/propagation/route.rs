//! Which server addresses this machine can reach at all, so a check never waits on an address it
//! has no route to (an AAAA address on a host without IPv6). Asks the kernel; sends nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};

/// Whether this machine has a route to `addr` at all. A host without IPv6 connectivity cannot ask a
/// server's AAAA address, and waiting on it would always end in a timeout that says nothing about
/// the server; checks skip such addresses with a warning instead.
pub fn routable(addr: IpAddr) -> bool {
    let local: IpAddr = if addr.is_ipv6() {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    // A UDP connect sends nothing; it only asks the kernel for a route.
    UdpSocket::bind((local, 0))
        .and_then(|s| s.connect((addr, 9)))
        .is_ok()
}

/// Drops the addresses this machine cannot reach, warning about each; keeps all when none is reachable
/// (the check then reports them as unreachable, which is the truth).
pub fn keep_routable(what: &str, addrs: Vec<IpAddr>) -> Vec<IpAddr> {
    let (ok, unroutable): (Vec<IpAddr>, Vec<IpAddr>) = addrs.iter().partition(|a| routable(**a));
    if ok.is_empty() {
        return addrs;
    }
    for a in unroutable {
        crate::ui::warn(&format!(
            "not checking {what} at {a}: this machine has no route to it"
        ));
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_routable() {
        assert!(routable("127.0.0.1".parse().unwrap()));
        assert_eq!(
            keep_routable("x", vec!["127.0.0.1".parse().unwrap()]).len(),
            1
        );
    }
}
