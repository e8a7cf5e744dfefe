//! The `powerdns` provider: TXT/CNAME records through PowerDNS Authoritative's HTTP API (the usual way
//! to drive PowerDNS, which ships with RFC2136 off).
//!
//! PowerDNS replaces an RRset whole, so the provider reads the set first and PATCHes it with every
//! value that was there plus ours (keeping the set's TTL when it exists); cleanup reads it again and
//! writes back what is left without ours, or deletes the set when nothing is. A value already in
//! the set is reported `preexisting` and left alone by cleanup. A run's records go to each zone in
//! one PATCH, which PowerDNS applies all or nothing; when a later zone fails, the zones already
//! changed are put back. dcv-hook runs sharing a state directory change a zone one at a time, and
//! every PATCH is read back (see `rrset.rs`); another program's change landing between our read
//! and our PATCH can still be lost (the API has no conditional update). Records are read from the
//! whole zone, because a narrowed read leaves disabled records out; they are written back with
//! their `disabled` flag.
//!
//! Settings, checked with no network: `--powerdns-url URL` (the API base, e.g.
//! `http://127.0.0.1:8081`; https, or http to loopback only), the API key from
//! `--powerdns-api-key-file FILE` or env `PDNS_API_KEY`, `--powerdns-server-id` (default
//! `localhost`), `--ttl`. The zone is the longest of the record name and its parents the server has.
//! Errors: key refused (401/403) 77; no zone for a name 78 naming the names tried, as does an
//! unknown server id (404); PowerDNS refusing the change (422) 65 with its message; 5xx and network
//! errors retried 5 times, then 69.

mod client;

use super::rrset::{SetApi, SetLocks};
use super::txt::normalize;
use super::zones::Zones;
use super::{Provider, Publisher, Serves, Setup, credentials, or_remembered, recorded_path};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::record::Published;
use crate::retry::Policy;
use crate::secret::Secret;
use client::{Client, Content, RRSet, Zone};
use std::path::PathBuf;

/// The provider name.
pub const NAME: &str = "powerdns";

/// The environment variable holding the API key (PowerDNS's own tools' name for it).
pub const KEY_ENV: &str = "PDNS_API_KEY";

const HEADING: &str = "Provider: powerdns";

/// The powerdns flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PowerDnsArgs {
    /// PowerDNS Authoritative's API, e.g. http://127.0.0.1:8081 (https, or http to loopback only).
    #[arg(long, value_name = "URL", help_heading = HEADING)]
    pub powerdns_url: Option<String>,
    /// File holding the API key (or env PDNS_API_KEY; never a flag value).
    #[arg(long, value_name = "FILE", help_heading = HEADING)]
    pub powerdns_api_key_file: Option<PathBuf>,
    /// The server id in the API's URLs [default: localhost].
    #[arg(long, value_name = "ID", help_heading = HEADING)]
    pub powerdns_server_id: Option<String>,
}

/// What the state keeps, so cleanup needs no flags: the flags as resolved (the API, where the key
/// is read from, absolute, never the key, and the server id).
pub type Undo = PowerDnsArgs;

/// Everything the provider needs, checked.
#[derive(Clone, Debug)]
pub struct PowerDnsSettings {
    pub url: String,
    pub server_id: String,
    pub key: Secret,
    /// Where the key came from, for messages: `PDNS_API_KEY` or the file.
    pub key_source: String,
    pub ttl: u32,
    pub retry: Policy,
}

impl PowerDnsSettings {
    pub fn new(url: &str, key: Secret, key_source: &str, ttl: u32) -> Result<Self> {
        if key.is_empty() || !key.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::config(format!(
                "powerdns: the API key from {key_source} is empty or holds spaces or control characters; set it to the server's api-key"
            )));
        }
        Ok(PowerDnsSettings {
            url: super::api_url::check("--powerdns-url", url)?,
            server_id: "localhost".into(),
            key,
            key_source: key_source.into(),
            ttl,
            retry: Policy::PROVIDER_API,
        })
    }

    /// From the flags and the environment (a key file wins over `PDNS_API_KEY`).
    pub fn from_args(args: &PowerDnsArgs, env: &dyn Env, ttl: u32) -> Result<Self> {
        let url = args.powerdns_url.as_deref().ok_or_else(|| {
            Error::usage(
                "--provider powerdns needs --powerdns-url URL (PowerDNS's API, e.g. http://127.0.0.1:8081)",
            )
        })?;
        let (key, source) = match (&args.powerdns_api_key_file, env.var(KEY_ENV)) {
            (Some(file), _) => (
                credentials::read_secret_file(file, "--powerdns-api-key-file")?,
                file.display().to_string(),
            ),
            (None, Some(key)) => (Secret::new(key), KEY_ENV.to_string()),
            (None, None) => {
                return Err(Error::config(format!(
                    "--provider powerdns needs the API key: set {KEY_ENV} or pass --powerdns-api-key-file FILE"
                )));
            }
        };
        let mut settings = PowerDnsSettings::new(url, key, &source, ttl)?;
        if let Some(id) = &args.powerdns_server_id {
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(Error::usage(format!(
                    "--powerdns-server-id {id:?} is not a server id (letters, digits, - _ .; usually localhost)"
                )));
            }
            settings.server_id = id.clone();
        }
        Ok(settings)
    }
}

