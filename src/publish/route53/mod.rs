//! The `route53` provider: TXT/CNAME records in AWS Route 53 hosted zones, through the AWS SDK.
//!
//! Route 53 replaces a record set whole (UPSERT), so the provider reads the set first and writes
//! it back with every value that was there plus ours (keeping the set's TTL when it exists);
//! cleanup reads it again and writes back what is left without ours, or deletes the set when
//! nothing is. A value already in the set is reported `preexisting` and left alone by cleanup. A
//! run's records go to each hosted zone in one change batch, which Route 53 applies all or
//! nothing; when a later zone fails, the zones already changed are put back. After the batches the
//! provider waits until every change is INSYNC (on all Route 53 nameservers), so the propagation
//! check that follows does not start early. dcv-hook runs sharing a state directory change a zone
//! one at a time, and every change is read back (see `rrset.rs`); another program's change landing
//! between our read and our UPSERT can still be lost.
//!
//! Credentials come from the SDK's chain, never a flag value: `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) in the environment, else `--route53-profile`'s
//! or `AWS_PROFILE`'s profile in ~/.aws (keys, SSO, assumed roles, credential_process), web
//! identity (EKS), the instance metadata service (EC2 roles). With `--route53-profile` only that
//! profile is used. The endpoint is the SDK's (`AWS_ENDPOINT_URL_ROUTE_53`, `AWS_ENDPOINT_URL`,
//! a profile's `endpoint_url`); one from the environment is remembered for cleanup. The hosted
//! zone is the longest of the record name and its parents with a public hosted zone
//! (`ListHostedZonesByName`); `--route53-zone-id` names one instead (needed for a private zone).
//! Errors: refused credentials 77, none found 78; no hosted zone 78 naming the names tried; a change
//! Route 53 refuses 65 with its message; throttling and 5xx retried by the SDK with backoff, then
//! 69; a change not INSYNC in time 75.

mod client;

use super::rrset::{SetApi, SetLocks};
use super::txt::normalize;
use super::zones::Zones;
use super::{Provider, Publisher, Serves, Setup, or_remembered};
use crate::error::{Error, Result};
use crate::record::Published;
use aws_sdk_route53::config::Credentials;
use client::{Access, Client, Set, Zone};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The provider name.
pub const NAME: &str = "route53";

const HEADING: &str = "Provider: route53";

/// How long a change may take to be INSYNC (Route 53 says usually within 60 seconds).
const SYNC_TIMEOUT: Duration = Duration::from_secs(300);
const SYNC_POLL: Duration = Duration::from_secs(2);

/// The route53 flags.
#[derive(Clone, Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Route53Args {
    /// The AWS profile to take credentials from (~/.aws/config and credentials: keys, SSO, roles)
    /// [default: the SDK's chain: env, AWS_PROFILE, web identity, ECS container credentials].
    #[arg(long, value_name = "NAME", help_heading = HEADING)]
    pub route53_profile: Option<String>,
    /// The hosted zone to publish in, e.g. Z0123456789ABCDEFGHIJ (needed for a private zone)
    /// [default: the public zone of the record's name or its nearest parent].
    #[arg(long, value_name = "ID", help_heading = HEADING)]
    pub route53_zone_id: Option<String>,
    /// Also ask the EC2 instance metadata service (169.254.169.254) for the instance role's
    /// credentials; never asked without this flag.
    #[arg(long, help_heading = HEADING)]
    pub route53_instance_role: bool,
}

/// What the state keeps, so cleanup needs no flags: the flags as resolved and the endpoint the
/// environment named (never a key).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Undo {
    #[serde(flatten)]
    pub flags: Route53Args,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53_endpoint: Option<String>,
}

/// Everything the provider needs, checked.
#[derive(Clone, Debug)]
pub struct Route53Settings {
    pub access: Access,
    pub zone_id: Option<String>,
}

