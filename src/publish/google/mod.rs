//! The `google` provider: TXT/CNAME records in Google Cloud DNS managed zones, through its REST API
//! (v1) with the reqwest client the binary already has.
//!
//! Cloud DNS keeps a record set whole, so the provider reads the set and sends one atomic change per
//! zone whose `deletions` are the sets as read and whose `additions` are the sets as they should be
//! (every value that was there, plus ours; the set's TTL kept when it exists). Cloud DNS refuses
//! the change, changing nothing, when a deletion no longer matches the set: the flow in
//! `rrset.rs` then reads again and sends the change again (bounded), so another program's change
//! is never lost. Cleanup removes only our value, deleting the set when nothing else is left; a
//! value already there is reported `preexisting` and left alone. When a later zone's change fails,
//! the zones already changed are put back. After the changes the provider waits until each is
//! `done` (served by Cloud DNS's nameservers), so the propagation check does not start early.
//!
//! Settings, checked with no network: the project from `--google-project`, the credentials
//! file's `project_id`, `GOOGLE_CLOUD_PROJECT` (or the metadata server's, with it); credentials as
//! `auth.rs` finds them and `tokens.rs` turns them into access tokens (`--google-credentials FILE`, `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//! application default credentials, `--google-metadata` / `GCE_METADATA_HOST`);
//! `--google-endpoint URL` (default the real API; https, or http to loopback only); `--ttl`. The
//! zone is the longest of the record name and its parents with a public managed zone
//! (`managedZones?dnsName=`); `--google-zone NAME` names one instead (needed for a private zone).
//! The state keeps the project, the zone, the endpoint and where the credentials were read from,
//! never a secret. Errors: credentials refused 77, none found 78 naming what was tried; no zone 78
//! naming the names tried; a change Cloud DNS refuses 65 with its message; throttling (429,
//! `rateLimitExceeded`) and 5xx retried with backoff honouring `Retry-After`, then 69; a change
//! not done in time 75.

pub mod auth;
mod client;
mod external;
mod http;
mod tokens;

use super::rrset::{SetApi, SetLocks};
use super::txt::normalize;
use super::zones::Zones;
use super::{Provider, Publisher, Serves, Setup, or_remembered, recorded_path};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::record::Published;
use auth::Credentials;
use client::{Change, Client, Set, Zone};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokens::Tokens;

/// The provider name.
pub const NAME: &str = "google";

/// The Cloud DNS API.
pub const ENDPOINT: &str = "https://dns.googleapis.com/dns/v1";

const HEADING: &str = "Provider: google";

/// The environment variables naming the project, in the order Google's tools read them.
const PROJECT_ENV: &[&str] = &[
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
];

/// How long a change may take to be done (Cloud DNS: usually seconds).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(300);
const CHANGE_POLL: Duration = Duration::from_millis(500);

/// The google flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GoogleArgs {
    /// The Google Cloud project holding the zones [default: project_id of the credentials file,
    /// else GOOGLE_CLOUD_PROJECT].
    #[arg(long, value_name = "ID", help_heading = HEADING)]
    pub google_project: Option<String>,
    /// The managed zone to publish in, by its name (needed for a private zone) [default: the
    /// public zone of the record's name or its nearest parent].
    #[arg(long, value_name = "NAME", help_heading = HEADING)]
    pub google_zone: Option<String>,
    /// A service account key or gcloud credentials file (JSON) [default:
    /// GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application default credentials].
    #[arg(long, value_name = "FILE", help_heading = HEADING)]
    pub google_credentials: Option<PathBuf>,
    /// Take credentials from the metadata server (Compute Engine, GKE, Cloud Run; GCE_METADATA_HOST
    /// if set); never asked otherwise unless GCE_METADATA_HOST is set.
    #[arg(long, help_heading = HEADING)]
    pub google_metadata: bool,
    /// The Cloud DNS API [default: https://dns.googleapis.com/dns/v1] (https, or http to loopback).
    #[arg(long, value_name = "URL", help_heading = HEADING)]
    pub google_endpoint: Option<String>,
}

/// What the state keeps, so cleanup needs no flags: the flags as resolved (where the credentials
/// are read from, absolute, never a secret) and the metadata server the environment named.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Undo {
    #[serde(flatten)]
    pub flags: GoogleArgs,
    /// `GCE_METADATA_HOST` as it was, so cleanup asks the same server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_metadata_host: Option<String>,
}

