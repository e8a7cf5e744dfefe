//! Publishing records: one [`Publisher`] trait, one [`Provider`] type per provider, one table line each.
//!
//! A publisher changes the outside world and nothing else: it never waits for propagation, never prints
//! and never picks an exit code beyond the error kind of its failure. It takes whole batches so that a
//! DNS provider can send one UPDATE per zone for a run's records.
//!
//! # How to write a provider now
//! A provider is a type implementing [`Provider`] (usually its publisher itself), in
//! `publish/<name>.rs` (a folder `publish/<name>/` when it has more than one job, such as an API
//! client, one file each), plus one line `name: module::YourType;` in the `providers!` table, which
//! makes both its row in [`PROVIDERS`] and its field in [`ProviderArgs`]. Its associated types:
//! - `Args`: its flags, a `#[derive(clap::Args, serde::Serialize, serde::Deserialize)]` struct
//!   with `help_heading = "Provider: NAME"` and `#[serde(default)]`; they show in `--help`, the
//!   config file takes them as keys at the top level, and a `[[zone]]` table is read into it by
//!   serde (its keys, the long option names, checked against the flags first).
//! - `Undo`: what it records with each record for cleanup, a serde struct (non-secret: where a
//!   secret is read from, never the secret). Written with [`Published::set_undo`] by `prepare` and
//!   `present`, stored flattened beside the common fields of the state file. Cleanup groups records
//!   by provider and this whole struct ([`Provider::how_published`]), so what published a record
//!   removes it; a field that differs per record (a replaced file) needs its own `how_published`.
//! - [`Provider::publisher`]: builds its [`Publisher`] from the flags, the environment
//!   ([`Setup::env`]) and, for cleanup, the undo data of the records to remove (a flag wins over
//!   it), every setting checked with no network but name resolution: a missing setting is 64 or 78
//!   before anything changes at DigiCert. Never put a secret in a flag: read it from env or a file,
//!   wrap it in `Secret`.
//!
//! A provider whose API replaces a record set whole implements `rrset::SetApi` (find a zone, read
//! and write a set) instead of [`Publisher`]: the shared flow in `rrset.rs` is its publisher, and
//! answers the doctor's [`Publisher::check_access`] by reading.
//!
//! Providers see neither the config nor the run's context: only their flags, the environment, the
//! TTL, the resolver and what the state remembered ([`Setup`]).

use crate::env::Env;
use crate::error::{Error, Result};
use crate::record::{Place, Published, Record};
use crate::resolver::Resolver;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub mod api_url;
pub mod azure;
pub mod cloudflare;
pub mod credentials;
pub mod exec;
pub mod google;
pub mod powerdns;
mod remembered;
pub mod rest;
pub mod rfc2136;
#[cfg(feature = "route53")]
pub mod route53;
mod rrset;
pub mod txt;
pub mod webroot;
pub mod zones;

pub use remembered::{or_remembered, recorded_path};

