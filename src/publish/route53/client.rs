//! The Route 53 calls the provider makes, through the AWS SDK on a private current-thread runtime:
//! find hosted zones, read one record set, send one change batch, ask a change's status. Throttling
//! (`Throttling`, `PriorRequestNotComplete`) and 5xx are retried by the SDK's standard retry with
//! backoff; every failure becomes one [`Error`] whose kind says what to do (refused credentials 77,
//! unknown zone 78, a refused change 65, the rest 69).

use crate::error::{Error, Result};
use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_sdk_route53::Client as Sdk;
use aws_sdk_route53::config::Credentials;
use aws_sdk_route53::config::Region;
use aws_sdk_route53::config::http::HttpResponse;
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_smithy_http_client::tls::{Provider as TlsProvider, rustls_provider::CryptoMode};
use std::time::Duration;

/// Where the SDK takes its credentials and endpoint from (never a secret itself, except the keys
/// read from the environment, which go only to the SDK).
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `--route53-profile`: the SDK's profile (credentials, SSO, role, endpoint_url in ~/.aws).
    pub profile: Option<String>,
    /// The endpoint (`AWS_ENDPOINT_URL_ROUTE_53`, `AWS_ENDPOINT_URL`); `None`: the SDK's own.
    pub endpoint: Option<String>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` from the environment.
    pub static_keys: Option<Credentials>,
    /// `--route53-instance-role`: the EC2 instance metadata service (169.254.169.254) may be asked
    /// for credentials; never otherwise.
    pub instance_role: bool,
}

/// The SDK's default credential chain (environment, profile with SSO and credential_process, web
/// identity, the ECS container endpoint when its variables say so) without the EC2 instance
/// metadata service, unless `instance_role`: a link-local address is never probed by default, so a
/// machine with no credentials fails at once naming what was tried instead of waiting on it.
fn chain(conf: &ProviderConfig, instance_role: bool) -> CredentialsProviderChain {
    let chain = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "Profile",
        ProfileFileCredentialsProvider::builder()
            .configure(conf)
            .build(),
    )
    .or_else(
        "WebIdentityToken",
        WebIdentityTokenCredentialsProvider::builder()
            .configure(conf)
            .build(),
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder().configure(conf).build(),
    );
    if instance_role {
        chain.or_else(
            "Ec2InstanceMetadata",
            ImdsCredentialsProvider::builder().configure(conf).build(),
        )
    } else {
        chain
    }
}

/// A hosted zone: its id (without `/hostedzone/`) and name (no trailing dot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub private: bool,
}

/// One record set as Route 53 keeps it: values in zone-file text (`"quoted"` TXT).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    /// Fully qualified, with the trailing dot.
    pub name: String,
    pub rtype: &'static str,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
}

pub struct Client {
    runtime: tokio::runtime::Runtime,
    sdk: Sdk,
}

impl Client {
    /// The SDK client with its credential chain; sends nothing (credentials load on first call).
    pub fn new(access: &Access, timeout: Duration) -> Result<Client> {
        let runtime = crate::runtime::current_thread("route53")?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(TlsProvider::Rustls(CryptoMode::Ring))
            .build_https();
        // Route 53 is global: the region only picks the partition (aws: us-east-1). The region
        // providers are built here so that none starts its own IMDS client without `http`.
        let mut region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new());
        let mut profile_region = ProfileFileRegionProvider::builder();
        if let Some(profile) = &access.profile {
            profile_region = profile_region.profile_name(profile);
        }
        region = region.or_else(profile_region.build());
        let region = runtime
            .block_on(region.region())
            .unwrap_or_else(|| Region::new("us-east-1"));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http.clone())
            .region(region.clone())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(5)
                    .with_initial_backoff(Duration::from_millis(500)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10).min(timeout))
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        let conf = ProviderConfig::without_region()
            .with_http_client(http)
            .with_region(Some(region));
        if access.profile.is_none() {
            loader = loader.credentials_provider(chain(&conf, access.instance_role));
        }
        if let Some(profile) = &access.profile {
            // That profile only (as `aws --profile`): the environment's keys do not override it.
            let credentials = ProfileFileCredentialsProvider::builder()
                .configure(&conf)
                .profile_name(profile)
                .build();
            loader = loader
                .profile_name(profile)
                .credentials_provider(credentials);
        }
        if let Some(endpoint) = &access.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(keys) = &access.static_keys {
            loader = loader.credentials_provider(keys.clone());
        }
        let config = runtime.block_on(loader.load());
        Ok(Client {
            runtime,
            sdk: Sdk::new(&config),
        })
    }

    /// The hosted zones named exactly `name` (a public and a private one may share it).
    pub fn zones_named(&self, name: &str) -> Result<Vec<Zone>> {
        let out = self
            .runtime
            .block_on(
                self.sdk
                    .list_hosted_zones_by_name()
                    .dns_name(format!("{name}."))
                    .max_items(10)
                    .send(),
            )
            .map_err(|e| failure(e, &format!("looking up hosted zone {name}")))?;
        Ok(out
            .hosted_zones()
            .iter()
            .map(zone)
            .filter(|z| z.name.eq_ignore_ascii_case(name))
            .collect())
    }

    /// The hosted zone with id `id`.
    pub fn zone_by_id(&self, id: &str) -> Result<Zone> {
        let out = self
            .runtime
            .block_on(self.sdk.get_hosted_zone().id(id).send())
            .map_err(|e| failure(e, &format!("reading hosted zone {id}")))?;
        out.hosted_zone().map(zone).ok_or_else(|| {
            Error::config(format!(
                "route53: hosted zone {id} not found; check --route53-zone-id"
            ))
        })
    }

    /// The set `name` (no trailing dot) / `rtype` in `zone`; empty when there is none.
    pub fn set(&self, zone: &Zone, name: &str, rtype: &'static str) -> Result<Set> {
        let fqdn = format!("{name}.");
        let out = self
            .runtime
            .block_on(
                self.sdk
                    .list_resource_record_sets()
                    .hosted_zone_id(&zone.id)
                    .start_record_name(&fqdn)
                    .start_record_type(RrType::from(rtype))
                    .max_items(1)
                    .send(),
            )
            .map_err(|e| failure(e, &format!("reading {rtype} {name} in zone {}", zone.name)))?;
        let found = out.resource_record_sets().iter().find(|s| {
            s.set_identifier().is_none()
                && s.r#type().as_str() == rtype
                && unescape(s.name()).eq_ignore_ascii_case(&fqdn)
        });
        Ok(match found {
            Some(s) => Set {
                name: s.name().to_string(),
                rtype,
                ttl: s.ttl(),
                values: s
                    .resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect(),
            },
            None => Set {
                name: fqdn,
                rtype,
                ..Set::default()
            },
        })
    }

    /// Writes `sets` (each as it should be; `before` as it was) to `zone` in one change batch,
    /// which Route 53 applies all or nothing; returns the change id.
    pub fn change(&self, zone: &Zone, sets: &[(Set, Set)], ttl: i64, what: &str) -> Result<String> {
        let changes = sets
            .iter()
            .map(|(after, before)| {
                let (action, set) = if after.values.is_empty() {
                    (ChangeAction::Delete, before)
                } else {
                    (ChangeAction::Upsert, after)
                };
                let records = set
                    .values
                    .iter()
                    .map(|v| ResourceRecord::builder().value(v).build())
                    .collect::<std::result::Result<Vec<_>, _>>();
                let set = ResourceRecordSet::builder()
                    .name(&set.name)
                    .r#type(RrType::from(set.rtype))
                    .ttl(set.ttl.unwrap_or(ttl))
                    .set_resource_records(records.ok())
                    .build();
                Change::builder()
                    .action(action)
                    .set_resource_record_set(set.ok())
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .and_then(|c| ChangeBatch::builder().set_changes(Some(c)).build())
            .map_err(|e| Error::software(format!("route53: building the change batch: {e}")))?;
        let out = self
            .runtime
            .block_on(
                self.sdk
                    .change_resource_record_sets()
                    .hosted_zone_id(&zone.id)
                    .change_batch(changes)
                    .send(),
            )
            .map_err(|e| failure(e, &format!("{what} in zone {}", zone.name)))?;
        Ok(out
            .change_info()
            .map(|c| c.id().to_string())
            .unwrap_or_default())
    }

    /// Whether change `id` is INSYNC (on every Route 53 nameserver).
    pub fn in_sync(&self, id: &str) -> Result<bool> {
        let out = self
            .runtime
            .block_on(self.sdk.get_change().id(id).send())
            .map_err(|e| failure(e, &format!("asking the status of change {id}")))?;
        Ok(out
            .change_info()
            .is_some_and(|c| *c.status() == ChangeStatus::Insync))
    }
}

fn zone(z: &aws_sdk_route53::types::HostedZone) -> Zone {
    Zone {
        id: z.id().trim_start_matches("/hostedzone/").to_string(),
        name: unescape(z.name()).trim_end_matches('.').to_lowercase(),
        private: z.config().is_some_and(|c| c.private_zone()),
    }
}

/// A name as Route 53 writes it, its `\NNN` octal escapes (for `*` and the like) undone.
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a failed call means: credentials refused 77, no such zone 78, a refused change 65 with
/// Route 53's message, no credentials found 78, anything else (network, throttling after the
/// retries) 69.
fn failure<E>(e: SdkError<E, HttpResponse>, what: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let status = e.raw_response().map(|r| r.status().as_u16());
    let said = match (e.message(), status) {
        (Some(m), _) if !code.is_empty() => format!("{code}: {m}"),
        _ if !code.is_empty() => code.clone(),
        // An answer whose error the SDK could not read: its status says enough.
        (_, Some(status)) => format!("HTTP {status}"),
        (_, None) => crate::error::chain(&e),
    };
    let said = said.replace('\n', " ");
    let code = match (code.as_str(), status) {
        ("", Some(401 | 403)) => "AccessDenied",
        (code, _) => code,
    };
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "InvalidClientTokenId"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "ExpiredToken"
        | "IncompleteSignature" => Error::no_perm(format!(
            "route53: {what}: {said}; the AWS credentials are refused: check the key, the profile (--route53-profile) and the IAM policy (route53:ListHostedZonesByName, GetHostedZone, ListResourceRecordSets, ChangeResourceRecordSets, GetChange)"
        )),
        "NoSuchHostedZone" | "InvalidDomainName" => {
            Error::config(format!("route53: {what}: {said}; check --route53-zone-id"))
        }
        "InvalidChangeBatch" | "InvalidInput" => Error::data(format!("route53: {what}: {said}")),
        _ if said.contains("credential") => Error::config(format!(
            "route53: {what}: {said}; no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --route53-profile, or run with an instance role"
        )),
        _ => Error::unavailable(format!(
            "route53: {what}: {said}; check the network and AWS_ENDPOINT_URL"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn octal_escapes_are_undone() {
        assert_eq!(super::unescape("\\052.example.com."), "*.example.com.");
        assert_eq!(super::unescape("a\\b."), "a\\b.");
    }
}
