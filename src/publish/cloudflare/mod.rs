//! The `cloudflare` provider: adds and removes TXT/CNAME records through Cloudflare's API v4.
//!
//! It owns the records it creates and nothing else: it never waits for propagation (that is
//! `propagation::dns`), never prints, and never follows CNAMEs (records arrive with final names).
//! The zone is found by asking the zones API for the record name and then each parent, longest
//! first (cached for the run). A value already at the name (same type and content, quoted or not)
//! is reported as `preexisting`, so cleanup leaves it alone; otherwise the record is created, and
//! cleanup deletes the one record found by name, type and content, so other values at the name,
//! other runs' records and foreign records survive. `present` is all or nothing: when a record
//! fails, the ones this call created are deleted again. TXT content is sent quoted, as Cloudflare
//! asks; content someone else wrote unquoted still matches.
//!
//! Settings (flag / env / certbot ini key / default), validated by [`CloudflareSettings::from_args`]
//! without any network:
//! - `--cloudflare-credentials FILE`: a certbot-dns-cloudflare ini, `dns_cloudflare_api_token`, or
//!   the legacy `dns_cloudflare_email` + `dns_cloudflare_api_key` (global API key) pair. When given,
//!   it wins over the environment.
//! - env `CLOUDFLARE_API_TOKEN`, then `CF_DNS_API_TOKEN` (lego), then `CF_Token` (acme.sh).
//! - `--cloudflare-api-url URL`: the API base (default `https://api.cloudflare.com/client/v4/`);
//!   https, or plain http to a loopback address only.
//! - `--ttl` (60): 1 (automatic) or 30..86400 (Cloudflare refuses others; below 60 needs Enterprise).
//! - a 30 s timeout per request; 429, 5xx and network errors retried 5 times with backoff.
//!
//! Errors: credentials refused (401/403, or 400 with an auth code) exit 77; no zone for a name exit
//! 78 naming every name tried; a bad flag 64; Cloudflare unreachable or failing after retries 69;
//! anything else Cloudflare refuses 65, with its status, code and message where the client library
//! could read them.
//!
//! Jobs: `settings.rs` (flags, token, URL, checked with no network), `client.rs` (the API calls),
//! `failure.rs` (what a failed call means), `create.rs` (creating one record: retries that look
//! first, refusals explained), this file (the Publisher: zones, present, cleanup).

mod client;
mod create;
mod failure;
mod settings;

pub use settings::{
    CloudflareArgs, CloudflareAuth, CloudflareSettings, DEFAULT_API_URL, TOKEN_ENV,
};

use super::txt::{content_matches, normalize, quote_txt};
use super::zones::Zones;
use crate::error::{Error, Result};
use crate::publish::{
    Provider, Publisher, Serves, Setup, or_remembered, recorded_path, rolled_back,
};
use crate::record::{Published, Record, RecordType};
use client::{Client, DnsRecord, Zone};
use cloudflare::endpoints::dns::dns::DnsContent;

/// The provider name, as given to `--provider` and stored in `Published.provider`.
pub const NAME: &str = "cloudflare";

/// What the state keeps per record, so cleanup needs no flags: the flags as resolved (where the
/// credentials are read from, absolute, never the token; the API).
pub type Undo = CloudflareArgs;

impl Provider for Cloudflare {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Dns;
    type Args = CloudflareArgs;
    type Undo = Undo;

    /// Flags, env and (for cleanup) what the state remembered; a flag wins over the memory.
    fn publisher(
        args: CloudflareArgs,
        setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let mut remember = or_remembered(args, remembered)?;
        remember.cloudflare_credentials = remember
            .cloudflare_credentials
            .map(|file| recorded_path(&file).into());
        let settings = CloudflareSettings::from_args(&remember, setup.env, setup.ttl)?;
        let mut publisher = Cloudflare::new(settings)?;
        publisher.remember = remember;
        Ok(Box::new(publisher))
    }
}

/// Publishes through Cloudflare's API.
pub struct Cloudflare {
    client: Client,
    ttl: u32,
    /// Zones looked up this run.
    zones: Zones<Option<Zone>>,
    /// Recorded with each record for cleanup.
    remember: Undo,
}

