//! The `azure` provider: TXT/CNAME records in Azure DNS zones, through the Azure Resource Manager
//! REST API (2018-05-01) called with the binary's reqwest client (there is no maintained Rust
//! management crate for Azure DNS).
//!
//! Azure replaces a record set whole (PUT), so the provider reads the set with its ETag and PUTs it
//! back with every value that was there plus ours (keeping its TTL and metadata) on the condition
//! that it is unchanged (`If-Match: <etag>`, or `If-None-Match: *` for a new set). A 412 means
//! another writer changed the set in between: the provider reads it again, applies its own change
//! to what is there now and tries again, at most [`PRECONDITION_ATTEMPTS`] times, so unlike
//! PowerDNS and Route 53 no other program's value is lost. Cleanup removes only our value, and
//! DELETEs the set (with `If-Match`) only when nothing else is left. A value already there is
//! reported `preexisting` and left alone. Azure has no batch: a zone's sets are written one by one,
//! and when one fails the ones already written are put back (the flow in `rrset.rs` puts back the
//! zones before, holds the zone lock and reads every write back).
//!
//! Settings, checked with no network: the subscription (`--azure-subscription-id` or
//! `AZURE_SUBSCRIPTION_ID`), `--azure-resource-group` (required), `--azure-zone` (else the longest of
//! the record name and its parents that is a zone of the resource group, found with GETs),
//! `--azure-endpoint` (default `https://management.azure.com`) and `--azure-authority-host`
//! (`AZURE_AUTHORITY_HOST`, default `https://login.microsoftonline.com`), both https or http to
//! loopback; the credentials as `auth.rs` finds them. Cleanup needs none of the flags: the state
//! remembers them (never a secret). Errors: a refused credential or missing role 77; no
//! credentials, no zone (naming the names tried), no such resource group 78; a change Azure refuses
//! 65 with its message; 429 and 5xx retried with backoff honouring `Retry-After`, then 69.

mod auth;
mod client;
mod settings;

use super::rrset::{SetApi, SetLocks};
use super::txt::normalize;
use super::zones::Zones;
use super::{Provider, Publisher, Serves, Setup, also_failed, or_remembered, recorded_path};
use crate::error::{Error, Result};
use crate::record::Published;
use auth::Tokens;
use client::{Client, Condition, Set, Written, Zone};
pub use settings::AzureSettings;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

/// The provider name.
pub const NAME: &str = "azure";

/// How many times one set is written when another writer keeps changing it (412).
pub const PRECONDITION_ATTEMPTS: usize = 4;

const HEADING: &str = "Provider: azure";
const ENDPOINT: &str = "https://management.azure.com";
const AUTHORITY: &str = "https://login.microsoftonline.com";

/// The azure flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AzureArgs {
    /// The subscription of the DNS zones [default: env AZURE_SUBSCRIPTION_ID].
    #[arg(long, value_name = "ID", help_heading = HEADING)]
    pub azure_subscription_id: Option<String>,
    /// The resource group of the DNS zones.
    #[arg(long, value_name = "NAME", help_heading = HEADING)]
    pub azure_resource_group: Option<String>,
    /// The DNS zone to publish in [default: the record name or its nearest parent that is a zone
    /// of the resource group].
    #[arg(long, value_name = "ZONE", help_heading = HEADING)]
    pub azure_zone: Option<String>,
    /// Azure Resource Manager, for a sovereign cloud (https, or http to loopback only)
    /// [default: https://management.azure.com].
    #[arg(long, value_name = "URL", help_heading = HEADING)]
    pub azure_endpoint: Option<String>,
    /// Microsoft Entra ID's authority host [default: env AZURE_AUTHORITY_HOST, else
    /// https://login.microsoftonline.com].
    #[arg(long, value_name = "URL", help_heading = HEADING)]
    pub azure_authority_host: Option<String>,
    /// The service principal's tenant [default: env AZURE_TENANT_ID].
    #[arg(long, value_name = "ID", help_heading = HEADING)]
    pub azure_tenant_id: Option<String>,
    /// The service principal's client (application) id [default: env AZURE_CLIENT_ID].
    #[arg(long, value_name = "ID", help_heading = HEADING)]
    pub azure_client_id: Option<String>,
    /// File holding the client secret (or env AZURE_CLIENT_SECRET / AZURE_CLIENT_SECRET_FILE;
    /// never a flag value).
    #[arg(long, value_name = "FILE", help_heading = HEADING)]
    pub azure_client_secret_file: Option<PathBuf>,
    /// Use the managed identity: IDENTITY_ENDPOINT when set, else the VM's instance metadata
    /// service (169.254.169.254, never asked without this flag).
    #[arg(long, help_heading = HEADING)]
    pub azure_managed_identity: bool,
}

/// What the state keeps, so cleanup needs no flags: the flags as resolved (secrets are never flags;
/// where a secret file is, absolute, not what it holds).
pub type Undo = AzureArgs;

