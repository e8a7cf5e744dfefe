//! The `rfc2136` provider: adds and removes TXT/CNAME records with TSIG-signed DNS UPDATEs sent to the
//! zone's primary server.
//!
//! It owns the UPDATE messages and nothing else: it never waits for secondaries (that is
//! `propagation::dns`), never prints, and never follows CNAMEs (records arrive with final names). Adding
//! always appends (RFC 2136 2.5.1), so other values at a name (a wildcard and its base name share one TXT
//! name; other people's records) survive; cleanup deletes exactly each (name, type, value) it added
//! (2.5.4) and leaves values that were there before. A run's records go out as one UPDATE per zone; when
//! a later zone fails, what earlier zones got is taken back, so `present` is all or nothing.
//!
//! Jobs: `settings.rs` builds and checks the settings (flags, env, certbot ini, what the state
//! remembered); `update.rs` sends one UPDATE and maps its failures to error kinds; this file is the
//! provider (flags, table entry, the Publisher).
//!
//! Settings (flags / certbot ini key / default):
//! - `--rfc2136-server HOST[:PORT]` / `dns_rfc2136_server` + `dns_rfc2136_port`: the primary; port 53.
//! - `--tsig-key NAME` / `dns_rfc2136_name`: the TSIG key name; required.
//! - `--tsig-secret-file FILE`, env `DCV_TSIG_SECRET` / `dns_rfc2136_secret`: base64 secret; required.
//! - `--tsig-algorithm` / `dns_rfc2136_algorithm`: hmac-sha256 (also hmac-sha384, hmac-sha512; the
//!   DNS library signs with nothing else, so md5/sha1/sha224 are refused up front). certbot's own
//!   default is HMAC-MD5, so an ini without the key means hmac-sha256 here, not what certbot assumed.
//! - `--rfc2136-zone ZONE`: the zone to update, instead of the SOA walk (split-horizon views).
//! - `--rfc2136-credentials FILE`: a certbot-dns-rfc2136 ini; flags and env win over its keys.
//! - `--ttl` (60); a per-UPDATE timeout (10 s).

mod settings;
mod update;

pub use settings::{Rfc2136Args, Rfc2136Settings, parse_algorithm, parse_certbot_ini};

use crate::dnsquery::{self, matches};
use crate::error::{Error, Result};
use crate::publish::{Provider, Publisher, Serves, Setup, rolled_back};
use crate::record::{Published, Record, RecordType};
use crate::resolver::{self, Resolver};
use hickory_proto::rr::{DNSClass, Name, RData, TSigner};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The provider name, as given to `--provider` and stored in `Published.provider`.
pub const NAME: &str = "rfc2136";

/// Seconds of clock difference the server may accept (RFC 8945 recommends 300).
const TSIG_FUDGE: u16 = 300;

/// What the state keeps per record: where the UPDATE went and the flags cleanup reuses when no
/// flag gives them (the key name, where the secret is read from, absolute; never the secret).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Undo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub settings: Rfc2136Args,
}

impl Provider for Rfc2136 {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Dns;
    type Args = Rfc2136Args;
    type Undo = Undo;

    fn publisher(
        args: Rfc2136Args,
        setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let (settings, remember) =
            settings::resolve(setup, &args, remembered.cloned().unwrap_or_default())?;
        let mut publisher = Rfc2136::new(settings, (setup.resolver)()?)?;
        publisher.remember = remember;
        Ok(Box::new(publisher))
    }
}

/// Publishes through RFC 2136 UPDATEs to one primary.
pub struct Rfc2136 {
    settings: Rfc2136Settings,
    signer: TSigner,
    zone: Option<Name>,
    resolver: Arc<Resolver>,
    runtime: tokio::runtime::Runtime,
    /// Non-secret settings recorded with each record (see [`Undo`]).
    remember: Rfc2136Args,
}

