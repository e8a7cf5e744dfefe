//! Azure credentials, found the way Azure's own tools find them, and the access token for the
//! management API they are exchanged for.
//!
//! Sources, in order (azure-identity's `EnvironmentCredential`, `WorkloadIdentityCredential`, then
//! `ManagedIdentityCredential`):
//! - a service principal: `AZURE_CLIENT_SECRET` (or the file `--azure-client-secret-file` /
//!   `AZURE_CLIENT_SECRET_FILE`) with `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`: the client
//!   credentials grant at `{authority}/{tenant}/oauth2/v2.0/token`;
//! - a federated token (AKS workload identity): `AZURE_FEDERATED_TOKEN_FILE` with tenant and
//!   client, sent as the `client_assertion` of the same grant (the file is read for each token, as
//!   the cluster rotates it);
//! - a managed identity, only when chosen: `--azure-managed-identity`, or `IDENTITY_ENDPOINT` in the
//!   environment (App Service, Container Apps and Arc set it, with `IDENTITY_HEADER`). Without
//!   `IDENTITY_ENDPOINT`, `--azure-managed-identity` asks the VM's instance metadata service
//!   (169.254.169.254); nothing ever probes it otherwise.
//!
//! A token is asked for on first use and kept until a minute before it expires. Secrets (client
//! secret, federated token, identity header, access token) are [`Secret`]s: they go only into the
//! request that needs them, never into a message.

use crate::env::Env;
use crate::error::{Error, Result};
use crate::publish::{credentials, recorded_path, rest};
use crate::retry::Policy;
use crate::secret::Secret;
use reqwest::blocking::{Client as HttpClient, RequestBuilder};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the management API's tokens are for.
const SCOPE: &str = "https://management.azure.com/.default";
const RESOURCE: &str = "https://management.azure.com/";
/// The VM's instance metadata service: asked only with `--azure-managed-identity`.
const IMDS: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Where a token comes from.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A service principal's secret (`source`: the variable or file it came from).
    Secret {
        tenant: String,
        client_id: String,
        secret: Secret,
        source: String,
    },
    /// A federated token in a file (workload identity).
    Federated {
        tenant: String,
        client_id: String,
        token_file: PathBuf,
    },
    /// A managed identity's endpoint (`IDENTITY_ENDPOINT` with its header, or the IMDS).
    Managed {
        endpoint: String,
        header: Option<Secret>,
        client_id: Option<String>,
    },
}

/// The settings a credential is chosen from (flags, or what the state remembered).
#[derive(Clone, Debug, Default)]
pub struct Choice {
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub managed_identity: bool,
}

/// What is tried, for the message when nothing is found.
const TRIED: &str = "tried AZURE_CLIENT_SECRET / AZURE_CLIENT_SECRET_FILE / --azure-client-secret-file (a service principal, with AZURE_TENANT_ID and AZURE_CLIENT_ID), AZURE_FEDERATED_TOKEN_FILE (workload identity) and IDENTITY_ENDPOINT (App Service managed identity)";

impl Credential {
    /// The credential `choice` and the environment give, the first source found; no network.
    pub fn choose(choice: &Choice, env: &dyn Env) -> Result<Credential> {
        let var = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
        let tenant = choice.tenant.clone().or_else(|| var("AZURE_TENANT_ID"));
        let client_id = choice.client_id.clone().or_else(|| var("AZURE_CLIENT_ID"));
        let identity = || {
            managed(
                var("IDENTITY_ENDPOINT"),
                var("IDENTITY_HEADER"),
                client_id.clone(),
            )
        };
        if choice.managed_identity {
            return identity();
        }
        let secret_file = choice
            .secret_file
            .clone()
            .or_else(|| var("AZURE_CLIENT_SECRET_FILE").map(PathBuf::from));
        let secret = match (secret_file, var("AZURE_CLIENT_SECRET")) {
            (Some(file), _) => Some((
                credentials::read_secret_file(&file, "the Azure client secret file")?,
                recorded_path(&file),
            )),
            (None, Some(secret)) => Some((Secret::new(secret), "AZURE_CLIENT_SECRET".into())),
            (None, None) => None,
        };
        if let Some((secret, source)) = secret {
            let (tenant, client_id) = principal(tenant, client_id.clone(), &source)?;
            return Ok(Credential::Secret {
                tenant,
                client_id,
                secret,
                source,
            });
        }
        if let Some(token_file) = var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from) {
            let (tenant, client_id) =
                principal(tenant, client_id.clone(), "AZURE_FEDERATED_TOKEN_FILE")?;
            read_assertion(&token_file)?;
            return Ok(Credential::Federated {
                tenant,
                client_id,
                token_file,
            });
        }
        if var("IDENTITY_ENDPOINT").is_some() {
            return identity();
        }
        Err(Error::config(format!(
            "azure: no credentials found ({TRIED}); set one of them, or pass --azure-managed-identity on an Azure VM"
        )))
    }

    /// What the credential is, for messages (never a secret).
    pub fn describe(&self) -> String {
        match self {
            Credential::Secret {
                client_id, source, ..
            } => format!("service principal {client_id} (secret from {source})"),
            Credential::Federated { client_id, .. } => {
                format!(
                    "service principal {client_id} (federated token from AZURE_FEDERATED_TOKEN_FILE)"
                )
            }
            Credential::Managed { endpoint, .. } => format!("the managed identity at {endpoint}"),
        }
    }
}

