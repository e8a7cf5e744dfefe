//! Publishing records: one [`Publisher`] trait, one file (or folder) per provider, one table line each.
//!
//! A publisher changes the outside world and nothing else: it never waits for propagation, never prints
//! and never picks an exit code beyond the error kind of its failure. It takes whole batches so that a
//! DNS provider can send one UPDATE per zone for a run's records.
//!
//! A provider owns its flags ([`ProviderSpec::args`], shown under "Provider: NAME" in `--help`), builds
//! and validates its settings once, with no network, from those flags, the environment, the config
//! file (already merged into the flags) and, for cleanup, what the state remembered
//! ([`ProviderSpec::build`]), and keeps its undo data in [`Published::undo`]. Adding a provider is
//! its file plus one line in [`PROVIDERS`].

use crate::config::{Env, ProcessEnv};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::record::{Published, Record};
use crate::zones;
use clap::{ArgMatches, FromArgMatches};

pub mod api_url;
pub mod cloudflare;
pub mod credentials;
pub mod exec;
pub mod powerdns;
pub mod rfc2136;
pub mod txt;
pub mod webroot;

/// Every provider: its name, what it serves, its flags, how to build it.
pub const PROVIDERS: &[ProviderSpec] = &[
    rfc2136::PROVIDER,
    cloudflare::PROVIDER,
    webroot::PROVIDER,
    exec::PROVIDER,
    powerdns::PROVIDER,
];

/// A backend that can add records and take exactly those records away again.
pub trait Publisher {
    /// The provider's name as given to `--provider`.
    fn provider(&self) -> &'static str;

    /// What cleanup would need if this process died in the middle of `present`, read before anything
    /// changes (the content of a file about to be replaced, the server an UPDATE goes to); `auth`
    /// saves it as pending state. The default records only the records themselves.
    fn prepare(&self, records: &[Record]) -> Result<Vec<Published>> {
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

/// One row of the provider table.
pub struct ProviderSpec {
    /// The name `--provider` takes and the state records.
    pub name: &'static str,
    pub serves: Serves,
    /// Adds the provider's flags to a command (its `clap::Args::augment_args`).
    pub args: fn(clap::Command) -> clap::Command,
    /// Builds the publisher, validating every setting before anything changes anywhere.
    pub build: fn(&Setup) -> Result<Box<dyn Publisher>>,
    /// Where a published record lives (a web root, a DNS server), so cleanup undoes each place's
    /// records as one batch.
    pub place: fn(&Published) -> String,
}

/// What a provider is built from.
pub struct Setup<'a> {
    pub ctx: &'a Context,
    /// The flags it reads: a `[[zone]]`'s settings, else the command line's.
    pub matches: Option<&'a ArgMatches>,
    pub env: &'a dyn Env,
    /// Records an earlier `auth` published (for cleanup; empty for auth): what the provider recorded
    /// in their undo data stands in for flags cleanup was not given.
    pub remembered: &'a [Published],
}

impl Setup<'_> {
    /// The provider's own flags, read back from the command line (and config file).
    pub fn args<T: FromArgMatches>(&self) -> Result<T> {
        let empty = ArgMatches::default();
        let matches = self
            .matches
            .or(self.ctx.cfg.provider_matches.as_ref())
            .unwrap_or(&empty);
        T::from_arg_matches(matches)
            .map_err(|e| Error::usage(format!("bad provider flags: {}", e.kind())))
    }

    /// The undo data the first remembered record of this provider holds, as `T`.
    pub fn remembered<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T> {
        match self.remembered.first() {
            Some(p) => p.undo(),
            None => Ok(T::default()),
        }
    }
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

/// The publisher `--provider` names, for `auth`.
pub fn for_auth(ctx: &Context, name: &str) -> Result<Box<dyn Publisher>> {
    (spec(name)?.build)(&Setup {
        ctx,
        matches: None,
        env: &ProcessEnv,
        remembered: &[],
    })
}

/// The publisher that undoes `published` (all from provider `name` and one place), with the
/// settings of the `[[zone]]` the records are in when that zone uses this provider.
pub fn for_cleanup(
    ctx: &Context,
    name: &str,
    published: &[Published],
) -> Result<Box<dyn Publisher>> {
    let zone = published
        .first()
        .and_then(|p| zones::zone_for(&ctx.cfg.zones, route_name(&p.record)))
        .filter(|z| z.provider == name);
    (spec(name)?.build)(&Setup {
        ctx,
        matches: zone.map(|z| &z.matches),
        env: &ProcessEnv,
        remembered: published,
    })
}

/// The publishers a run needs: the command line's provider and one per `[[zone]]` of the config
/// file, all built (so every setting checked, every secret read) before anything changes anywhere.
pub struct Publishers {
    /// `None` zone: the command line's provider.
    all: Vec<(Option<String>, Box<dyn Publisher>)>,
}

impl Publishers {
    pub fn build(ctx: &Context) -> Result<Publishers> {
        let mut all = Vec::new();
        if let Some(name) = ctx.cfg.provider.as_deref() {
            all.push((None, for_auth(ctx, name)?));
        }
        for zone in &ctx.cfg.zones {
            let publisher = (spec(&zone.provider)?.build)(&Setup {
                ctx,
                matches: Some(&zone.matches),
                env: &ProcessEnv,
                remembered: &[],
            })
            .map_err(|e| e.context(format!("[[zone]] {}", zone.name)))?;
            all.push((Some(zone.name.clone()), publisher));
        }
        Ok(Publishers { all })
    }

    /// `records` grouped by the publisher that takes them (index into [`Publishers::get`]): the
    /// most specific `[[zone]]` holding the record's name, else the command line's provider.
    pub fn route(&self, ctx: &Context, records: &[Record]) -> Result<Vec<(usize, Vec<Record>)>> {
        let mut groups: Vec<(usize, Vec<Record>)> = Vec::new();
        for record in records {
            let zone = zones::zone_for(&ctx.cfg.zones, route_name(record)).map(|z| z.name.clone());
            let index = self
                .all
                .iter()
                .position(|(z, _)| *z == zone)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{} is in no [[zone]] of the config file and no --provider was given",
                        record.name
                    ))
                })?;
            match groups.iter_mut().find(|(i, _)| *i == index) {
                Some((_, group)) => group.push(record.clone()),
                None => groups.push((index, vec![record.clone()])),
            }
        }
        Ok(groups)
    }

    pub fn get(&mut self, index: usize) -> &mut dyn Publisher {
        self.all[index].1.as_mut()
    }
}

/// The name a record is routed by: the DNS owner name, or an HTTP file's host.
fn route_name(record: &Record) -> &str {
    record
        .http_host_and_path()
        .map_or(record.name.as_str(), |(host, _)| host)
}

/// Where a published record lives, for grouping cleanups.
pub fn place_of(published: &Published) -> String {
    spec(&published.provider)
        .map(|s| (s.place)(published))
        .unwrap_or_default()
}