impl Route53Settings {
    /// From the flags (or what the state remembered) and the environment.
    pub fn new(undo: &Undo, env: &dyn crate::env::Env) -> Result<Self> {
        if let Some(profile) = &undo.flags.route53_profile
            && (profile.is_empty() || !profile.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::usage(format!(
                "--route53-profile {profile:?} is not a profile name (a [profile NAME] of ~/.aws/config)"
            )));
        }
        let zone_id = match &undo.flags.route53_zone_id {
            Some(id) => {
                let id = id.trim_start_matches("/hostedzone/");
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(Error::usage(format!(
                        "--route53-zone-id {id:?} is not a hosted zone id (letters and digits, e.g. Z0123456789ABCDEFGHIJ)"
                    )));
                }
                Some(id.to_string())
            }
            None => None,
        };
        let endpoint = match &undo.route53_endpoint {
            Some(url) => {
                super::api_url::check_as("AWS_ENDPOINT_URL", url, crate::error::Kind::Config)?;
                Some(url.trim().trim_end_matches('/').to_string())
            }
            None => None,
        };
        // The environment's keys, unless a profile was named (then only that profile counts).
        let static_keys = match (
            &undo.flags.route53_profile,
            env.var("AWS_ACCESS_KEY_ID"),
            env.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (None, Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                Some(Credentials::new(
                    id,
                    secret,
                    env.var("AWS_SESSION_TOKEN"),
                    None,
                    "environment",
                ))
            }
            _ => None,
        };
        Ok(Route53Settings {
            access: Access {
                profile: undo.flags.route53_profile.clone(),
                endpoint,
                static_keys,
                instance_role: undo.flags.route53_instance_role,
            },
            zone_id,
        })
    }
}

impl Provider for Route53 {
    const NAME: &'static str = NAME;
    const SERVES: Serves = Serves::Dns;
    type Args = Route53Args;
    type Undo = Undo;

    /// Flags, env and (for cleanup) what the state remembered; a flag or the env wins over it.
    fn publisher(
        args: Route53Args,
        setup: &Setup,
        remembered: Option<&Undo>,
    ) -> Result<Box<dyn Publisher>> {
        let endpoint = ["AWS_ENDPOINT_URL_ROUTE_53", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|var| setup.env.var(var).filter(|v| !v.trim().is_empty()));
        let undo = Undo {
            flags: or_remembered(args, remembered)?,
            route53_endpoint: endpoint.or(remembered.and_then(|r| r.route53_endpoint.clone())),
        };
        let settings = Route53Settings::new(&undo, setup.env)?;
        Ok(Box::new(Route53 {
            client: Client::new(&settings.access, Duration::from_secs(30))?,
            ttl: setup.ttl,
            zone_id: settings.zone_id,
            by_name: Zones::default(),
            by_id: Zones::default(),
            remember: undo,
            locks: SetLocks::beside_state(setup.state_dir),
        }))
    }
}

/// Publishes through Route 53.
pub struct Route53 {
    client: Client,
    ttl: u32,
    zone_id: Option<String>,
    /// Hosted zones looked up this run, by name (`None`: no usable zone) and by id.
    by_name: Zones<Option<Zone>>,
    by_id: Zones<Zone>,
    remember: Undo,
    locks: SetLocks,
}

impl Route53 {
    fn zone_by_id(&mut self, id: &str) -> Result<Zone> {
        self.by_id.named(id, |id| self.client.zone_by_id(id))
    }

    /// Waits until every change in `ids` is INSYNC, asking every [`SYNC_POLL`].
    fn wait_in_sync(&self, ids: &[String]) -> Result<()> {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        for id in ids.iter().filter(|id| !id.is_empty()) {
            while !self.client.in_sync(id)? {
                if Instant::now() >= deadline {
                    return Err(Error::temp_fail(format!(
                        "route53: change {id} is not INSYNC after {}s; Route 53 is slow, run the command again later",
                        SYNC_TIMEOUT.as_secs()
                    )));
                }
                crate::signals::sleep(SYNC_POLL)?;
            }
        }
        Ok(())
    }
}

/// Each hosted zone's change is one change batch, which Route 53 applies all or nothing; the
/// batches' ids are waited on until INSYNC.
impl SetApi for Route53 {
    type Zone = Zone;
    type Set = Set;
    type Undo = Undo;
    type Sent = String;
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

