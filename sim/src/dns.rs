//! A tiny authoritative DNS server (`MiniDns`) and a blocking DNS client (`query`).
//!
//! `MiniDns` owns an in-memory record set and answers over UDP and TCP on one loopback port: with
//! AA set for names under the zones it holds an SOA for, the zone SOA in the authority section for
//! NXDOMAIN and NODATA, CNAMEs in the answer (chased through its own data) and REFUSED for anything
//! else. It also answers queries with RD set, so one instance can act as the "resolver" of a test
//! as well as every authoritative server. It does no recursion, no delegation, no DNSSEC, no
//! zone transfer. `query` is the one client the simulator and the tests share: UDP first, TCP
//! when the answer comes back truncated.

use std::io::{self, Read, Write};
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _, UdpSocket,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use hickory_proto::op::{Message, ResponseCode};
pub use hickory_proto::rr::{Name, RData, RecordType};

use hickory_proto::op::{Edns, MessageType, OpCode, Query};
use hickory_proto::rr::Record;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};

use crate::serve::require_loopback;

/// TTL of every record served: short, as a test zone would use.
const TTL: u32 = 60;
/// How many CNAME hops `MiniDns` follows inside its own data before it stops chasing.
const MAX_CNAME_HOPS: usize = 8;
/// Largest UDP answer without EDNS (RFC 1035).
const CLASSIC_UDP_SIZE: usize = 512;
/// The EDNS buffer size the client advertises (the DNS flag day 2020 value).
const CLIENT_UDP_SIZE: u16 = 1232;

/// The data of one record. Names are written without or with the trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// One TXT value (split into 255-byte strings on the wire).
    Txt(String),
    /// Canonical name (target).
    Cname(String),
    /// Name server name.
    Ns(String),
    /// Start of authority: makes the owner name a zone this server is authoritative for.
    Soa {
        /// Primary name server.
        mname: String,
        /// Responsible mailbox, as a name.
        rname: String,
        /// Zone serial.
        serial: u32,
        /// Negative-caching TTL.
        minimum: u32,
    },
}

impl RecordData {
    /// An SOA with `mname` as primary and test-friendly timers.
    pub fn soa(mname: &str) -> RecordData {
        RecordData::Soa {
            mname: mname.to_string(),
            rname: "hostmaster.invalid".to_string(),
            serial: 1,
            minimum: TTL,
        }
    }

    /// The record type this data is served as.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::AAAA,
            RecordData::Txt(_) => RecordType::TXT,
            RecordData::Cname(_) => RecordType::CNAME,
            RecordData::Ns(_) => RecordType::NS,
            RecordData::Soa { .. } => RecordType::SOA,
        }
    }

    fn to_rdata(&self) -> io::Result<RData> {
        Ok(match self {
            RecordData::A(ip) => RData::A(A(*ip)),
            RecordData::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
            // A character-string holds at most 255 bytes; longer values are split the way zone
            // files do, and readers concatenate them again.
            RecordData::Txt(value) => RData::TXT(TXT::from_bytes(
                value.as_bytes().chunks(255).collect::<Vec<_>>(),
            )),
            RecordData::Cname(target) => RData::CNAME(CNAME(fqdn(target)?)),
            RecordData::Ns(target) => RData::NS(NS(fqdn(target)?)),
            RecordData::Soa {
                mname,
                rname,
                serial,
                minimum,
            } => RData::SOA(SOA::new(
                fqdn(mname)?,
                fqdn(rname)?,
                *serial,
                3600,
                600,
                86400,
                *minimum,
            )),
        })
    }
}

