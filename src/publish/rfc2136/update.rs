//! Signed UPDATEs to the primary, and what their failures mean: the exchange on the wire and the
//! mapping of every way it can fail to an error kind (TSIG rejected → 77, wrong zone or view → 78,
//! unreachable or SERVFAIL → 69). A timeout leaves the outcome unknown: the UPDATE may have been
//! applied, so the error says so ([`Error::with_leftovers`]) and the state is kept.
//!
//! Size: a change that fits one UDP message (1232 bytes, the EDNS size that needs no fragments)
//! goes over UDP; a larger one over TCP (RFC 2136 allows it, every server accepts it), and one too
//! large for a comfortable TCP message is split into several of at most [`MAX_MESSAGE`] bytes, sent
//! one after another. Nothing is ever cut silently: when a later part of an addition fails, the parts
//! already applied are taken back, so an addition is still all or nothing.

use super::{Rfc2136, TSIG_FUDGE};
use crate::dnsquery::txt;
use crate::error::{Error, Result};
use crate::record::RecordType;
use crate::resolver;
use hickory_net::DnsMultiplexer;
use hickory_net::client::Client;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_net::{DnsError, NetError};
use hickory_proto::op::update_message::UpdateMessage;
use hickory_proto::op::{
    DnsRequest, DnsResponse, Edns, Message, MessageType, OpCode, Query, ResponseCode,
};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{DNSClass, Name, RData};

/// The largest UPDATE sent over UDP: the EDNS payload size that avoids IP fragmentation.
pub(super) const UDP_PAYLOAD: usize = 1232;

/// The largest UPDATE message sent at all (TCP allows 65535; staying well below keeps each
/// message quick for the server to apply and far from every implementation's limits).
pub(super) const MAX_MESSAGE: usize = 16 * 1024;

/// Room for the header, the zone section's type and class, EDNS and the TSIG record's fixed part
/// with its algorithm name and a 64-byte MAC at most; the zone and key names come on top.
const FIXED: usize = 12 + 4 + 11 + 10 + 16 + 24 + 64;

/// Bytes a message for `zone` signed with `key` takes besides its records, at most.
fn overhead(zone: &Name, key: &str) -> usize {
    FIXED + zone.to_ascii().len() + 2 + key.len() + 2
}

/// Bytes `record` takes in an UPDATE at most (names uncompressed).
fn wire_size(record: &hickory_proto::rr::Record) -> usize {
    let name = record.name.to_ascii().len() + 2;
    let data = match &record.data {
        RData::TXT(t) => t.txt_data.iter().map(|s| s.len() + 1).sum::<usize>().max(1),
        RData::CNAME(c) => c.0.to_ascii().len() + 2,
        _ => 512,
    };
    name + 10 + data
}

/// `updates` cut into runs that each fit [`MAX_MESSAGE`] with `overhead`, in order.
fn split(
    updates: Vec<hickory_proto::rr::Record>,
    overhead: usize,
) -> Vec<Vec<hickory_proto::rr::Record>> {
    let mut parts: Vec<Vec<hickory_proto::rr::Record>> = Vec::new();
    let mut size = overhead;
    for record in updates {
        let bytes = wire_size(&record);
        match parts.last_mut() {
            Some(part) if size + bytes <= MAX_MESSAGE => part.push(record),
            _ => {
                size = overhead;
                parts.push(vec![record]);
            }
        }
        size += bytes;
    }
    parts
}

/// Whether `part` fits one UDP message with `overhead`.
fn fits_udp(part: &[hickory_proto::rr::Record], overhead: usize) -> bool {
    overhead + part.iter().map(wire_size).sum::<usize>() <= UDP_PAYLOAD
}