impl Provider for Azure {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Dns;
    type Args = AzureArgs;
    type Undo = Undo;

    /// Flags, then what the state remembered, then the environment (for the tenant and client
    /// the environment before the state, as the secret it holds goes with them).
    fn publisher(
        mut args: AzureArgs,
        setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let env = |name: &str| setup.env.var(name).filter(|v| !v.trim().is_empty());
        args.azure_tenant_id = args.azure_tenant_id.or_else(|| env("AZURE_TENANT_ID"));
        args.azure_client_id = args.azure_client_id.or_else(|| env("AZURE_CLIENT_ID"));
        let mut undo = or_remembered(args, remembered)?;
        undo.azure_subscription_id =
            (undo.azure_subscription_id).or_else(|| env("AZURE_SUBSCRIPTION_ID"));
        undo.azure_authority_host =
            (undo.azure_authority_host).or_else(|| env("AZURE_AUTHORITY_HOST"));
        undo.azure_client_secret_file =
            (undo.azure_client_secret_file).map(|file| recorded_path(&file).into());
        let settings = AzureSettings::new(&undo, setup.env, setup.ttl)?;
        let locks = SetLocks::beside_state(setup.state_dir);
        Ok(Box::new(Azure::new(settings, undo, locks)?))
    }
}

/// Publishes through Azure DNS.
pub struct Azure {
    client: Client,
    ttl: u32,
    zone: Option<String>,
    /// The resource group, for messages.
    group: String,
    zones: Zones<Option<Zone>>,
    remember: Undo,
    locks: SetLocks,
    /// The ETag of each set this run wrote since it last read it (`None`: deleted), so that
    /// putting a set back is conditional on our own write being the last.
    written: RefCell<HashMap<String, Option<String>>>,
}

impl Azure {
    /// Sets up the client, to record `remember` with each record and take `locks`; sends nothing.
    pub fn new(settings: AzureSettings, remember: Undo, locks: SetLocks) -> Result<Azure> {
        let http = crate::http_client::api_client("", std::time::Duration::from_secs(30))?;
        let tokens = Tokens::new(http.clone(), &settings.authority, settings.credential);
        Ok(Azure {
            client: Client::new(
                http,
                tokens,
                &settings.endpoint,
                &settings.subscription,
                &settings.resource_group,
            ),
            ttl: settings.ttl,
            zone: settings.zone,
            group: settings.resource_group,
            zones: Zones::default(),
            remember,
            locks,
            written: RefCell::new(HashMap::new()),
        })
    }

    fn zone_named(&mut self, name: &str) -> Result<Option<Zone>> {
        self.zones.named(name, |n| self.client.zone_named(n))
    }

    /// The set as it is now, our record of having written it forgotten.
    fn read_set(&self, zone: &str, relative: &str, rtype: &'static str) -> Result<Set> {
        let set = self.client.set(zone, relative, rtype)?;
        self.written.borrow_mut().remove(&Self::key(&set));
        Ok(set)
    }

    /// The key of `set` in [`Azure::written`].
    fn key(set: &Set) -> String {
        format!("{}\0{}\0{}", set.zone, set.rtype, set.relative)
    }

    /// The condition writing `set` goes with: our own last write of it, else what was read.
    fn condition(&self, set: &Set) -> Condition {
        match self.written.borrow().get(&Self::key(set)) {
            Some(Some(etag)) => Condition::Matches(etag.clone()),
            Some(None) => Condition::Absent,
            None => set
                .etag
                .clone()
                .map_or(Condition::Absent, Condition::Matches),
        }
    }

    /// Writes `after` (read as `before`); on 412 reads the set again and applies the same change
    /// to what is there now, at most [`PRECONDITION_ATTEMPTS`] times.
    fn write_set(&self, after: &Set, before: &Set, what: &str) -> Result<()> {
        let mut target = after.clone();
        for _ in 0..PRECONDITION_ATTEMPTS {
            let condition = self.condition(&target);
            if target.values.is_empty() && condition == Condition::Absent {
                return Ok(());
            }
            match self.client.write(&target, &condition, what)? {
                Written::Done(etag) => {
                    self.written.borrow_mut().insert(Self::key(&target), etag);
                    return Ok(());
                }
                Written::Changed => {
                    let now = self.read_set(&target.zone, &target.relative, target.rtype)?;
                    target = rebase(&now, after, before);
                    if target.values == now.values {
                        return Ok(());
                    }
                }
            }
        }
        Err(Error::unavailable(format!(
            "azure: {what}: {} {} in zone {} changed under each of {PRECONDITION_ATTEMPTS} writes (HTTP 412); another program keeps changing it: stop it and run again",
            after.rtype, after.relative, after.zone
        )))
    }
}

