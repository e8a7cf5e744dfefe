//! One DNS question to one chosen server address, the way an authoritative server must be asked:
//! recursion desired off, UDP first, TCP again when the answer comes back truncated.
//!
//! This owns only the exchange on the wire. It is plain blocking std sockets with a deadline, no async
//! runtime, so it is cheap enough for one propagation probe per (record, server address) on its own
//! thread. It never interprets the answer beyond matching it to the question (callers decide what
//! NXDOMAIN or an empty answer means) and never talks to a recursive resolver (see `resolver.rs`).
//! It also holds the one definition of how a [`Record`]'s value maps to record data and back
//! ([`txt`], [`txt_text`], [`matches`]), shared by the publisher and the propagation check.

use crate::record::{Record, RecordType as Kind};
use crate::resolver;
use crate::stats;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, RecordType};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// The one mapping from a [`Record`]'s DNS type to hickory's.
pub fn hickory_type(kind: Kind) -> RecordType {
    match kind {
        Kind::Txt => RecordType::TXT,
        Kind::Cname => RecordType::CNAME,
    }
}

/// The EDNS payload size we advertise: the DNS Flag Day 2020 value, small enough to avoid fragments.
const EDNS_PAYLOAD: u16 = 1232;

/// Why a question got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// No answer before the deadline.
    Timeout,
    /// The server refused the connection (nothing listens on that port, ICMP port unreachable).
    Refused,
    /// Any other network error.
    Io(String),
    /// The answer could not be decoded or did not match the question.
    Malformed(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Timeout => f.write_str("timeout"),
            QueryError::Refused => f.write_str("connection refused"),
            QueryError::Io(e) => write!(f, "network error: {e}"),
            QueryError::Malformed(e) => write!(f, "malformed answer: {e}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<io::Error> for QueryError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => QueryError::Timeout,
            io::ErrorKind::ConnectionRefused => QueryError::Refused,
            _ => QueryError::Io(e.to_string()),
        }
    }
}

/// Asks `server` for `rtype` records at `name` with recursion desired off, giving up after `timeout`
/// in total (UDP and any TCP retry together). Returns the whole response, whatever its response code.
pub fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, QueryError> {
    let deadline = Instant::now() + timeout;
    let (request, bytes) = encoded(name, rtype, false)?;
    let response = ask(server, &bytes, &request, deadline, false)?;
    if !response.metadata.truncation {
        return Ok(response);
    }
    // A truncated UDP answer may lack exactly the value we look for: ask the whole answer over TCP.
    ask(server, &bytes, &request, deadline, true)
}

/// Asks `server` once over one transport only (UDP: a truncated answer comes back as it is, TC set;
/// TCP: the whole answer), for checks that judge each transport on its own (the doctor).
pub fn query_over(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
    tcp: bool,
) -> Result<Message, QueryError> {
    let (request, bytes) = encoded(name, rtype, false)?;
    ask(server, &bytes, &request, Instant::now() + timeout, tcp)
}

/// Sends the encoded `request` once over TCP or UDP, counted as one query.
fn ask(
    server: SocketAddr,
    bytes: &[u8],
    request: &Message,
    deadline: Instant,
    tcp: bool,
) -> Result<Message, QueryError> {
    stats::count_dns_query();
    if tcp {
        over_tcp(server, bytes, request, deadline)
    } else {
        over_udp(server, bytes, request, deadline)
    }
}

/// Asks `server` over TCP with the DNSSEC OK bit set, so the answer carries its RRSIGs (the doctor's
/// DNSSEC checks; TCP because signed answers are large).
pub fn query_dnssec(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, QueryError> {
    let (request, bytes) = encoded(name, rtype, true)?;
    ask(server, &bytes, &request, Instant::now() + timeout, true)
}

/// The question (DNSSEC OK when `dnssec`) and its wire form.
fn encoded(name: &Name, rtype: RecordType, dnssec: bool) -> Result<(Message, Vec<u8>), QueryError> {
    let mut message = Message::new(crate::random::u16(), MessageType::Query, OpCode::Query);
    // Authoritative servers must answer from their own data; RD would invite a recursive answer.
    message.metadata.recursion_desired = false;
    let mut fqdn = name.clone();
    fqdn.set_fqdn(true);
    message.add_query(Query::query(fqdn, rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD)
        .set_version(0)
        .set_dnssec_ok(dnssec);
    message.set_edns(edns);
    let bytes = message
        .to_vec()
        .map_err(|e| QueryError::Malformed(format!("cannot encode the question: {e}")))?;
    Ok((message, bytes))
}

/// Time left before `deadline`, or `Timeout` when it has passed (a zero socket timeout means "forever").
fn remaining(deadline: Instant) -> Result<Duration, QueryError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(QueryError::Timeout);
    }
    Ok(left)
}