impl Rfc2136 {
    /// Validates the settings once: the secret is base64, the algorithm is one hickory signs with, the
    /// key and zone are DNS names.
    pub fn new(settings: Rfc2136Settings, resolver: Arc<Resolver>) -> Result<Self> {
        let algorithm = parse_algorithm(&settings.algorithm)?;
        if settings.secret.is_empty() {
            return Err(Error::config(
                "rfc2136: the tsig secret is empty; pass --tsig-secret-file or DCV_TSIG_SECRET",
            ));
        }
        // Never echo the secret or the decoder's message (which quotes input bytes).
        let key = data_encoding::BASE64
            .decode(settings.secret.expose().as_bytes())
            .map_err(|_| {
                Error::config(
                    "rfc2136: the tsig secret is not valid base64; copy the `secret` value from the key file",
                )
            })?;
        let key_name = Name::from_ascii(settings.key_name.trim()).map_err(|_| {
            Error::config(format!(
                "rfc2136: tsig key name {:?} is not a valid DNS name; pass --tsig-key",
                settings.key_name
            ))
        })?;
        let signer = TSigner::new(key, algorithm, key_name, TSIG_FUDGE)
            .map_err(|e| Error::config(format!("rfc2136: cannot set up tsig: {e}")))?;
        let zone = match &settings.zone {
            Some(z) => Some(resolver::fqdn(z).map_err(|e| {
                Error::config(format!(
                    "rfc2136: --rfc2136-zone {z:?} is not a valid zone name ({})",
                    e.message()
                ))
            })?),
            None => None,
        };
        let runtime = crate::runtime::current_thread("rfc2136")?;
        Ok(Rfc2136 {
            settings,
            signer,
            zone,
            resolver,
            runtime,
            remember: Rfc2136Args::default(),
        })
    }

    /// The zone for `name`: the override, or the SOA walk; checked to contain `name`.
    fn zone_for(&self, name: &Name) -> Result<Name> {
        let zone = match &self.zone {
            Some(zone) => zone.clone(),
            None => resolver::fqdn(&self.resolver.find_zone(&name.to_ascii())?)?,
        };
        update::check_inside(name, &zone)?;
        Ok(zone)
    }

    /// Whether the primary already serves exactly this value (asked directly, so no cache lies).
    fn already_there(&self, record: &Record, rtype: RecordType, name: &Name) -> Result<bool> {
        let answer = dnsquery::query(
            self.settings.server,
            name,
            dnsquery::hickory_type(rtype),
            self.settings.timeout,
        )
        .map_err(|e| {
            Error::unavailable(format!(
                "rfc2136: primary {} did not answer ({e}); check --rfc2136-server and that the server is up",
                self.settings.server
            ))
        })?;
        let at_name: Vec<&RData> = answer
            .answers
            .iter()
            .filter(|r| r.name.zone_of(name) && name.zone_of(&r.name))
            .map(|r| &r.data)
            .collect();
        // A name holds one CNAME: adding ours would silently replace someone else's, and cleanup
        // could not bring it back. Refuse before changing anything.
        if rtype == RecordType::Cname
            && let Some(RData::CNAME(other)) = at_name
                .iter()
                .find(|d| matches!(d, RData::CNAME(_)) && !matches(record, d))
        {
            return Err(Error::data(format!(
                "rfc2136: {} already is a CNAME to {}; dns-cname-token would replace it: remove it first or use --method dns-txt-token",
                record.name(),
                other.0.to_ascii().trim_end_matches('.')
            )));
        }
        Ok(at_name.iter().any(|d| matches(record, d)))
    }
}

impl Rfc2136 {
    /// `record` as it will be recorded: its zone, the server and the settings cleanup needs.
    fn entry_for(&self, record: &Record, zone: &Name) -> Result<Published> {
        let mut p = Published::new(record, NAME);
        p.location = update::zone_text(zone);
        p.set_undo(&Undo {
            server: Some(self.settings.server.to_string()),
            settings: self.remember.clone(),
        })?;
        Ok(p)
    }
}