/// The project: `--google-project`, the credentials file's `project_id`, the environment's;
/// `None` (the metadata server's, asked when first needed) only with the metadata server's
/// credentials.
fn project(flags: &GoogleArgs, credentials: &Credentials, env: &dyn Env) -> Result<Option<String>> {
    let project = (flags.google_project.clone())
        .or_else(|| credentials.project.clone())
        .or_else(|| PROJECT_ENV.iter().find_map(|v| env.var(v)));
    match &project {
        Some(project) => check_id("--google-project", project, "a project id, e.g. my-project")?,
        None if matches!(credentials.source, auth::Source::Metadata { .. }) => {}
        None => {
            return Err(Error::config(format!(
                "google: no project (tried --google-project, project_id in {}, {}); pass --google-project ID",
                credentials.origin,
                PROJECT_ENV.join(", ")
            )));
        }
    }
    Ok(project)
}

/// A project id or zone name: lower-case letters, digits, `-` (and `.` `:` of domain-scoped
/// projects).
fn check_id(flag: &str, id: &str, what: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("{flag} {id:?} is not {what}")))
    }
}

impl Provider for Google {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Dns;
    type Args = GoogleArgs;
    type Undo = Undo;

    /// Flags, env and (for cleanup) what the state remembered; a flag wins over the memory, the
    /// memory over the environment.
    fn publisher(
        args: GoogleArgs,
        setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let mut memory = remembered.cloned().unwrap_or_default();
        // The credentials are chosen as a group: given ones replace the remembered ones whole.
        if args.google_credentials.is_some() || args.google_metadata {
            memory.flags.google_credentials = None;
            memory.flags.google_metadata = false;
        }
        let mut undo = Undo {
            flags: or_remembered(args, Some(&memory.flags))?,
            google_metadata_host: memory.google_metadata_host,
        };
        undo.flags.google_credentials =
            (undo.flags.google_credentials).map(|file| recorded_path(&file).into());
        let endpoint = undo.flags.google_endpoint.as_deref().unwrap_or(ENDPOINT);
        let endpoint = super::api_url::check("--google-endpoint", endpoint)?;
        if let Some(zone) = &undo.flags.google_zone {
            check_id(
                "--google-zone",
                zone,
                "a managed zone name, e.g. example-com",
            )?;
        }
        let file = undo.flags.google_credentials.as_deref();
        let host = undo.google_metadata_host.as_deref();
        let credentials = Credentials::find(file, undo.flags.google_metadata, host, setup.env)?;
        let project = project(&undo.flags, &credentials, setup.env)?;
        // Where the credentials came from, so a flagless cleanup reads the same.
        match &credentials.source {
            auth::Source::Metadata { host } => {
                undo.flags.google_metadata = true;
                undo.google_metadata_host = (host != auth::METADATA_HOST).then(|| host.clone());
            }
            _ => {
                let origin = std::path::Path::new(&credentials.origin);
                undo.flags.google_credentials = Some(recorded_path(origin).into());
            }
        }
        let http = crate::http_client::api_client("google", Duration::from_secs(30))?;
        let tokens = Tokens::new(credentials, http.clone());
        Ok(Box::new(Google {
            client: Client::new(http, endpoint, project, tokens),
            ttl: setup.ttl,
            zone: undo.flags.google_zone.clone(),
            by_dns_name: Zones::default(),
            by_name: Zones::default(),
            remember: undo,
            locks: SetLocks::beside_state(setup.state_dir),
        }))
    }
}

/// Publishes through Cloud DNS.
pub struct Google {
    client: Client,
    ttl: u32,
    zone: Option<String>,
    /// Managed zones looked up this run: by DNS name (`None`: no public zone) and by name.
    by_dns_name: Zones<Option<Zone>>,
    by_name: Zones<Zone>,
    remember: Undo,
    locks: SetLocks,
}

impl Google {
    /// The managed zone called `name`, asked once.
    fn zone_named(&mut self, name: &str) -> Result<Zone> {
        self.by_name.named(name, |name| self.client.zone(name))
    }
}

