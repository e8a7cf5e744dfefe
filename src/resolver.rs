//! Questions for the recursive resolver (`--resolver`, else /etc/resolv.conf): which zone holds a name,
//! where a CNAME chain ends, which nameservers a zone has, which addresses a host has.
//!
//! Blocking wrappers around hickory-resolver driven by a private current-thread tokio runtime, so the
//! rest of dcv-hook stays synchronous. hickory's TTL cache is off; instead each answer is remembered
//! for the life of this `Resolver` (one command), so a run of 100 names in two zones asks for each
//! zone's SOA, NS and addresses once, not 100 times. Nothing asked here is what dcv-hook itself
//! changes: published records are only ever checked on the authoritative servers (`dnsquery`).

use crate::error::{Error, Result};
use crate::stats;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// Most CNAME hops followed before giving up on a loop (lego caps at 50; real chains are short).
const MAX_CNAME_HOPS: usize = 16;

/// A blocking DNS resolver.
pub struct Resolver {
    runtime: tokio::runtime::Runtime,
    inner: TokioResolver,
    description: String,
    answers: Mutex<HashMap<(String, RecordType), Vec<Record>>>,
    /// Set by [`Resolver::remembering_silence`]: the failure of the first question the resolver
    /// left unanswered (a timeout, no connection), returned at once for every later question.
    silence: Option<Mutex<Option<String>>>,
}