/// The provider table: each line gives a provider's field in [`ProviderArgs`] and its type, and so
/// both its flags (on every command, under its own `--help` heading, and as the keys of a
/// `[[zone]]`) and its row in [`PROVIDERS`].
macro_rules! providers {
    ($($(#[$cfg:meta])* $field:ident: $provider:ty;)*) => {
        /// Every provider's flags, typed: each provider's `Args`, flattened (in the config file
        /// too).
        #[derive(Clone, Debug, Default, clap::Args, Serialize, Deserialize)]
        #[serde(default)]
        pub struct ProviderArgs {
            $($(#[$cfg])* #[command(flatten)] #[serde(flatten)] pub $field: <$provider as Provider>::Args,)*
        }

        $($(#[$cfg])* impl FlagsOf<$provider> for ProviderArgs {
            fn flags(&self) -> &<$provider as Provider>::Args {
                &self.$field
            }
            fn flags_mut(&mut self) -> &mut <$provider as Provider>::Args {
                &mut self.$field
            }
        })*

        /// Every provider: its name, what it serves, how to build it.
        pub const PROVIDERS: &[ProviderSpec] = &[$($(#[$cfg])* ProviderSpec::of::<$provider>(),)*];
    };
}

providers! {
    rfc2136: rfc2136::Rfc2136;
    cloudflare: cloudflare::Cloudflare;
    webroot: webroot::Webroot;
    exec: exec::Exec;
    powerdns: powerdns::PowerDns;
    azure: azure::Azure;
    #[cfg(feature = "route53")]
    route53: route53::Route53;
    google: google::Google;
}

/// Where provider `P`'s flags are in [`ProviderArgs`] (the table writes one impl per provider).
pub trait FlagsOf<P: Provider> {
    fn flags(&self) -> &P::Args;
    fn flags_mut(&mut self) -> &mut P::Args;
}

/// A provider: its flags, its undo data and how its publisher is built (see the module docs).
pub trait Provider {
    /// The name `--provider` takes and the state records.
    const NAME: &'static str;
    const SERVES: Serves;
    /// Its flags: a `clap::Args` struct, also serde (a `[[zone]]` table is read into it, and it is
    /// what the state remembers for most providers); never a secret in it.
    type Args: clap::Args + Clone + std::fmt::Debug + Default + Serialize + DeserializeOwned;
    /// What it records with each record for cleanup.
    type Undo: Serialize + DeserializeOwned + Default;

    /// Its publisher, from the flags, the environment and, for cleanup, the undo data of the first
    /// record to remove (`None` for auth); every setting checked before anything changes anywhere.
    fn publisher(
        args: Self::Args,
        setup: &Setup,
        remembered: Option<&Self::Undo>,
    ) -> Result<Box<dyn Publisher>>;

    /// How `published` was published (everything in its undo data): records that agree are undone
    /// by one publisher built from the first one's data.
    fn how_published(published: &Published) -> Result<String> {
        let undo: Self::Undo = published.undo()?;
        serde_json::to_string(&undo)
            .map_err(|e| Error::software(format!("cannot encode {} undo data: {e}", Self::NAME)))
    }
}

impl ProviderSpec {
    /// The table line of provider `P`.
    pub const fn of<P: Provider>() -> ProviderSpec
    where
        ProviderArgs: FlagsOf<P>,
    {
        ProviderSpec {
            name: P::NAME,
            serves: P::SERVES,
            zone_flags: zone_flags::<P>,
            build: build::<P>,
            how_published: P::how_published,
        }
    }
}

/// A `[[zone]]` table's settings (its keys but `name` and `provider`) as provider `P`'s flags; the
/// error is the reason alone, naming the key (the caller names the file and the zone).
fn zone_flags<P: Provider>(table: &toml::Table) -> std::result::Result<ProviderArgs, String>
where
    ProviderArgs: FlagsOf<P>,
{
    let cmd = <P::Args as clap::Args>::augment_args(clap::Command::new(P::NAME));
    let keys: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
    if let Some(key) = table.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!(
            "key {key:?} is not a setting of provider {} (a zone takes name, provider and {}); put other options at the top of the file",
            P::NAME,
            keys.join(", ")
        ));
    }
    // Keys are long option names; serde knows the fields by their Rust names.
    let fields: toml::Table = table
        .iter()
        .map(|(key, value)| (key.replace('-', "_"), value.clone()))
        .collect();
    let flags = P::Args::deserialize(toml::Value::Table(fields))
        .map_err(|e| e.to_string().trim().replace('\n', " "))?;
    let mut all = ProviderArgs::default();
    *all.flags_mut() = flags;
    Ok(all)
}

/// Builds `P`'s publisher from its flags, its undo data decoded once.
fn build<P: Provider>(setup: &Setup) -> Result<Box<dyn Publisher>>
where
    ProviderArgs: FlagsOf<P>,
{
    let args = FlagsOf::<P>::flags(setup.flags).clone();
    let remembered: Option<P::Undo> = setup.remembered.first().map(|p| p.undo()).transpose()?;
    P::publisher(args, setup, remembered.as_ref())
}

/// A backend that can add records and take exactly those records away again.
pub trait Publisher {
    /// The provider's name as given to `--provider`.
    fn provider(&self) -> &'static str;

    /// What cleanup would need if this process died in the middle of `present`, read before anything
    /// changes (the content of a file about to be replaced, the server and key an UPDATE goes
    /// with, and whether each value is there already: look before adding); `auth` saves it as
    /// pending state. The default records only the records themselves.
    fn prepare(&mut self, records: &[Record]) -> Result<Vec<Published>> {
        Ok(records
            .iter()
            .map(|r| Published::new(r, self.provider()))
            .collect())
    }

    /// Publishes every record, all or nothing: when it returns an error, nothing this call added
    /// remains, unless the error says it may have ([`Error::may_have_left_records`]). Adding never
    /// replaces other values at the same name.
    fn present(&mut self, records: &[Record]) -> Result<Vec<Published>>;

    /// Removes exactly what `present` added (leaving `preexisting` values alone) and restores what it
    /// replaced. Removing something that is already gone is not an error.
    fn cleanup(&mut self, published: &[Published]) -> Result<()>;

    /// The doctor's question, answered changing nothing: are the credentials accepted for the zone
    /// of `names`? `Some(Ok(what was checked))`, `Some(Err(why not))`, or `None` when the provider
    /// cannot tell without changing something (the doctor then reports it unchecked, never ok).
    /// Set-API providers answer in `rrset.rs`, by reading.
    fn check_access(&mut self, _names: &[String]) -> Option<Result<String>> {
        None
    }
}

/// The error of a `present` that failed with `error` and then tried to take back what it had
/// added (`undo`): unchanged when that worked, else both said and marked as having left records
/// (so `auth` keeps the state for cleanup). The one rollback path every provider takes.
pub fn rolled_back(error: Error, undo: Result<()>, what: &str) -> Error {
    match undo {
        Ok(()) => error,
        Err(undo) => also_failed(
            error,
            &format!("could not take back {what}: {}", undo.message()),
        ),
    }
}

/// `error` with what failed while undoing it (`also`: "could not put back ..."), marked as having
/// left records.
pub fn also_failed(error: Error, also: &str) -> Error {
    Error::new(error.kind(), format!("{}; also {also}", error.message())).with_leftovers()
}

/// What a provider can publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serves {
    /// DNS records (TXT, CNAME).
    Dns,
    /// Files served over HTTP.
    Http,
    /// Both (a program that knows what to do with either).
    Both,
}

impl Serves {
    pub fn dns(self) -> bool {
        self != Serves::Http
    }

    pub fn http(self) -> bool {
        self != Serves::Dns
    }
}

/// One row of the provider table ([`spec`] makes it from a [`Provider`]).
pub struct ProviderSpec {
    /// The name `--provider` takes and the state records.
    pub name: &'static str,
    pub serves: Serves,
    /// A `[[zone]]` table read as this provider's flags.
    pub zone_flags: fn(&toml::Table) -> std::result::Result<ProviderArgs, String>,
    /// Builds the publisher, validating every setting before anything changes anywhere.
    pub build: fn(&Setup) -> Result<Box<dyn Publisher>>,
    /// How a record was published, for grouping cleanups ([`Provider::how_published`]).
    pub how_published: fn(&Published) -> Result<String>,
}

impl std::fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ProviderSpec").field(&self.name).finish()
    }
}

/// What a provider is built from.
pub struct Setup<'a> {
    /// The flags it reads: a `[[zone]]`'s settings, else the command line's.
    pub flags: &'a ProviderArgs,
    pub env: &'a dyn Env,
    /// Records an earlier `auth` published (for cleanup; empty for auth), all published alike: what
    /// the provider recorded in their undo data stands in for flags cleanup was not given.
    pub remembered: &'a [Published],
    /// `--ttl`.
    pub ttl: u32,
    /// The resolver of the run (`--resolver`, or the system's), made on first use.
    pub resolver: &'a dyn Fn() -> Result<Arc<Resolver>>,
    /// The state directory, beside which changes that must not overlap take their locks.
    pub state_dir: &'a std::path::Path,
}

/// The names `--provider` accepts.
pub fn provider_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(PROVIDERS.iter().map(|p| p.name))
}