/// The zone called exactly `name` that the credentials can see. With a legacy key spanning
/// accounts a name can appear twice: the active one is preferred.
fn active_first(client: &Client, name: &str) -> Result<Option<Zone>> {
    let zones = client.zones_named(name)?;
    Ok(zones
        .iter()
        .find(|z| z.status == "active")
        .or(zones.first())
        .cloned())
}

/// A record this call created, to take back if a later one fails.
struct Created {
    zone: Zone,
    id: String,
    record: Record,
}

impl Cloudflare {
    /// Sets up the client; sends nothing.
    pub fn new(settings: CloudflareSettings) -> Result<Cloudflare> {
        let client = Client::new(
            settings.auth.credentials(),
            settings.auth.describe(),
            &settings.api_url,
            settings.timeout,
            settings.retry,
        )?;
        Ok(Cloudflare {
            client,
            ttl: settings.ttl,
            zones: Zones::default(),
            remember: Undo::default(),
        })
    }

    /// The zone called exactly `name`, if the credentials can see one (asked once per run).
    fn zone_named(&mut self, name: &str) -> Result<Option<Zone>> {
        self.zones
            .named(&normalize(name), |n| active_first(&self.client, n))
    }

    /// The zone that holds `name`: the longest of the name and its parents that is a zone.
    fn zone_for(&mut self, name: &str) -> Result<Zone> {
        let zone = self.zones.holding(
            name,
            |n| active_first(&self.client, n),
            |tried| {
                Error::config(format!(
                    "cloudflare: no zone for {name} in the account (tried {}); add the zone to Cloudflare, or give the credentials ({}) Zone:Read permission on it",
                    tried.join(", "),
                    self.client.credentials()
                ))
            },
        )?;
        if !(zone.status.is_empty() || zone.status == "active") {
            return Err(Error::config(format!(
                "cloudflare: zone {} is {}, not active: Cloudflare does not serve its records yet; finish setting it up (its nameservers) first",
                zone.name, zone.status
            )));
        }
        Ok(zone)
    }

    fn client_credentials(&self) -> String {
        self.client.credentials().to_string()
    }

    /// `record` as it will be recorded: its zone and everything cleanup needs to reach it.
    fn entry_for(&self, record: &Record, zone: &Zone) -> Result<Published> {
        let mut published = Published::new(record, NAME);
        published.location = zone.name.clone();
        published.set_undo(&self.remember)?;
        Ok(published)
    }

    /// Publishes one record; returns what it did and the record it created, if it created one.
    fn present_one(&mut self, record: &Record) -> Result<(Published, Option<Created>)> {
        let (rtype, owner) = record.dns_for(NAME)?;
        let name = normalize(owner);
        let zone = self.zone_for(&name)?;
        let existing = self.client.records(&zone, &name, Some(rtype.as_str()))?;
        let mut published = self.entry_for(record, &zone)?;
        if existing.iter().any(|r| content_matches(record, &r.content)) {
            published.preexisting = true;
            return Ok((published, None));
        }
        if rtype == RecordType::Cname
            && let Some(other) = existing.first()
        {
            return Err(Error::data(format!(
                "cloudflare: {name} already is a CNAME to {}; dns-cname-token would replace it: remove it first or use --method dns-txt-token",
                normalize(&other.content)
            )));
        }
        match self.create(&zone, &name, record)? {
            Some(id) => Ok((
                published,
                Some(Created {
                    zone,
                    id,
                    record: record.clone(),
                }),
            )),
            None => {
                published.preexisting = true;
                Ok((published, None))
            }
        }
    }

    /// The record at `name` with `record`'s type and value: preferably the exact content this
    /// provider writes, else the same value written another way.
    fn find(&self, zone: &Zone, name: &str, record: &Record) -> Result<Option<DnsRecord>> {
        let (rtype, _) = record.dns_for(NAME)?;
        let existing = self.client.records(zone, name, Some(rtype.as_str()))?;
        let exact = record_content(rtype, &record.value);
        Ok(existing
            .iter()
            .find(|r| r.content == exact)
            .or_else(|| {
                existing
                    .iter()
                    .find(|r| content_matches(record, &r.content))
            })
            .cloned())
    }

