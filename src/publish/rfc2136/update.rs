//! One TSIG-signed UPDATE to the primary, and what its failures mean: the exchange on the wire and
//! the mapping of every way it can fail to an error kind (TSIG rejected → 77, wrong zone or view →
//! 78, unreachable or SERVFAIL → 69). A timeout leaves the outcome unknown: the UPDATE may have been
//! applied, so the error says so ([`Error::with_leftovers`]) and the state is kept.

use super::{Rfc2136, TSIG_FUDGE};
use crate::dnsquery::txt;
use crate::error::{Error, Result};
use crate::record::{Record, RecordType};
use crate::resolver;
use hickory_net::client::Client;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_net::{DnsError, NetError};
use hickory_proto::op::update_message::UpdateMessage;
use hickory_proto::op::{DnsRequest, Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{DNSClass, Name, RData};

impl Rfc2136 {
    /// Sends one signed UPDATE for `zone` carrying `records` (already in add or delete form).
    pub(super) fn send_update(
        &self,
        zone: &Name,
        updates: Vec<hickory_proto::rr::Record>,
    ) -> Result<()> {
        let mut message = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Update);
        message.metadata.recursion_desired = false;
        let mut zone_query = Query::new();
        zone_query
            .set_name(zone.clone())
            .set_query_class(DNSClass::IN)
            .set_query_type(hickory_proto::rr::RecordType::SOA);
        message.add_zone(zone_query);
        message.add_updates(updates);
        let mut edns = Edns::new();
        edns.set_max_payload(1232).set_version(0);
        message.set_edns(edns);

        let server = self.settings.server;
        let timeout = self.settings.timeout;
        let signer = self.signer.clone();
        crate::stats::count_dns_query();
        let outcome = self.runtime.block_on(async move {
            let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
                .with_timeout(Some(timeout))
                .with_signer(Some(signer))
                .build();
            let (client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
            let background = tokio::spawn(background);
            // hickory retries a silent server on its own; this bounds the whole exchange.
            let answer = tokio::time::timeout(
                timeout,
                client.send(DnsRequest::from(message)).first_answer(),
            )
            .await;
            background.abort();
            answer
        });
        let response = match outcome {
            // The UPDATE may have arrived and been applied with only the reply lost.
            Err(_) => return Err(self.unavailable(zone, "timed out").with_leftovers()),
            Ok(Err(e)) => return Err(self.net_error(zone, e)),
            Ok(Ok(response)) => response,
        };
        if let Some(signature) = response.signature()
            && let Some(tsig_error) = signature.data.error
        {
            let mut what = format!("{tsig_error:?}");
            if let Some(offset) = clock_offset(&signature.data) {
                what.push_str(&format!(
                    ", this clock is {}s {} the server's",
                    offset.unsigned_abs(),
                    if offset > 0 { "ahead of" } else { "behind" }
                ));
            }
            return Err(self.tsig_rejected(zone, &what));
        }
        match response.response_code {
            ResponseCode::NoError => Ok(()),
            code => Err(self.rcode_error(zone, code)),
        }
    }

    fn unavailable(&self, zone: &Name, why: &str) -> Error {
        Error::unavailable(format!(
            "rfc2136: update of zone {} at {} failed: {why}; check --rfc2136-server and that the primary is up, then retry",
            zone_text(zone),
            self.settings.server
        ))
    }

    fn tsig_rejected(&self, zone: &Name, what: &str) -> Error {
        Error::no_perm(format!(
            "rfc2136: {} rejected the update of zone {} ({what}): tsig authentication failed; check that --tsig-key {} and --tsig-algorithm {} match the server's key, the secret is the right one, and the clock is within {TSIG_FUDGE}s of the server's",
            self.settings.server,
            zone_text(zone),
            self.settings.key_name,
            self.settings.algorithm.to_ascii_lowercase(),
        ))
    }

    fn net_error(&self, zone: &Name, error: NetError) -> Error {
        match error {
            NetError::Timeout => self.unavailable(zone, "timed out").with_leftovers(),
            NetError::Dns(DnsError::ResponseCode(code)) => self.rcode_error(zone, code),
            NetError::Io(e) => self.unavailable(zone, &e.to_string()),
            other => {
                let text = other.to_string();
                let lower = text.to_ascii_lowercase();
                // A rejected signature comes back unsigned (empty MAC); hickory reports that as a
                // protocol error about truncated HMACs rather than as BADSIG (crates.md).
                if lower.contains("hmac") || lower.contains("tsig") {
                    self.tsig_rejected(zone, "unsigned or badly signed answer")
                } else if lower.contains("refused") {
                    self.unavailable(zone, "connection refused")
                } else {
                    self.unavailable(zone, &text)
                }
            }
        }
    }

    fn rcode_error(&self, zone: &Name, code: ResponseCode) -> Error {
        match code {
            ResponseCode::BADSIG => self.tsig_rejected(zone, "BADSIG"),
            ResponseCode::BADKEY => self.tsig_rejected(zone, "BADKEY"),
            ResponseCode::BADTIME => self.tsig_rejected(zone, "BADTIME"),
            ResponseCode::Refused => Error::no_perm(format!(
                "rfc2136: {} refused the update of zone {}; check that key {} may update these names (update-policy / allow-update)",
                self.settings.server,
                zone_text(zone),
                self.settings.key_name
            )),
            ResponseCode::NotAuth | ResponseCode::NotZone => Error::config(format!(
                "rfc2136: {} is not the primary for zone {} ({}): wrong zone or view: pass --rfc2136-zone with the zone that holds the names, and --rfc2136-server with its primary",
                self.settings.server,
                zone_text(zone),
                if code == ResponseCode::NotAuth {
                    "NOTAUTH"
                } else {
                    "NOTZONE"
                }
            )),
            ResponseCode::ServFail => self.unavailable(zone, "SERVFAIL"),
            other => self.unavailable(zone, &format!("server answered {other}")),
        }
    }
}

/// How far this clock is ahead of the server's (negative: behind), from a BADTIME answer, which
/// carries the server's time in its Other Data (RFC 8945 5.2.3; 48 bits), else in Time Signed.
fn clock_offset(tsig: &hickory_proto::rr::rdata::tsig::TSIG) -> Option<i64> {
    if !matches!(
        tsig.error,
        Some(hickory_proto::rr::rdata::tsig::TsigError::BadTime)
    ) {
        return None;
    }
    let server = match tsig.other.as_slice() {
        [a, b, c, d, e, f] => u64::from_be_bytes([0, 0, *a, *b, *c, *d, *e, *f]),
        _ => tsig.time,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(i64::try_from(now).ok()? - i64::try_from(server).ok()?)
}

/// `Config` error unless `zone` contains `name` (hickory asserts this and would panic).
pub(super) fn check_inside(name: &Name, zone: &Name) -> Result<()> {
    if zone.zone_of(name) {
        return Ok(());
    }
    Err(Error::config(format!(
        "rfc2136: {} is not inside zone {}; pass --rfc2136-zone with the zone that holds it",
        zone_text(name),
        zone_text(zone)
    )))
}

pub(super) fn zone_text(name: &Name) -> String {
    resolver::normalize(&name.to_ascii())
}

/// The record's value as hickory record data.
pub(super) fn rdata(record: &Record) -> Result<RData> {
    match record.rtype {
        RecordType::Txt => Ok(RData::TXT(txt(&record.value))),
        RecordType::Cname => Ok(RData::CNAME(CNAME(resolver::fqdn(&record.value)?))),
        RecordType::Http => Err(Error::software(format!("rfc2136 cannot publish {record}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver;

    #[test]
    fn names_outside_the_zone_are_a_config_error_not_a_panic() {
        let name = resolver::fqdn("_acme-challenge.example.org").unwrap();
        let zone = resolver::fqdn("example.com").unwrap();
        let err = check_inside(&name, &zone).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config);
        assert!(err.message().contains("--rfc2136-zone"), "{err}");
        assert!(check_inside(&name, &resolver::fqdn("example.org").unwrap()).is_ok());
    }
}