/// A managed identity: at `IDENTITY_ENDPOINT` (https, or http to loopback) when set, else the IMDS.
fn managed(
    endpoint: Option<String>,
    header: Option<String>,
    client_id: Option<String>,
) -> Result<Credential> {
    let endpoint = match endpoint {
        // Checked like an API base, but used as given (its path is the endpoint's own).
        Some(url) => {
            crate::publish::api_url::check("IDENTITY_ENDPOINT", &url)?;
            url.trim().to_string()
        }
        None => IMDS.to_string(),
    };
    Ok(Credential::Managed {
        endpoint,
        header: header.map(Secret::new),
        client_id,
    })
}

/// The tenant and client id a service principal from `with` needs: letters, digits, `-` and `.`
/// (a GUID, or the tenant's domain name), as they go into a URL path.
fn principal(
    tenant: Option<String>,
    client_id: Option<String>,
    with: &str,
) -> Result<(String, String)> {
    let check = |value: Option<String>, var: &str, flag: &str| {
        let value = value.ok_or_else(|| {
            Error::config(format!(
                "azure: a service principal from {with} needs {var} (or {flag}); set it"
            ))
        })?;
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(Error::usage(format!(
                "azure: {var} {value:?} is not an id (a GUID, or the tenant's domain name)"
            )));
        }
        Ok(value)
    };
    Ok((
        check(tenant, "AZURE_TENANT_ID", "--azure-tenant-id")?,
        check(client_id, "AZURE_CLIENT_ID", "--azure-client-id")?,
    ))
}

/// The federated token in `file`, checked non-empty.
fn read_assertion(file: &Path) -> Result<Secret> {
    credentials::read_secret_file(file, "AZURE_FEDERATED_TOKEN_FILE")
}

/// The management API's bearer tokens for one credential, asked once and kept until near expiry.
pub struct Tokens {
    http: HttpClient,
    /// `https://login.microsoftonline.com` or the sovereign cloud's (no trailing `/`).
    authority: String,
    credential: Credential,
    cached: RefCell<Option<(Secret, Instant)>>,
}

impl Tokens {
    pub fn new(http: HttpClient, authority: &str, credential: Credential) -> Tokens {
        Tokens {
            http,
            authority: authority.trim_end_matches('/').to_string(),
            credential,
            cached: RefCell::new(None),
        }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A token valid for at least another minute.
    pub fn token(&self) -> Result<Secret> {
        if let Some((token, until)) = self.cached.borrow().as_ref()
            && Instant::now() + Duration::from_secs(60) < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.ask()?;
        let until = Instant::now() + lifetime;
        *self.cached.borrow_mut() = Some((token.clone(), until));
        Ok(token)
    }

    /// One token from the credential's endpoint, and how long it lives.
    fn ask(&self) -> Result<(Secret, Duration)> {
        let who = self.credential.describe();
        let what = format!("getting a token for {who}");
        let describe = rest::Plain {
            provider: "azure",
            what: &what,
            check: "--azure-authority-host (or IDENTITY_ENDPOINT)",
        };
        let answer = match &self.credential {
            Credential::Managed {
                endpoint,
                header,
                client_id,
            } => rest::send(Policy::PROVIDER_API, &describe, || {
                Ok(self.identity_request(endpoint, header.as_ref(), client_id.as_deref()))
            })?,
            Credential::Secret {
                tenant,
                client_id,
                secret,
                ..
            } => rest::send(Policy::PROVIDER_API, &describe, || {
                Ok(self.grant(tenant, client_id, &[("client_secret", secret.expose())]))
            })?,
            Credential::Federated {
                tenant,
                client_id,
                token_file,
            } => {
                let assertion = read_assertion(token_file)?;
                rest::send(Policy::PROVIDER_API, &describe, || {
                    let proof = [
                        ("client_assertion", assertion.expose()),
                        ("client_assertion_type", JWT_BEARER),
                    ];
                    Ok(self.grant(tenant, client_id, &proof))
                })?
            }
        };
        if !answer.is_success() {
            return Err(refused(&answer, &what));
        }
        lifetime(&answer.body).ok_or_else(|| {
            Error::unavailable(format!(
                "azure: {what}: the answer holds no access_token; check --azure-authority-host"
            ))
        })
    }

    /// The client credentials grant at the tenant's token endpoint, proven by `proof`.
    fn grant(&self, tenant: &str, client_id: &str, proof: &[(&str, &str)]) -> RequestBuilder {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.authority);
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", SCOPE),
        ];
        form.extend_from_slice(proof);
        self.http.post(url).form(&form)
    }

    /// A managed identity's token request: App Service's endpoint (2019-08-01, with its header) or
    /// the IMDS (2018-02-01, with `Metadata: true`).
    fn identity_request(
        &self,
        endpoint: &str,
        header: Option<&Secret>,
        client_id: Option<&str>,
    ) -> RequestBuilder {
        let version = if header.is_some() {
            "2019-08-01"
        } else {
            "2018-02-01"
        };
        let mut query = vec![("resource", RESOURCE), ("api-version", version)];
        if let Some(id) = client_id {
            query.push(("client_id", id));
        }
        let request = self.http.get(endpoint).query(&query);
        match header {
            Some(h) => request.header("X-IDENTITY-HEADER", h.expose()),
            None => request.header("Metadata", "true"),
        }
    }
}