    /// Deletes what this call created, after `error`; the error says so if that fails too.
    fn roll_back(&mut self, error: Error, created: &[Created]) -> Error {
        let mut left: Vec<String> = Vec::new();
        let mut why: Option<Error> = None;
        for c in created {
            let what = format!(
                "deleting {} {} again",
                c.record.type_name(),
                c.record.name()
            );
            if let Err(e) = self.client.delete(&c.zone, &c.id, &what) {
                left.push(format!("{} {}", c.record.type_name(), c.record.name()));
                why.get_or_insert(e);
            }
        }
        rolled_back(error, why.map_or(Ok(()), Err), &left.join(", "))
    }

    /// Deletes the one record `published` stands for, if it is still there.
    fn remove(&mut self, published: &Published) -> Result<()> {
        let record = &published.record;
        let (rtype, owner) = record.dns_for(NAME)?;
        let name = normalize(owner);
        let zone = if published.location.is_empty() {
            self.zone_for(&name)?
        } else {
            self.zone_named(&published.location)?.ok_or_else(|| {
                Error::config(format!(
                    "cloudflare: zone {} (where {name} was published) is not in the account the credentials ({}) reach; clean up with the credentials auth used",
                    published.location,
                    self.client_credentials()
                ))
            })?
        };
        match self.find(&zone, &name, record)? {
            None => Ok(()),
            Some(found) => self.client.delete(
                &zone,
                &found.id,
                &format!("deleting {rtype} {name} in zone {}", zone.name),
            ),
        }
    }
}

impl Publisher for Cloudflare {
    fn provider(&self) -> &'static str {
        NAME
    }

    /// Looks before adding: the zone, the credentials' source and the API, and whether the value
    /// is there already, recorded before the request that may publish.
    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        records
            .iter()
            .map(|record| {
                let (rtype, owner) = record.dns_for(NAME)?;
                let name = normalize(owner);
                let zone = self.zone_for(&name)?;
                let existing = self.client.records(&zone, &name, Some(rtype.as_str()))?;
                let mut p = self.entry_for(record, &zone)?;
                p.preexisting = existing.iter().any(|r| content_matches(record, &r.content));
                Ok(p)
            })
            .collect()
    }

    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        let mut published = Vec::with_capacity(records.len());
        let mut created: Vec<Created> = Vec::new();
        for record in records {
            match self.present_one(record) {
                Ok((p, made)) => {
                    published.push(p);
                    created.extend(made);
                }
                Err(error) => return Err(self.roll_back(error, &created)),
            }
        }
        Ok(published)
    }

    fn cleanup(&mut self, published: &[Published]) -> Result<()> {
        // Try every record even when one fails, so as little as possible is left behind.
        let mut first_error: Option<Error> = None;
        for p in published
            .iter()
            .filter(|p| p.provider == NAME && !p.preexisting)
        {
            if let Err(e) = self.remove(p) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn check_access(&mut self, names: &[String]) -> Option<Result<String>> {
        let name = names.first()?;
        // Reads only: the zone, then its records at the name. Edit rights show only when writing.
        let check = (|| {
            let zone = self.zone_for(name)?;
            self.client.records(&zone, name, Some("TXT"))?;
            Ok(format!(
                "the credentials ({}) see zone {} and its records",
                self.client_credentials(),
                zone.name
            ))
        })();
        Some(check)
    }
}

/// The content this provider writes: TXT as quoted character-strings (Cloudflare's form; values
/// longer than 255 bytes split), a CNAME target without trailing dot.
fn record_content(rtype: RecordType, value: &str) -> String {
    match rtype {
        RecordType::Txt => quote_txt(value),
        RecordType::Cname => normalize(value),
    }
}

fn dns_content(rtype: RecordType, value: &str) -> DnsContent {
    let content = record_content(rtype, value);
    match rtype {
        RecordType::Cname => DnsContent::CNAME { content },
        RecordType::Txt => DnsContent::TXT { content },
    }
}

#[cfg(test)]
mod tests;