/// `now` with the change from `before` to `after` applied: values we removed taken out, values we
/// added put in (with our TTL when the set is new).
fn rebase(now: &Set, after: &Set, before: &Set) -> Set {
    let has = |set: &Set, text: &str| set.values.iter().any(|v| v.text == text);
    let mut set = now.clone();
    set.values
        .retain(|v| !has(before, &v.text) || has(after, &v.text));
    for value in &after.values {
        if !has(before, &value.text) && !has(&set, &value.text) {
            set.values.push(value.clone());
        }
    }
    set.ttl = set.ttl.or(after.ttl);
    set
}

/// Each set is one conditional PUT or DELETE; Azure has no batch, so a zone's sets already written
/// are put back when a later one fails.
impl SetApi for Azure {
    type Zone = Zone;
    type Set = Set;
    type Undo = Undo;
    type Sent = ();
    const NAME: &'static str = NAME;
    const PUTTING_BACK: &'static str = "putting the record sets back";

    fn zone_id(zone: &Zone) -> &str {
        &zone.id
    }

    fn locks(&self) -> &SetLocks {
        &self.locks
    }

    fn zone_name(zone: &Zone) -> &str {
        &zone.name
    }

    /// `--azure-zone`, else the longest of `name` and its parents that is a zone of the group.
    fn zone_for(&mut self, name: &str) -> Result<Zone> {
        let name = normalize(name);
        if let Some(zone) = self.zone.clone() {
            if name != zone && !name.ends_with(&format!(".{zone}")) {
                return Err(Error::config(format!(
                    "azure: {name} is not in zone {zone}; fix --azure-zone"
                )));
            }
            return self.zone_named(&zone)?.ok_or_else(|| {
                Error::config(format!(
                    "azure: no zone {zone} in resource group {}; fix --azure-zone or --azure-resource-group",
                    self.group
                ))
            });
        }
        let (client, group) = (&self.client, &self.group);
        self.zones.holding(
            &name,
            |candidate| client.zone_named(candidate),
            |tried| {
                Error::config(format!(
                    "azure: no DNS zone for {name} in resource group {group} (tried {}); create it, or give --azure-resource-group the group that holds it",
                    tried.join(", ")
                ))
            },
        )
    }

    /// The zone `published` went to (its recorded name, else looked up again).
    fn zone_of(&mut self, published: &Published) -> Result<Zone> {
        if published.location.is_empty() {
            return self.zone_for(published.record.dns_for(NAME)?.1);
        }
        self.zone_named(&published.location)?.ok_or_else(|| {
            Error::config(format!(
                "azure: zone {} (where {} was published) is not in resource group {} any more; remove the record by hand if the zone moved",
                published.location, published.record.name(), self.group
            ))
        })
    }

    fn location(zone: &Zone) -> String {
        zone.name.clone()
    }

    fn remembered(&self) -> &Undo {
        &self.remember
    }

    fn read(&self, zone: &Zone, name: &str, rtype: &'static str) -> Result<Set> {
        // The zone's apex is `@`.
        let relative = name.strip_suffix(&format!(".{}", zone.name)).unwrap_or("@");
        self.read_set(&zone.name, relative, rtype)
    }

    /// Each set in turn; when one fails, the ones already written are put back.
    fn write(&self, zone: &Zone, sets: &[(Set, Set)], what: &str) -> Result<()> {
        let what = format!("{what} in zone {}", zone.name);
        for (i, (after, before)) in sets.iter().enumerate() {
            let Err(error) = self.write_set(after, before, &what) else {
                continue;
            };
            let failed: Vec<&Set> = sets[..i]
                .iter()
                .filter(|(after, before)| {
                    self.write_set(before, after, Self::PUTTING_BACK).is_err()
                })
                .map(|(after, _)| after)
                .collect();
            if failed.is_empty() {
                return Err(error);
            }
            let names: Vec<&str> = failed.iter().map(|s| s.relative.as_str()).collect();
            let also = format!(
                "could not put back {} in zone {}",
                names.join(", "),
                zone.name
            );
            return Err(also_failed(error, &also));
        }
        Ok(())
    }

    fn check_access(&mut self, names: &[String]) -> Option<Result<String>> {
        let mut zones: Vec<String> = Vec::new();
        for name in names {
            match self.zone_for(name) {
                Ok(zone) if !zones.contains(&zone.name) => zones.push(zone.name),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(format!(
            "azure: {} reads zone {} in resource group {} (write rights show only when auth writes)",
            self.client.who(),
            zones.join(", "),
            self.group
        )))
    }

    fn values(set: &Set) -> Vec<&str> {
        set.values.iter().map(|v| v.text.as_str()).collect()
    }

    fn add(&self, set: &mut Set, content: String) {
        set.values.push(client::value_of(set.rtype, content));
        set.ttl = set.ttl.or(Some(self.ttl));
    }

    fn retain_values(set: &mut Set, keep: &mut dyn FnMut(&str) -> bool) {
        set.values.retain(|v| keep(&v.text));
    }
}

#[cfg(test)]
mod tests;