/// Each zone's change is one atomic `changes` call; each is waited on until done.
impl SetApi for Google {
    type Zone = Zone;
    type Set = Set;
    type Undo = Undo;
    type Sent = (String, Change);
    const NAME: &'static str = NAME;
    const PUTTING_BACK: &'static str = "putting the record sets back";

    fn zone_id(zone: &Zone) -> &str {
        &zone.name
    }

    fn locks(&self) -> &SetLocks {
        &self.locks
    }

    fn zone_name(zone: &Zone) -> &str {
        &zone.dns_name
    }

    /// `--google-zone`'s zone, else the public zone of the longest of the name and its parents.
    fn zone_for(&mut self, name: &str) -> Result<Zone> {
        if self.remember.flags.google_project.is_none() {
            self.remember.flags.google_project = self.client.project().ok().map(str::to_string);
        }
        let name = normalize(name);
        if let Some(zone_name) = self.zone.clone() {
            let zone = self.zone_named(&zone_name)?;
            if name != zone.dns_name && !name.ends_with(&format!(".{}", zone.dns_name)) {
                return Err(Error::config(format!(
                    "google: {name} is not in managed zone {zone_name} ({}); fix --google-zone",
                    zone.dns_name
                )));
            }
            return Ok(zone);
        }
        let client = &self.client;
        self.by_dns_name.holding(
            &name,
            |candidate| Ok(client.zones_named(candidate)?.into_iter().find(|z| !z.private)),
            |tried| {
                Error::config(format!(
                    "google: no public managed zone for {name} in project {} (tried {}); create it, or name a private one with --google-zone",
                    client.project().unwrap_or("?"),
                    tried.join(", ")
                ))
            },
        )
    }

    /// The zone `published` went to (its recorded zone name, else looked up again).
    fn zone_of(&mut self, published: &Published) -> Result<Zone> {
        if published.location.is_empty() {
            return self.zone_for(published.record.dns_for(NAME)?.1);
        }
        self.zone_named(&published.location)
    }

    fn location(zone: &Zone) -> String {
        zone.name.clone()
    }

    /// The project is recorded too when it came from the key file or the environment, so cleanup
    /// finds the zone with the same project.
    fn remembered(&self) -> &Undo {
        &self.remember
    }

    fn read(&self, zone: &Zone, name: &str, rtype: &'static str) -> Result<Set> {
        self.client.set(zone, name, rtype)
    }

    /// Deletions: the sets as read (that exist); additions: the sets as they should be.
    fn write(&self, zone: &Zone, sets: &[(Set, Set)], what: &str) -> Result<(String, Change)> {
        let additions: Vec<&Set> = sets
            .iter()
            .map(|(after, _)| after)
            .filter(|s| !s.rrdatas.is_empty())
            .collect();
        let deletions: Vec<&Set> = sets
            .iter()
            .map(|(_, before)| before)
            .filter(|s| !s.rrdatas.is_empty())
            .collect();
        let change = self.client.change(zone, &additions, &deletions, what)?;
        Ok((zone.name.clone(), change))
    }

    /// Waits until every change is done (served by Cloud DNS's nameservers).
    fn settle(&self, sent: &[(String, Change)]) -> Result<()> {
        let deadline = Instant::now() + CHANGE_TIMEOUT;
        for (zone, change) in sent {
            let mut status = change.status.clone();
            while status != "done" && !change.id.is_empty() {
                if Instant::now() >= deadline {
                    return Err(Error::temp_fail(format!(
                        "google: change {} in zone {zone} is not done after {}s; Cloud DNS is slow, run the command again later",
                        change.id,
                        CHANGE_TIMEOUT.as_secs()
                    )));
                }
                crate::signals::sleep(CHANGE_POLL)?;
                status = self.client.change_status(zone, &change.id)?.status;
            }
        }
        Ok(())
    }

    fn values(set: &Set) -> Vec<&str> {
        set.rrdatas.iter().map(String::as_str).collect()
    }

    fn add(&self, set: &mut Set, content: String) {
        set.rrdatas.push(content);
        set.ttl = set.ttl.or(Some(self.ttl));
    }

    fn retain_values(set: &mut Set, keep: &mut dyn FnMut(&str) -> bool) {
        set.rrdatas.retain(|v| keep(v));
    }
}