/// One query `MiniDns` received, for tests that assert how they were asked (e.g. RD off).
#[derive(Clone, Debug)]
pub struct DnsQueryLog {
    /// Queried name, lowercase, with the trailing dot.
    pub name: String,
    /// Queried type.
    pub rtype: RecordType,
    /// The RD bit of the query.
    pub recursion_desired: bool,
    /// Whether it came over TCP.
    pub tcp: bool,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct Zone {
    records: Mutex<Vec<(Name, RecordData)>>,
    queries: Mutex<Vec<DnsQueryLog>>,
    truncate_udp: AtomicBool,
}

/// A small authoritative DNS server on one loopback port (UDP and TCP). Stops on Drop.
pub struct MiniDns {
    addr: SocketAddr,
    zone: Arc<Zone>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl MiniDns {
    /// Listens on `addr` (loopback only; port 0 picks a port free for both UDP and TCP).
    pub fn start(addr: SocketAddr) -> io::Result<MiniDns> {
        require_loopback(addr)?;
        let (udp, tcp) = bind_pair(addr)?;
        let addr = udp.local_addr()?;
        let zone = Arc::new(Zone::default());
        let stop = Arc::new(AtomicBool::new(false));
        let udp_thread = {
            let (zone, stop) = (Arc::clone(&zone), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(format!("minidns-udp-{addr}"))
                .spawn(move || serve_udp(udp, &zone, &stop))?
        };
        let tcp_thread = {
            let (zone, stop) = (Arc::clone(&zone), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(format!("minidns-tcp-{addr}"))
                .spawn(move || serve_tcp(tcp, &zone, &stop))?
        };
        Ok(MiniDns {
            addr,
            zone,
            stop,
            threads: vec![udp_thread, tcp_thread],
        })
    }

    /// The address it listens on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a record. An SOA makes its owner a zone. Panics on a name that is not a valid DNS
    /// name, which in test support is a bug in the test.
    pub fn add(&self, name: &str, data: RecordData) {
        let name = fqdn(name).unwrap_or_else(|e| panic!("MiniDns::add({name:?}): {e}"));
        let mut records = self.zone.records.lock().unwrap();
        if !records.iter().any(|(n, d)| *n == name && *d == data) {
            records.push((name, data));
        }
    }

    /// Removes one record; true when it was there.
    pub fn remove(&self, name: &str, data: &RecordData) -> bool {
        let Ok(name) = fqdn(name) else { return false };
        let mut records = self.zone.records.lock().unwrap();
        let before = records.len();
        records.retain(|(n, d)| !(*n == name && d == data));
        records.len() != before
    }

    /// Removes every record at `name`; returns how many went.
    pub fn remove_all(&self, name: &str) -> usize {
        let Ok(name) = fqdn(name) else { return 0 };
        let mut records = self.zone.records.lock().unwrap();
        let before = records.len();
        records.retain(|(n, _)| *n != name);
        before - records.len()
    }

    /// The records at `name`, in insertion order.
    pub fn records(&self, name: &str) -> Vec<RecordData> {
        let Ok(name) = fqdn(name) else {
            return Vec::new();
        };
        let records = self.zone.records.lock().unwrap();
        records
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// When on, every UDP answer comes back empty with TC set, forcing clients onto TCP.
    pub fn set_truncate_udp(&self, on: bool) {
        self.zone.truncate_udp.store(on, Ordering::SeqCst);
    }

    /// Every query received so far.
    pub fn queries(&self) -> Vec<DnsQueryLog> {
        self.zone.queries.lock().unwrap().clone()
    }
}

impl Drop for MiniDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Both threads block in recv/accept; one datagram and one connection wake them to see
        // the stop flag, after which their sockets are dropped and so closed.
        if let Ok(socket) = UdpSocket::bind(unspecified_for(self.addr)) {
            let _ = socket.send_to(&[0], self.addr);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Binds UDP and TCP on the same port. With port 0 the kernel picks the TCP port, which may be
/// taken for UDP, so a few picks are tried.
fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..16 {
        let tcp = TcpListener::bind(addr)?;
        match UdpSocket::bind(tcp.local_addr()?) {
            Ok(udp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port for UDP and TCP")))
}

fn serve_udp(socket: UdpSocket, zone: &Zone, stop: &AtomicBool) {
    let mut buf = [0u8; 4096];
    loop {
        let received = socket.recv_from(&mut buf);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok((len, peer)) = received else { continue };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let response = zone.answer(&request, false);
        let limit = request
            .edns
            .as_ref()
            .map_or(CLASSIC_UDP_SIZE, |e| usize::from(e.max_payload()))
            .max(CLASSIC_UDP_SIZE);
        let Ok(mut bytes) = response.to_vec() else {
            continue;
        };
        if bytes.len() > limit || zone.truncate_udp.load(Ordering::SeqCst) {
            let mut truncated = response.truncate();
            truncated.metadata.truncation = true;
            match truncated.to_vec() {
                Ok(b) => bytes = b,
                Err(_) => continue,
            }
        }
        let _ = socket.send_to(&bytes, peer);
    }
}

fn serve_tcp(listener: TcpListener, zone: &Arc<Zone>, stop: &Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (zone, stop) = (Arc::clone(zone), Arc::clone(stop));
        // One short-lived thread per connection; a read timeout bounds how long it can outlive
        // the server.
        let _ = std::thread::Builder::new()
            .name("minidns-tcp-conn".into())
            .spawn(move || serve_tcp_connection(stream, &zone, &stop));
    }
}

fn serve_tcp_connection(mut stream: TcpStream, zone: &Zone, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    while !stop.load(Ordering::SeqCst) {
        let Ok(request) = read_tcp_message(&mut stream) else {
            return;
        };
        let Ok(request) = Message::from_vec(&request) else {
            return;
        };
        let Ok(bytes) = zone.answer(&request, true).to_vec() else {
            return;
        };
        if write_tcp_message(&mut stream, &bytes).is_err() {
            return;
        }
    }
}

impl Zone {
    fn answer(&self, request: &Message, tcp: bool) -> Message {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        if request.metadata.op_code != OpCode::Query || request.queries.len() != 1 {
            response.metadata.response_code = ResponseCode::NotImp;
            return response;
        }
        let query = request.queries[0].clone();
        response.add_query(query.clone());
        let qname = query.name().to_lowercase();
        let qtype = query.query_type();
        self.queries.lock().unwrap().push(DnsQueryLog {
            name: qname.to_ascii(),
            rtype: qtype,
            recursion_desired: request.metadata.recursion_desired,
            tcp,
            at: Instant::now(),
        });

        let records = self.records.lock().unwrap();
        if zone_of(&records, &qname).is_none() {
            response.metadata.response_code = ResponseCode::Refused;
            return response;
        }
        response.metadata.authoritative = true;

        let mut name = qname;
        for _ in 0..=MAX_CNAME_HOPS {
            let here: Vec<&RecordData> = records
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, d)| d)
                .collect();
            let matching: Vec<&RecordData> = here
                .iter()
                .copied()
                .filter(|d| qtype == RecordType::ANY || d.record_type() == qtype)
                .collect();
            if !matching.is_empty() {
                for data in matching {
                    push_record(&mut response.answers, &name, data);
                }
                return response;
            }
            let cname = here.iter().find_map(|d| match d {
                RecordData::Cname(target) => Some((*d, target)),
                _ => None,
            });
            if let Some((data, target)) = cname {
                push_record(&mut response.answers, &name, data);
                match fqdn(target) {
                    // Chase only inside our own zones; a target elsewhere is the client's job.
                    Ok(target) if zone_of(&records, &target).is_some() => {
                        name = target.to_lowercase();
                        continue;
                    }
                    _ => return response,
                }
            }
            // No data of this type here: NODATA when the name (or something below it) exists,
            // NXDOMAIN otherwise; both carry the zone SOA so resolvers can cache the negative.
            let exists = records.iter().any(|(n, _)| name.zone_of(n));
            if !exists {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Some((zone_name, soa)) = zone_of(&records, &name) {
                push_record(&mut response.authorities, &zone_name, &soa);
            }
            return response;
        }
        // CNAME loop or a chain longer than we chase: answer with what we have.
        response
    }
}

fn push_record(section: &mut Vec<Record>, name: &Name, data: &RecordData) {
    if let Ok(rdata) = data.to_rdata() {
        section.push(Record::from_rdata(name.clone(), TTL, rdata));
    }
}

/// The closest enclosing zone (deepest SOA owner) of `name`, with its SOA.
fn zone_of(records: &[(Name, RecordData)], name: &Name) -> Option<(Name, RecordData)> {
    records
        .iter()
        .filter(|(n, d)| matches!(d, RecordData::Soa { .. }) && n.zone_of(name))
        .max_by_key(|(n, _)| n.num_labels())
        .map(|(n, d)| (n.clone(), d.clone()))
}

/// Parses a name as fully qualified and lowercase.
fn fqdn(name: &str) -> io::Result<Name> {
    let text = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&text)
        .map(|n| n.to_lowercase())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?}: {e}")))
}

fn unspecified_for(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(v4) if v4.ip().is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(v6) if v6.ip().is_loopback() => (Ipv6Addr::LOCALHOST, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// Asks `server` one question and returns its answer: over UDP, and again over TCP when the
/// UDP answer is truncated. `timeout` bounds each transport. A timeout is `ErrorKind::TimedOut`;
/// DNS errors (NXDOMAIN, REFUSED) are answers, read from `metadata.response_code`.
pub fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    recursion_desired: bool,
    timeout: Duration,
) -> io::Result<Message> {
    let mut request = Message::query();
    request.metadata.id = fastrand::u16(..);
    request.metadata.recursion_desired = recursion_desired;
    request.add_query(Query::query(fqdn(name)?, rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(CLIENT_UDP_SIZE);
    request.set_edns(edns);
    let bytes = request.to_vec().map_err(io::Error::other)?;

    let response = query_udp(server, &bytes, request.metadata.id, timeout)?;
    if !response.metadata.truncation {
        return Ok(response);
    }
    query_tcp(server, &bytes, request.metadata.id, timeout)
}

fn query_udp(server: SocketAddr, bytes: &[u8], id: u16, timeout: Duration) -> io::Result<Message> {
    let socket = UdpSocket::bind(unspecified_for(server))?;
    socket.connect(server)?;
    socket.send(bytes)?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no DNS answer from {server} within {timeout:?}"),
            ));
        }
        socket.set_read_timeout(Some(left))?;
        let len = match socket.recv(&mut buf) {
            Ok(len) => len,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock) => continue,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(e) => return Err(e),
        };
        // Stray or spoofed datagrams (wrong id, not a response) are skipped, as resolvers do.
        if let Ok(message) = Message::from_vec(&buf[..len])
            && message.metadata.id == id
            && message.metadata.message_type == MessageType::Response
        {
            return Ok(message);
        }
    }
}

fn query_tcp(server: SocketAddr, bytes: &[u8], id: u16, timeout: Duration) -> io::Result<Message> {
    let mut stream = TcpStream::connect_timeout(&server, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write_tcp_message(&mut stream, bytes)?;
    let answer = read_tcp_message(&mut stream)?;
    let message = Message::from_vec(&answer)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    if message.metadata.id != id {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "DNS answer over TCP has the wrong id",
        ));
    }
    Ok(message)
}

fn read_tcp_message(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message)?;
    Ok(message)
}