fn over_udp(
    server: SocketAddr,
    bytes: &[u8],
    request: &Message,
    deadline: Instant,
) -> Result<Message, QueryError> {
    let local: IpAddr = if server.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let socket = UdpSocket::bind((local, 0))?;
    // Connected, so the kernel drops datagrams from other sources and reports ICMP refusals to us.
    socket.connect(server)?;
    socket.send(bytes)?;
    let mut buf = vec![0u8; 65535];
    loop {
        socket.set_read_timeout(Some(remaining(deadline)?))?;
        let len = socket.recv(&mut buf)?;
        match matching_response(&buf[..len], request) {
            Ok(Some(message)) => return Ok(message),
            // A stray or spoofed datagram: keep waiting for ours until the deadline.
            Ok(None) | Err(_) => continue,
        }
    }
}

fn over_tcp(
    server: SocketAddr,
    bytes: &[u8],
    request: &Message,
    deadline: Instant,
) -> Result<Message, QueryError> {
    let mut stream = TcpStream::connect_timeout(&server, remaining(deadline)?)?;
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    let len = u16::try_from(bytes.len())
        .map_err(|_| QueryError::Malformed("question too long for TCP".into()))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed)?;
    let mut len = [0u8; 2];
    read_exact_by(&mut stream, &mut len, deadline)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_exact_by(&mut stream, &mut buf, deadline)?;
    match matching_response(&buf, request)? {
        Some(message) => Ok(message),
        None => Err(QueryError::Malformed(
            "the TCP answer does not match the question".into(),
        )),
    }
}

/// Fills `buf` from `stream` by `deadline`. A socket timeout counts from each read, so it is set
/// again to what is left before every one: a server trickling a byte at a time cannot stretch it.
fn read_exact_by(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<(), QueryError> {
    let mut filled = 0;
    while filled < buf.len() {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(QueryError::Io(
                    "the server closed the TCP connection mid-answer".into(),
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Decodes `bytes`; `None` when it is not the response to `request` (other id or question).
fn matching_response(bytes: &[u8], request: &Message) -> Result<Option<Message>, QueryError> {
    let message = Message::from_vec(bytes).map_err(|e| QueryError::Malformed(e.to_string()))?;
    let same = message.metadata.id == request.metadata.id
        && message.metadata.message_type == MessageType::Response
        && message.queries == request.queries;
    Ok(same.then_some(message))
}

/// A TXT value as character-strings of at most 255 bytes (RFC 1035 3.3.14); readers concatenate them.
pub fn txt(value: &str) -> TXT {
    let strings = crate::record::txt_strings(value);
    TXT::from_bytes(strings.iter().map(|s| s.as_bytes()).collect())
}

/// The text of a TXT record: its character-strings joined, as DCV checkers read it.
pub fn txt_text(txt: &TXT) -> String {
    let bytes: Vec<u8> = txt
        .txt_data
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether `data` is exactly `record`'s value (TXT: same text; CNAME: same target, any case; an
/// HTTP file is no DNS data).
pub fn matches(record: &Record, data: &RData) -> bool {
    match (record.dns_type(), data) {
        (Some(Kind::Txt), RData::TXT(t)) => txt_text(t) == record.value,
        (Some(Kind::Cname), RData::CNAME(c)) => {
            resolver::normalize(&c.0.to_ascii()) == resolver::normalize(&record.value)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn asks_without_recursion_and_with_edns() {
        let name = Name::from_str("example.test").unwrap();
        let (m, _) = encoded(&name, RecordType::TXT, false).unwrap();
        assert!(!m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name().to_ascii(), "example.test.");
        assert_eq!(m.max_payload(), EDNS_PAYLOAD);
    }

    #[test]
    fn long_txt_values_are_split_and_joined() {
        let long = "x".repeat(300);
        let t = txt(&long);
        assert_eq!(t.txt_data.len(), 2);
        assert_eq!(txt_text(&t), long);
    }

    #[test]
    fn silent_server_times_out_within_budget() {
        // A bound socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let name = Name::from_str("example.test").unwrap();
        let started = Instant::now();
        let err = query(
            silent.local_addr().unwrap(),
            &name,
            RecordType::TXT,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(err, QueryError::Timeout);
        // 200 ms asked; 5 s leaves room for a loaded machine and still catches a wait without end.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn closed_port_is_refused() {
        let addr = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The socket is dropped: nothing listens there any more.
        let name = Name::from_str("example.test").unwrap();
        let err = query(addr, &name, RecordType::TXT, Duration::from_secs(2)).unwrap_err();
        assert_eq!(err, QueryError::Refused);
    }

    #[test]
    fn a_tcp_answer_trickling_in_gets_one_overall_timeout() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // Announces 1000 bytes, then sends one every 50 ms: each read is quick, the answer never.
            let _ = stream.write_all(&1000u16.to_be_bytes());
            while stream.write_all(&[0]).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let name = Name::from_str("example.test").unwrap();
        let (question, bytes) = encoded(&name, RecordType::TXT, false).unwrap();
        let deadline = Instant::now() + Duration::from_millis(300);
        assert_eq!(
            over_tcp(server, &bytes, &question, deadline).unwrap_err(),
            QueryError::Timeout
        );
    }
}