impl Publisher for Rfc2136 {
    fn provider(&self) -> &'static str {
        NAME
    }

    /// Everything a flagless cleanup needs, before the UPDATE leaves: zone, server, key, names,
    /// values, and whether each value was there before (looked up now, so a cleanup after a lost
    /// reply or a kill leaves a value that was not ours alone).
    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        records
            .iter()
            .map(|record| {
                let (rtype, owner) = record.dns_for(NAME)?;
                let name = resolver::fqdn(owner)?;
                let mut p = self.entry_for(record, &self.zone_for(&name)?)?;
                p.preexisting = self.already_there(record, rtype, &name)?;
                Ok(p)
            })
            .collect()
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        // Work out every zone and what is already there before changing anything.
        let mut published = Vec::with_capacity(records.len());
        let mut by_zone: BTreeMap<String, (Name, Vec<hickory_proto::rr::Record>)> = BTreeMap::new();
        for record in records {
            let (rtype, owner) = record.dns_for(NAME)?;
            let name = resolver::fqdn(owner)?;
            let zone = self.zone_for(&name)?;
            let preexisting = self.already_there(record, rtype, &name)?;
            let entry = by_zone
                .entry(update::zone_text(&zone))
                .or_insert_with(|| (zone.clone(), Vec::new()));
            if !preexisting {
                entry.1.push(hickory_proto::rr::Record::from_rdata(
                    name,
                    self.settings.ttl,
                    update::rdata(rtype, &record.value)?,
                ));
            }
            let mut p = self.entry_for(record, &zone)?;
            p.preexisting = preexisting;
            published.push(p);
        }

        let mut done: Vec<&str> = Vec::new();
        for (zone_name, (zone, adds)) in &by_zone {
            if adds.is_empty() {
                continue;
            }
            if let Err(error) = self.send_update(zone, adds.clone()) {
                // All or nothing: take back what earlier zones got. A failure here is worth reporting
                // but the original error is the one to act on.
                let added: Vec<Published> = published
                    .iter()
                    .filter(|p| !p.preexisting && done.contains(&p.location.as_str()))
                    .cloned()
                    .collect();
                let what = format!("the records added to {}", done.join(", "));
                return Err(rolled_back(error, self.cleanup(&added), &what));
            }
            done.push(zone_name);
        }
        Ok(published)
    }

    fn cleanup(&mut self, published: &[Published]) -> Result<()> {
        let mut by_zone: BTreeMap<String, (Name, Vec<hickory_proto::rr::Record>)> = BTreeMap::new();
        for p in published
            .iter()
            .filter(|p| p.provider == NAME && !p.preexisting)
        {
            let (rtype, owner) = p.record.dns_for(NAME)?;
            let name = resolver::fqdn(owner)?;
            let zone = resolver::fqdn(&p.location)?;
            update::check_inside(&name, &zone)?;
            // RFC 2136 2.5.4: class NONE, TTL 0 deletes exactly this RR; an absent one is ignored.
            let rdata = update::rdata(rtype, &p.record.value)?;
            let mut delete = hickory_proto::rr::Record::from_rdata(name, 0, rdata);
            delete.dns_class = DNSClass::NONE;
            by_zone
                .entry(p.location.clone())
                .or_insert_with(|| (zone, Vec::new()))
                .1
                .push(delete);
        }
        // Try every zone even when one fails, so as little as possible is left behind.
        let mut first_error: Option<Error> = None;
        for (zone, deletes) in by_zone.into_values() {
            if let Err(e) = self.send_update(&zone, deletes) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn check_access(&mut self, names: &[String]) -> Option<Result<String>> {
        let name = names.first()?;
        let check = || -> Result<String> {
            let zone = self.zone_for(&resolver::fqdn(name)?)?;
            // Deleting a value nobody published changes nothing (RFC 2136 3.4.2.4), yet the
            // server must authenticate and authorize it like a real change.
            let nobody = resolver::fqdn(&format!(
                "dcv-hook-doctor-{:016x}.{}",
                crate::random::u64(),
                update::zone_text(&zone)
            ))?;
            let mut delete =
                hickory_proto::rr::Record::from_rdata(nobody, 0, RData::TXT(dnsquery::txt("x")));
            delete.dns_class = DNSClass::NONE;
            self.send_update(&zone, vec![delete])?;
            Ok(format!(
                "{} accepts updates to {} signed with key {}",
                self.settings.server,
                update::zone_text(&zone),
                self.settings.key_name
            ))
        };
        Some(check())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn new_validates_secret_without_echoing_it() {
        let resolver = Arc::new(Resolver::new(&["127.0.0.1:53".parse().unwrap()]).unwrap());
        let mut settings = Rfc2136Settings::new(
            "127.0.0.1:53".parse().unwrap(),
            "k",
            Secret::new("not base64 !!secretvalue"),
        );
        let err = Rfc2136::new(settings.clone(), resolver.clone())
            .err()
            .expect("bad base64");
        assert_eq!(err.kind(), crate::error::Kind::Config);
        assert!(!err.message().contains("secretvalue"), "{err}");

        settings.secret = Secret::new("AAAA");
        settings.algorithm = "hmac-md5".into();
        let err = Rfc2136::new(settings.clone(), resolver.clone())
            .err()
            .expect("md5");
        assert_eq!(err.kind(), crate::error::Kind::Config);

        settings.algorithm = "hmac-sha256".into();
        assert!(Rfc2136::new(settings, resolver).is_ok());
    }
}