    /// The hosted zone that holds `name`: `--route53-zone-id`'s, else the public zone of the
    /// longest of the name and its parents.
    fn zone_for(&mut self, name: &str) -> Result<Zone> {
        let name = normalize(name);
        if let Some(id) = self.zone_id.clone() {
            let zone = self.zone_by_id(&id)?;
            if name != zone.name && !name.ends_with(&format!(".{}", zone.name)) {
                return Err(Error::config(format!(
                    "route53: {name} is not in hosted zone {id} ({}); fix --route53-zone-id",
                    zone.name
                )));
            }
            return Ok(zone);
        }
        let client = &self.client;
        self.by_name.holding(
            &name,
            |candidate| Ok(client.zones_named(candidate)?.into_iter().find(|z| !z.private)),
            |tried| {
                Error::config(format!(
                    "route53: no public hosted zone for {name} (tried {}); create it, or name a private one with --route53-zone-id",
                    tried.join(", ")
                ))
            },
        )
    }

    /// The zone `published` went to (its recorded zone id, else looked up again).
    fn zone_of(&mut self, published: &Published) -> Result<Zone> {
        if published.location.is_empty() {
            return self.zone_for(published.record.dns_for(NAME)?.1);
        }
        self.zone_by_id(&published.location)
    }

    fn location(zone: &Zone) -> String {
        zone.id.clone()
    }

    fn remembered(&self) -> &Undo {
        &self.remember
    }

    fn read(&self, zone: &Zone, name: &str, rtype: &'static str) -> Result<Set> {
        let mut set = self.client.set(zone, name, rtype)?;
        set.name = format!("{name}.");
        Ok(set)
    }

    fn write(&self, zone: &Zone, sets: &[(Set, Set)], what: &str) -> Result<String> {
        self.client.change(zone, sets, i64::from(self.ttl), what)
    }

    fn settle(&self, sent: &[String]) -> Result<()> {
        self.wait_in_sync(sent)
    }

    fn values(set: &Set) -> Vec<&str> {
        set.values.iter().map(String::as_str).collect()
    }

    fn add(&self, set: &mut Set, content: String) {
        set.values.push(content);
    }

    fn retain_values(set: &mut Set, keep: &mut dyn FnMut(&str) -> bool) {
        set.values.retain(|v| keep(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn bad_settings_are_refused_before_any_call() {
        let keys =
            crate::env::FakeEnv::of(&[("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")]);
        let bad = [
            Undo {
                flags: Route53Args {
                    route53_zone_id: Some("Z12/../other".into()),
                    ..Route53Args::default()
                },
                ..Undo::default()
            },
            Undo {
                flags: Route53Args {
                    route53_profile: Some("two words".into()),
                    ..Route53Args::default()
                },
                ..Undo::default()
            },
            Undo {
                route53_endpoint: Some("http://192.0.2.1:5000".into()),
                ..Undo::default()
            },
        ];
        // The endpoint comes from the environment (AWS_ENDPOINT_URL): a bad one is 78, not 64.
        for (undo, kind) in bad
            .into_iter()
            .zip([Kind::Usage, Kind::Usage, Kind::Config])
        {
            let err = Route53Settings::new(&undo, &keys).unwrap_err();
            assert_eq!(err.kind(), kind, "{undo:?}: {err}");
        }
        let undo = Undo {
            flags: Route53Args {
                route53_zone_id: Some("/hostedzone/Z123".into()),
                ..Route53Args::default()
            },
            ..Undo::default()
        };
        let settings = Route53Settings::new(&undo, &keys).unwrap();
        assert_eq!(settings.zone_id.as_deref(), Some("Z123"));
        assert!(settings.access.static_keys.is_some(), "keys from the env");
        // A named profile is the only source of credentials.
        let undo = Undo {
            flags: Route53Args {
                route53_profile: Some("dns".into()),
                ..Route53Args::default()
            },
            ..Undo::default()
        };
        let settings = Route53Settings::new(&undo, &keys).unwrap();
        assert!(settings.access.static_keys.is_none());
    }
}