fn write_tcp_message(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "DNS message over 64 KiB"))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed)
}

/// Parses `host:port` or a bare IP (port 53) into a socket address, for callers holding strings.
pub fn server_addr(text: &str) -> io::Result<SocketAddr> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    text.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))
}

/// The TXT values in an answer owned by `name` (or by the end of a CNAME chain from it), each
/// value's strings concatenated.
pub fn txt_values(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// The CNAME target the answer gives for `name`, lowercase without the trailing dot.
pub fn cname_target(message: &Message, name: &str) -> Option<String> {
    let name = fqdn(name).ok()?;
    message.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(CNAME(target)) if r.name == name => Some(plain(target)),
        _ => None,
    })
}

/// The addresses (A and AAAA) in an answer, whoever owns them.
pub fn addresses(message: &Message) -> Vec<std::net::IpAddr> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(A(ip)) => Some((*ip).into()),
            RData::AAAA(AAAA(ip)) => Some((*ip).into()),
            _ => None,
        })
        .collect()
}

/// A name as text: lowercase, without the trailing dot.
pub fn plain(name: &Name) -> String {
    name.to_lowercase()
        .to_ascii()
        .trim_end_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(2);

    fn server() -> MiniDns {
        let dns = MiniDns::start("127.0.0.1:0".parse().unwrap()).unwrap();
        dns.add("example.test", RecordData::soa("ns1.example.test"));
        dns.add("example.test", RecordData::Ns("ns1.example.test".into()));
        dns.add("ns1.example.test", RecordData::A(Ipv4Addr::LOCALHOST));
        dns.add(
            "www.example.test",
            RecordData::A(Ipv4Addr::new(127, 77, 0, 1)),
        );
        dns.add("example.test", RecordData::Txt("hello".into()));
        dns.add(
            "alias.example.test",
            RecordData::Cname("www.example.test".into()),
        );
        dns
    }

    #[test]
    fn answers_a_authoritatively() {
        let dns = server();
        let m = query(dns.addr(), "WWW.example.test", RecordType::A, false, T).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(addresses(&m), vec![std::net::IpAddr::from([127, 77, 0, 1])]);
    }

    #[test]
    fn answers_txt() {
        let dns = server();
        let m = query(dns.addr(), "example.test", RecordType::TXT, false, T).unwrap();
        assert_eq!(txt_values(&m), vec!["hello".to_string()]);
    }

    #[test]
    fn long_txt_round_trips() {
        let dns = server();
        let long = "x".repeat(300);
        dns.add("long.example.test", RecordData::Txt(long.clone()));
        let m = query(dns.addr(), "long.example.test", RecordType::TXT, false, T).unwrap();
        assert_eq!(txt_values(&m), vec![long]);
    }

    #[test]
    fn chases_cname_in_answer() {
        let dns = server();
        let m = query(dns.addr(), "alias.example.test", RecordType::A, true, T).unwrap();
        assert_eq!(
            cname_target(&m, "alias.example.test").as_deref(),
            Some("www.example.test")
        );
        assert_eq!(addresses(&m).len(), 1);
    }

    #[test]
    fn nxdomain_and_nodata_carry_soa() {
        let dns = server();
        let m = query(dns.addr(), "nope.example.test", RecordType::A, false, T).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.authoritative);
        assert!(matches!(m.authorities[0].data, RData::SOA(_)));
        assert_eq!(plain(&m.authorities[0].name), "example.test");

        let m = query(dns.addr(), "www.example.test", RecordType::TXT, false, T).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert!(matches!(m.authorities[0].data, RData::SOA(_)));
    }

    #[test]
    fn refuses_names_outside_its_zones() {
        let dns = server();
        let m = query(dns.addr(), "example.com", RecordType::A, true, T).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(!m.metadata.authoritative);
    }

    #[test]
    fn remove_takes_a_record_away() {
        let dns = server();
        assert!(dns.remove("example.test", &RecordData::Txt("hello".into())));
        let m = query(dns.addr(), "example.test", RecordType::TXT, false, T).unwrap();
        assert!(txt_values(&m).is_empty());
        assert!(!dns.remove("example.test", &RecordData::Txt("hello".into())));
    }

    #[test]
    fn truncated_udp_falls_back_to_tcp() {
        let dns = server();
        dns.set_truncate_udp(true);
        let m = query(dns.addr(), "example.test", RecordType::TXT, false, T).unwrap();
        assert_eq!(txt_values(&m), vec!["hello".to_string()]);
        let log = dns.queries();
        assert_eq!(log.len(), 2);
        assert!(!log[0].tcp && log[1].tcp);
        assert!(!log[1].recursion_desired);
    }

    #[test]
    fn refuses_non_loopback_and_stops_on_drop() {
        assert!(MiniDns::start("0.0.0.0:0".parse().unwrap()).is_err());
        let dns = server();
        let addr = dns.addr();
        drop(dns);
        // The port is free again for both transports once the server is gone.
        TcpListener::bind(addr).unwrap();
        UdpSocket::bind(addr).unwrap();
    }
}