/// The token and how long it lives, from a token endpoint's answer: `expires_in` seconds (a
/// number from Entra ID, a string from some identity endpoints) or `expires_on` (a Unix time);
/// five minutes when it says neither.
fn lifetime(body: &str) -> Option<(Secret, Duration)> {
    let answer: serde_json::Value = serde_json::from_str(body).ok()?;
    let token = answer["access_token"].as_str()?;
    let number = |v: &serde_json::Value| v.as_u64().or_else(|| v.as_str()?.parse().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seconds = number(&answer["expires_in"])
        .or_else(|| number(&answer["expires_on"]).map(|on| on.saturating_sub(now)))
        .unwrap_or(300);
    Some((Secret::new(token), Duration::from_secs(seconds)))
}

/// A token refused: a bad secret or unknown client 77, an unknown tenant or bad request 78.
fn refused(answer: &rest::Answer, what: &str) -> Error {
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
    let code = body["error"].as_str().unwrap_or_default();
    let said = body["error_description"]
        .as_str()
        .or(body["error"]["message"].as_str())
        .unwrap_or(code);
    let said: String = crate::ui::one_line(said).chars().take(200).collect();
    let msg = format!("azure: {what}: HTTP {} {code}: {said}", answer.status);
    match (answer.status, code) {
        (_, "invalid_client" | "unauthorized_client" | "invalid_grant") | (401 | 403, _) => {
            Error::no_perm(format!(
                "{msg}; the credentials are refused: check the client secret (or federated token) and AZURE_CLIENT_ID"
            ))
        }
        _ => Error::config(format!(
            "{msg}; check AZURE_TENANT_ID, AZURE_CLIENT_ID and --azure-authority-host"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;
    use crate::error::Kind;

    #[test]
    fn the_sources_are_tried_in_order_and_the_metadata_service_only_when_chosen() {
        let sp = FakeEnv::of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent"),
        ]);
        let chosen = Credential::choose(&Choice::default(), &sp).unwrap();
        assert!(matches!(chosen, Credential::Secret { .. }), "{chosen:?}");
        assert!(!format!("{chosen:?} {}", chosen.describe()).contains("s3cret"));

        // Nothing configured: 78 naming what was tried, and no metadata service.
        let err = Credential::choose(&Choice::default(), &FakeEnv::of(&[])).unwrap_err();
        assert_eq!(err.kind(), Kind::Config);
        assert!(
            err.message().contains("AZURE_FEDERATED_TOKEN_FILE"),
            "{err}"
        );

        let chosen = Credential::choose(
            &Choice {
                managed_identity: true,
                ..Choice::default()
            },
            &FakeEnv::of(&[]),
        )
        .unwrap();
        assert!(matches!(chosen, Credential::Managed { ref endpoint, .. } if endpoint == IMDS));

        // A secret without its tenant names the variable.
        let err = Credential::choose(
            &Choice::default(),
            &FakeEnv::of(&[("AZURE_CLIENT_SECRET", "s")]),
        )
        .unwrap_err();
        assert!(err.message().contains("AZURE_TENANT_ID"), "{err}");
        // App Service's endpoint is used when set, but not over the network in clear.
        let err = Credential::choose(
            &Choice::default(),
            &FakeEnv::of(&[("IDENTITY_ENDPOINT", "http://192.0.2.1/msi/token")]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), Kind::Usage);
    }

    #[test]
    fn a_token_lives_as_long_as_its_answer_says_however_it_says_it() {
        let (token, life) = lifetime(r#"{"access_token":"t1","expires_in":3599}"#).unwrap();
        assert_eq!((token.expose(), life.as_secs()), ("t1", 3599));
        let (_, life) = lifetime(r#"{"access_token":"t","expires_in":"600"}"#).unwrap();
        assert_eq!(life.as_secs(), 600);
        let on = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1200;
        let (_, life) =
            lifetime(&format!(r#"{{"access_token":"t","expires_on":"{on}"}}"#)).unwrap();
        assert!((1190..=1200).contains(&life.as_secs()), "{life:?}");
        assert!(lifetime(r#"{"error":"x"}"#).is_none());
    }
}