impl Provider for PowerDns {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Dns;
    type Args = PowerDnsArgs;
    type Undo = Undo;

    /// Flags, env and (for cleanup) what the state remembered; a flag wins over the memory.
    fn publisher(
        args: PowerDnsArgs,
        setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let mut remember = or_remembered(args, remembered)?;
        remember.powerdns_api_key_file = remember
            .powerdns_api_key_file
            .map(|file| recorded_path(&file).into());
        let settings = PowerDnsSettings::from_args(&remember, setup.env, setup.ttl)?;
        let mut publisher = PowerDns::new(settings)?;
        publisher.remember = remember;
        publisher.locks = SetLocks::beside_state(setup.state_dir);
        Ok(Box::new(publisher))
    }
}

/// Publishes through PowerDNS's API.
pub struct PowerDns {
    client: Client,
    ttl: u32,
    /// Zones looked up this run.
    zones: Zones<Option<Zone>>,
    remember: Undo,
    locks: SetLocks,
}

impl PowerDns {
    /// Sets up the client; sends nothing.
    pub fn new(settings: PowerDnsSettings) -> Result<PowerDns> {
        let client = Client::new(
            &settings.url,
            &settings.server_id,
            settings.key,
            settings.key_source,
            settings.retry,
        )?;
        Ok(PowerDns {
            client,
            ttl: settings.ttl,
            zones: Zones::default(),
            remember: Undo::default(),
            locks: SetLocks::default(),
        })
    }

    fn zone_named(&mut self, name: &str) -> Result<Option<Zone>> {
        self.zones.named(name, |n| self.client.zone_named(n))
    }
}

/// Each zone's change is one PATCH, which PowerDNS applies all or nothing.
impl SetApi for PowerDns {
    type Zone = Zone;
    type Set = RRSet;
    type Undo = Undo;
    type Sent = ();
    const NAME: &'static str = NAME;
    const PUTTING_BACK: &'static str = "putting the RRsets back";

    fn zone_id(zone: &Zone) -> &str {
        &zone.id
    }

    fn locks(&self) -> &SetLocks {
        &self.locks
    }

    fn zone_name(zone: &Zone) -> &str {
        &zone.name
    }

    /// The zone that holds `name`: the longest of the name and its parents the server has.
    fn zone_for(&mut self, name: &str) -> Result<Zone> {
        self.zones.holding(
            name,
            |n| self.client.zone_named(n),
            |tried| {
                Error::config(format!(
                    "powerdns: no zone for {} on the server (tried {}); create the zone in PowerDNS or publish where it is served",
                    normalize(name),
                    tried.join(", ")
                ))
            },
        )
    }

    /// The zone `published` went to (its recorded location, else looked up again).
    fn zone_of(&mut self, published: &Published) -> Result<Zone> {
        if published.location.is_empty() {
            return self.zone_for(published.record.dns_for(NAME)?.1);
        }
        self.zone_named(&published.location)?.ok_or_else(|| {
            Error::config(format!(
                "powerdns: zone {} (where {} was published) is not on the server any more; remove the record by hand if the zone lives elsewhere",
                published.location, published.record.name()
            ))
        })
    }

    /// The state entry for `record` published in `zone`.
    fn location(zone: &Zone) -> String {
        zone.name.trim_end_matches('.').to_string()
    }

    fn remembered(&self) -> &Undo {
        &self.remember
    }

    fn read(&self, zone: &Zone, name: &str, rtype: &'static str) -> Result<RRSet> {
        self.client.rrset(zone, name, rtype)
    }

    fn write(&self, zone: &Zone, sets: &[(RRSet, RRSet)], what: &str) -> Result<()> {
        let sets: Vec<RRSet> = sets.iter().map(|(after, _)| for_patch(after)).collect();
        self.client
            .patch(zone, &sets, &format!("{what} in zone {}", zone.name))
    }

    fn values(set: &RRSet) -> Vec<&str> {
        set.records.iter().map(|c| c.content.as_str()).collect()
    }

    fn add(&self, set: &mut RRSet, content: String) {
        set.records.push(Content {
            content,
            disabled: false,
        });
        set.ttl = set.ttl.or(Some(self.ttl));
    }

    fn retain_values(set: &mut RRSet, keep: &mut dyn FnMut(&str) -> bool) {
        set.records.retain(|v| keep(&v.content));
    }
}

/// `set` as a PATCH writes it: REPLACE with its records, or DELETE when none are left.
fn for_patch(set: &RRSet) -> RRSet {
    let mut set = set.clone();
    if set.records.is_empty() {
        set.changetype = Some("DELETE".into());
        set.ttl = None;
    } else {
        set.changetype = Some("REPLACE".into());
    }
    set
}
