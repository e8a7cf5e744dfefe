//! The azure provider's settings: every flag checked (names that go into URL paths, the endpoint
//! and authority URLs, the credential chosen) before any request.

use super::auth::{Choice, Credential};
use super::{AUTHORITY, ENDPOINT, Undo};
use crate::error::{Error, Result};
use crate::publish::api_url;
use crate::publish::txt::normalize;

/// Everything the provider needs, checked.
#[derive(Clone, Debug)]
pub struct AzureSettings {
    pub subscription: String,
    pub resource_group: String,
    pub zone: Option<String>,
    pub endpoint: String,
    pub authority: String,
    pub credential: Credential,
    pub ttl: u32,
}

impl AzureSettings {
    /// From the flags merged with what the state remembered (`undo`) and the environment.
    pub fn new(undo: &Undo, env: &dyn crate::env::Env, ttl: u32) -> Result<AzureSettings> {
        let subscription = undo.azure_subscription_id.clone().ok_or_else(|| {
            Error::config(
                "--provider azure needs the subscription: set AZURE_SUBSCRIPTION_ID or pass --azure-subscription-id ID",
            )
        })?;
        checked_name(
            &subscription,
            "--azure-subscription-id",
            "a subscription id",
        )?;
        let resource_group = undo.azure_resource_group.clone().ok_or_else(|| {
            Error::usage("--provider azure needs --azure-resource-group NAME (the resource group of the DNS zones)")
        })?;
        checked_name(
            &resource_group,
            "--azure-resource-group",
            "a resource group name",
        )?;
        let credential = Credential::choose(
            &Choice {
                tenant: undo.azure_tenant_id.clone(),
                client_id: undo.azure_client_id.clone(),
                secret_file: undo.azure_client_secret_file.clone(),
                managed_identity: undo.azure_managed_identity,
            },
            env,
        )?;
        let url = |flag: &str, given: &Option<String>, default: &str| {
            api_url::check(flag, given.as_deref().unwrap_or(default))
                .map(|u| u.trim_end_matches('/').to_string())
        };
        Ok(AzureSettings {
            subscription,
            resource_group,
            zone: undo.azure_zone.as_deref().map(normalize),
            endpoint: url("--azure-endpoint", &undo.azure_endpoint, ENDPOINT)?,
            authority: url(
                "--azure-authority-host",
                &undo.azure_authority_host,
                AUTHORITY,
            )?,
            credential,
            ttl,
        })
    }
}

/// `value` of `flag` as it may go into a URL path: letters, digits, `-`, `_`, `.`, `(`, `)`.
fn checked_name(value: &str, flag: &str, what: &str) -> Result<()> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.()".contains(&b))
    {
        return Err(Error::usage(format!(
            "{flag} {value:?} is not {what} (letters, digits, - _ . ( ))"
        )));
    }
    Ok(())
}