/// The table row for `name`.
pub fn spec(name: &str) -> Result<&'static ProviderSpec> {
    PROVIDERS.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
        Error::data(format!(
            "unknown provider {name:?} (known: {}); for a state file, remove it and the record by hand",
            names.join(", ")
        ))
    })
}

/// The name a record is routed by: the DNS owner name, or an HTTP file's host.
pub fn route_name(record: &Record) -> &str {
    match &record.at {
        Place::Dns { name, .. } => name,
        Place::Http(url) => &url.host,
    }
}

/// What undoes a published record: its provider and how it published it (for grouping cleanups).
/// Undo data that does not read groups alone, so its cleanup fails without holding up the others.
pub fn group_key(published: &Published) -> String {
    let how = spec(&published.provider)
        .and_then(|s| (s.how_published)(published))
        .unwrap_or_else(|e| e.message().to_string());
    format!("{}\0{how}", published.provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `published` part of state files as the version before typed providers wrote them.
    const OLD: &[&str] = &[
        r#"{"record":{"domain":"example.com","type":"TXT","name":"_dnsauth.example.com","value":"tok"},"provider":"rfc2136","location":"example.com","preexisting":false,"server":"192.0.2.1:53","settings":{"rfc2136-credentials":"/etc/dcv/rfc2136.ini","tsig-algorithm":"hmac-sha256","tsig-key":"key-one","tsig-secret-file":"/etc/dcv/one.secret"}}"#,
        r#"{"record":{"domain":"example.com","type":"TXT","name":"_dnsauth.example.com","value":"tok"},"provider":"cloudflare","location":"example.com","preexisting":true,"credentials":"/etc/dcv/cf.ini","api_url":"http://127.0.0.1:8080/client/v4/"}"#,
        r#"{"record":{"domain":"example.com","type":"HTTP","name":"http://example.com/.well-known/pki-validation/fileauth.txt","value":"tok"},"provider":"exec","location":"","preexisting":false,"program":"/usr/local/bin/dns","timeout":60.0}"#,
        r#"{"record":{"domain":"example.com","type":"HTTP","name":"http://example.com/.well-known/pki-validation/fileauth.txt","value":"tok"},"provider":"webroot","location":"/var/www/.well-known/pki-validation/fileauth.txt","preexisting":false,"replaced":"b2xk","created_dirs":["/var/www/.well-known"]}"#,
    ];

    #[test]
    fn a_flag_wins_over_the_memory_which_fills_what_was_not_given() {
        let flags = azure::AzureArgs {
            azure_zone: Some("given.example".into()),
            ..Default::default()
        };
        let memory = azure::AzureArgs {
            azure_zone: Some("remembered.example".into()),
            azure_resource_group: Some("dns".into()),
            azure_managed_identity: true,
            ..Default::default()
        };
        let merged = or_remembered(flags.clone(), Some(&memory)).unwrap();
        assert_eq!(merged.azure_zone.as_deref(), Some("given.example"));
        assert_eq!(merged.azure_resource_group.as_deref(), Some("dns"));
        assert!(merged.azure_managed_identity, "a switch left off is filled");
        let alone = or_remembered(flags, None::<&azure::Undo>).unwrap();
        assert_eq!(alone.azure_resource_group, None);
    }

    #[test]
    fn state_files_of_the_previous_version_read_keep_their_shape_and_group() {
        for text in OLD {
            let p: Published = serde_json::from_str(text).unwrap();
            let back = serde_json::to_value(&p).unwrap();
            let original: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(back, original, "the JSON shape is kept");
            let key = group_key(&p);
            assert!(key.starts_with(&p.provider), "{key}");
        }
        let rfc: Published = serde_json::from_str(OLD[0]).unwrap();
        let rfc_undo: rfc2136::Undo = rfc.undo().unwrap();
        let undo = &rfc_undo;
        assert_eq!(undo.server.as_deref(), Some("192.0.2.1:53"));
        assert_eq!(undo.settings.tsig_key.as_deref(), Some("key-one"));
        assert_eq!(
            undo.settings.tsig_secret_file.as_deref(),
            Some(std::path::Path::new("/etc/dcv/one.secret"))
        );
        assert_eq!(undo.settings.tsig_algorithm.as_deref(), Some("hmac-sha256"));
        let cf: Published = serde_json::from_str(OLD[1]).unwrap();
        let undo: cloudflare::Undo = cf.undo().unwrap();
        assert_eq!(
            undo.cloudflare_credentials.as_deref(),
            Some(std::path::Path::new("/etc/dcv/cf.ini"))
        );
        assert_eq!(
            undo.cloudflare_api_url.as_deref(),
            Some("http://127.0.0.1:8080/client/v4/")
        );
        let exec: Published = serde_json::from_str(OLD[2]).unwrap();
        let undo: exec::Undo = exec.undo().unwrap();
        assert_eq!(
            undo.exec.as_deref(),
            Some(std::path::Path::new("/usr/local/bin/dns"))
        );
        assert_eq!(undo.exec_timeout, Some(60.0));
        // A webroot groups by its web root, whatever each file replaced.
        let web: Published = serde_json::from_str(OLD[3]).unwrap();
        assert_eq!(group_key(&web), "webroot\0/var/www");

        // Two TSIG keys on one server are two groups; the same settings are one.
        let mut other_key = rfc.clone();
        other_key
            .set_undo(&rfc2136::Undo {
                server: Some("192.0.2.1:53".into()),
                settings: rfc2136::Rfc2136Args {
                    tsig_key: Some("key-two".into()),
                    ..rfc_undo.settings.clone()
                },
            })
            .unwrap();
        assert_ne!(group_key(&rfc), group_key(&other_key));
        let mut same = rfc.clone();
        same.record.at = Place::Dns {
            rtype: crate::record::RecordType::Txt,
            name: "_dnsauth.www.example.com".into(),
        };
        assert_eq!(group_key(&rfc), group_key(&same));
    }

    /// Whole-set providers remember their flags under the flags' own names, as 0.1.0 wrote them.
    #[test]
    fn state_of_whole_set_providers_of_the_previous_version_reads_as_their_flags() {
        let pdns: Published = serde_json::from_str(r#"{"record":{"domain":"example.com","type":"TXT","name":"_dnsauth.example.com","value":"tok"},"provider":"powerdns","location":"example.com","powerdns_url":"http://127.0.0.1:8081","powerdns_api_key_file":"/etc/dcv/pdns.key"}"#).unwrap();
        let undo: powerdns::Undo = pdns.undo().unwrap();
        assert_eq!(undo.powerdns_url.as_deref(), Some("http://127.0.0.1:8081"));
        assert!(undo.powerdns_server_id.is_none());
        #[cfg(feature = "route53")]
        {
            let r53: Published = serde_json::from_str(r#"{"record":{"domain":"example.com","type":"TXT","name":"_dnsauth.example.com","value":"tok"},"provider":"route53","location":"example.com","route53_profile":"dns","route53_endpoint":"http://127.0.0.1:5000"}"#).unwrap();
            let undo: route53::Undo = r53.undo().unwrap();
            assert_eq!(undo.flags.route53_profile.as_deref(), Some("dns"));
            assert_eq!(
                undo.route53_endpoint.as_deref(),
                Some("http://127.0.0.1:5000")
            );
        }
    }
}