impl Rfc2136 {
    /// Applies `updates` (already in add or delete form) to `zone`: one message when it fits, else
    /// several (see the module docs). An addition that fails part way is taken back; a deletion goes
    /// on with the other parts and reports the first failure (deleting what is absent is harmless,
    /// so cleanup can simply run again).
    pub(super) fn send_update(
        &self,
        zone: &Name,
        updates: Vec<hickory_proto::rr::Record>,
    ) -> Result<()> {
        let adding = updates.iter().any(|r| r.dns_class == DNSClass::IN);
        let overhead = overhead(zone, &self.settings.key_name);
        let parts = split(updates, overhead);
        let mut first_error: Option<Error> = None;
        for (i, part) in parts.iter().enumerate() {
            let Err(error) = self.send_message(zone, part.clone()) else {
                continue;
            };
            if !adding {
                first_error.get_or_insert(error);
                continue;
            }
            if i == 0 {
                return Err(error);
            }
            // Take back the parts already applied, newest first.
            let applied: Vec<hickory_proto::rr::Record> = parts[..i]
                .iter()
                .flatten()
                .map(|r| {
                    let mut delete = r.clone();
                    delete.dns_class = DNSClass::NONE;
                    delete.ttl = 0;
                    delete
                })
                .collect();
            let undo = split(applied, overhead)
                .into_iter()
                .try_for_each(|part| self.send_message(zone, part));
            let what = format!("the first {i} part(s) of the update");
            return Err(crate::publish::rolled_back(error, undo, &what));
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Sends one signed UPDATE message for `zone`: over UDP when it fits, else over TCP.
    fn send_message(&self, zone: &Name, updates: Vec<hickory_proto::rr::Record>) -> Result<()> {
        let udp = fits_udp(&updates, overhead(zone, &self.settings.key_name));
        let message = update_message(zone, updates);
        let server = self.settings.server;
        let timeout = self.settings.timeout;
        let signer = self.signer.clone();
        crate::stats::count_dns_query();
        let outcome = self.runtime.block_on(async move {
            // hickory retries a silent server on its own; this bounds the whole exchange, the TCP
            // connection included.
            tokio::time::timeout(timeout, async move {
                let request = DnsRequest::from(message);
                if udp {
                    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
                        .with_timeout(Some(timeout))
                        .with_signer(Some(signer))
                        .build();
                    let (client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
                    let background = tokio::spawn(background);
                    let answer = client.send(request).first_answer().await;
                    background.abort();
                    answer
                } else {
                    let (connect, handle) = TcpClientStream::new(
                        server,
                        None,
                        Some(timeout),
                        TokioRuntimeProvider::default(),
                    );
                    let stream = connect.await?;
                    let multiplexer = DnsMultiplexer::new(stream, handle)
                        .with_timeout(timeout)
                        .with_signer(signer);
                    let (client, background) =
                        Client::<TokioRuntimeProvider>::from_sender(multiplexer);
                    let background = tokio::spawn(background);
                    let answer = client.send(request).first_answer().await;
                    background.abort();
                    answer
                }
            })
            .await
        });
        let response = match outcome {
            // The UPDATE may have arrived and been applied with only the reply lost.
            Err(_) => return Err(self.unavailable(zone, "timed out").with_leftovers()),
            Ok(Err(e)) => return Err(self.net_error(zone, e)),
            Ok(Ok(response)) => response,
        };
        self.check_tsig(zone, &response)?;
        match response.response_code {
            ResponseCode::NoError => Ok(()),
            code => Err(self.rcode_error(zone, code)),
        }
    }

    /// The server's TSIG error, if it reported one, with how far our clock is off when it says.
    fn check_tsig(&self, zone: &Name, response: &DnsResponse) -> Result<()> {
        let Some(signature) = response.signature() else {
            return Ok(());
        };
        let Some(tsig_error) = signature.data.error else {
            return Ok(());
        };
        let mut what = format!("{tsig_error:?}");
        if let Some(offset) = clock_offset(&signature.data) {
            what.push_str(&format!(
                ", this clock is {}s {} the server's",
                offset.unsigned_abs(),
                if offset > 0 { "ahead of" } else { "behind" }
            ));
        }
        Err(self.tsig_rejected(zone, &what))
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

/// A record's value as hickory record data of `rtype`.
pub(super) fn rdata(rtype: RecordType, value: &str) -> Result<RData> {
    match rtype {
        RecordType::Txt => Ok(RData::TXT(txt(value))),
        RecordType::Cname => Ok(RData::CNAME(CNAME(resolver::fqdn(value)?))),
    }
}

/// The UPDATE message for `zone` carrying `updates` (EDNS, so a UDP answer may be large).
fn update_message(zone: &Name, updates: Vec<hickory_proto::rr::Record>) -> Message {
    let mut message = Message::new(crate::random::u16(), MessageType::Query, OpCode::Update);
    message.metadata.recursion_desired = false;
    let mut zone_query = Query::new();
    zone_query
        .set_name(zone.clone())
        .set_query_class(DNSClass::IN)
        .set_query_type(hickory_proto::rr::RecordType::SOA);
    message.add_zone(zone_query);
    message.add_updates(updates);
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD as u16).set_version(0);
    message.set_edns(edns);
    message
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

    #[test]
    fn a_large_change_is_split_into_bounded_messages_keeping_every_record_in_order() {
        let name = resolver::fqdn("_dnsauth.example.com").unwrap();
        let records: Vec<hickory_proto::rr::Record> = (0..1000)
            .map(|i| {
                let value = format!("{i:04}{}", "x".repeat(246));
                hickory_proto::rr::Record::from_rdata(name.clone(), 60, RData::TXT(txt(&value)))
            })
            .collect();
        let overhead = overhead(&name, "dcv-key");
        let parts = split(records.clone(), overhead);
        assert!(parts.len() > 1);
        for part in &parts {
            let size = overhead + part.iter().map(wire_size).sum::<usize>();
            assert!(size <= MAX_MESSAGE, "{size}");
            // The estimate is an upper bound of what goes on the wire.
            let mut message = Message::new(1, MessageType::Query, OpCode::Update);
            message.add_updates(part.clone());
            assert!(message.to_vec().unwrap().len() <= size);
        }
        assert_eq!(parts.concat(), records);
        assert!(fits_udp(&records[..2], overhead));
        assert!(!fits_udp(&records[..5], overhead));
    }
}