impl Resolver {
    /// Uses `servers` (port 53 unless given), or the system configuration when empty.
    pub fn new(servers: &[SocketAddr]) -> Result<Self> {
        let runtime = crate::runtime::current_thread("resolver")?;
        let mut options = ResolverOpts::default();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        options.try_tcp_on_error = true;
        let (builder, description) = if servers.is_empty() {
            let builder = TokioResolver::builder_tokio().map_err(|e| {
                Error::config(format!(
                    "cannot read /etc/resolv.conf ({e}); give --resolver IP[:PORT]"
                ))
            })?;
            (builder, "the system resolver".to_string())
        } else {
            let name_servers = servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            let config = ResolverConfig::from_name_servers(name_servers);
            let list: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
            (
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default()),
                format!("resolver {}", list.join(", ")),
            )
        };
        // Built inside the runtime, which the resolver's connections belong to.
        let inner = runtime
            .block_on(async { builder.with_options(options).build() })
            .map_err(|e| Error::config(format!("cannot set up the resolver: {e}")))?;
        Ok(Resolver {
            runtime,
            inner,
            description,
            answers: Mutex::new(HashMap::new()),
            silence: None,
        })
    }

    /// This resolver, giving up at once on every question after the first it left unanswered, so
    /// a silent resolver costs its timeout once per run rather than once per question (the
    /// doctor: many questions, each worth asking only while the resolver answers). Not for a long
    /// run that should outlive a brief outage.
    pub fn remembering_silence(mut self) -> Self {
        self.silence = Some(Mutex::new(None));
        self
    }

    /// Records of `rtype` at `name` (the answer section, CNAMEs included); empty when the name or type
    /// does not exist.
    pub fn lookup(&self, name: &str, rtype: RecordType) -> Result<Vec<Record>> {
        let key = (normalize(name), rtype);
        if let Some(known) = self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(known.clone());
        }
        let fqdn = fqdn(name)?;
        if let Some(why) = self.silent() {
            return Err(Error::unavailable(format!(
                "{} did not answer earlier ({why}), so {rtype} {name} was not asked; check --resolver",
                self.description
            )));
        }
        stats::count_dns_query();
        crate::ui::verbose(&format!(
            "dns: {rtype} {name}? (asking {})",
            self.description
        ));
        let answer = match self.runtime.block_on(self.inner.lookup(fqdn, rtype)) {
            Ok(lookup) => lookup.answers().to_vec(),
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => {
                self.remember_silence(&e);
                return Err(Error::unavailable(format!(
                    "{} could not answer {rtype} {name}: {e}; check --resolver",
                    self.description
                )));
            }
        };
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, answer.clone());
        Ok(answer)
    }

    /// Why the resolver is taken as silent, once a question went unanswered (when remembering).
    fn silent(&self) -> Option<String> {
        let silence = self.silence.as_ref()?;
        silence.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Remembers `e` when it says the resolver did not answer at all (not an answer it gave).
    fn remember_silence(&self, e: &NetError) {
        let unanswered = matches!(
            e,
            NetError::Timeout | NetError::NoConnections | NetError::Io(_) | NetError::Busy
        );
        if let (Some(silence), true) = (&self.silence, unanswered) {
            silence
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| e.to_string());
        }
    }

    /// The end of the CNAME chain that starts at `name` (`name` itself when it is no alias).
    pub fn follow_cname(&self, name: &str) -> Result<String> {
        let mut current = normalize(name);
        for _ in 0..MAX_CNAME_HOPS {
            let target = self
                .lookup(&current, RecordType::CNAME)?
                .into_iter()
                .find_map(
                    |r| match (&r.data, normalize(&r.name.to_ascii()) == current) {
                        (RData::CNAME(c), true) => Some(normalize(&c.0.to_ascii())),
                        _ => None,
                    },
                );
            match target {
                Some(next) => current = next,
                None => return Ok(current),
            }
        }
        Err(Error::data(format!(
            "{name} starts a CNAME chain longer than {MAX_CNAME_HOPS} hops (a loop?); fix the CNAMEs"
        )))
    }

    /// The apex of the zone that holds `name`, found by asking for SOA at `name` and each parent.
    pub fn find_zone(&self, name: &str) -> Result<String> {
        let name = normalize(name);
        for candidate in crate::record::name_and_parents(&name) {
            let has_soa = self.lookup(candidate, RecordType::SOA)?.iter().any(|r| {
                r.record_type() == RecordType::SOA && normalize(&r.name.to_ascii()) == candidate
            });
            if has_soa {
                return Ok(candidate.to_string());
            }
        }
        Err(Error::data(format!(
            "no zone found for {name}: {} knows no SOA at it or any parent; check the name and --resolver",
            self.description
        )))
    }

    /// The NS names of `zone`.
    pub fn nameservers(&self, zone: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .lookup(zone, RecordType::NS)?
            .into_iter()
            .filter_map(|r| match r.data {
                RData::NS(ns) => Some(normalize(&ns.0.to_ascii())),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(Error::data(format!(
                "zone {zone} has no NS records at {}; check --resolver",
                self.description
            )));
        }
        Ok(names)
    }

    /// Every A and AAAA address of `host` (after CNAMEs), IPv4 first.
    pub fn addresses(&self, host: &str) -> Result<Vec<IpAddr>> {
        let mut addrs = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            for r in self.lookup(host, rtype)? {
                match r.data {
                    RData::A(a) => addrs.push(IpAddr::V4(a.0)),
                    RData::AAAA(a) => addrs.push(IpAddr::V6(a.0)),
                    _ => {}
                }
            }
        }
        addrs.dedup();
        if addrs.is_empty() {
            return Err(Error::data(format!(
                "{host} has no A or AAAA address at {}; publish the host in DNS or check --resolver",
                self.description
            )));
        }
        Ok(addrs)
    }
}

/// Lowercase, without the trailing dot: the form dcv-hook keeps names in.
pub use crate::record::normalize_name as normalize;

/// A fully qualified hickory name for `name` (so no search domain is ever appended).
pub fn fqdn(name: &str) -> Result<Name> {
    Name::from_str(&format!("{}.", normalize(name)))
        .map_err(|e| Error::data(format!("{name} is not a valid DNS name: {e}")))
}

/// Parses `IP[:PORT]` (IPv6 as `[::1]:53` or bare `::1`), with `default_port` when none is given.
pub fn parse_server(text: &str, default_port: u16) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    text.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, default_port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers_with_and_without_port() {
        let table = [
            ("192.0.2.1", Some("192.0.2.1:53")),
            ("192.0.2.1:5353", Some("192.0.2.1:5353")),
            ("::1", Some("[::1]:53")),
            ("[::1]:54", Some("[::1]:54")),
            ("ns.example.com", None),
            ("192.0.2.1:", None),
        ];
        for (text, want) in table {
            assert_eq!(
                parse_server(text, 53).map(|a| a.to_string()).as_deref(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("WWW.Example.COM."), "www.example.com");
    }
}
