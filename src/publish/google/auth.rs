//! Which Google credentials to use, found the way Google's tools find them (`tokens.rs` turns
//! them into OAuth2 access tokens for Cloud DNS, scope `ndev.clouddns.readwrite`).
//!
//! Where they come from, first found wins: `--google-credentials FILE`, `--google-metadata`, what
//! the state remembered (for cleanup), `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application
//! default credentials (`$CLOUDSDK_CONFIG` or `~/.config/gcloud`, `application_default_credentials.json`),
//! and `GCE_METADATA_HOST` set (the metadata server). A file is a service account key (`type
//! service_account`: a JWT signed RS256 with its `private_key`, exchanged at its `token_uri`) or
//! gcloud's `authorized_user` (its refresh token exchanged at its `token_uri`) or an
//! `external_account` (workload identity federation, `external.rs`). The metadata server is never
//! asked unless chosen: it is a link-local address off this machine.
//!
//! Secrets (the private key, the refresh token, the client secret, access tokens) stay in
//! [`Secret`]s or a parsed key and never reach a message; a file that does not parse is named with
//! the line and column only. Token URIs are https, or http to loopback only.

use super::external::{External, ExternalFile};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use data_encoding::BASE64;
use ring::signature::RsaKeyPair;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What the tokens may do: read and change Cloud DNS records.
pub const SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";

/// Google's token endpoint, when a credentials file names none.
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The metadata server's name on Google Cloud (169.254.169.254), unless `GCE_METADATA_HOST` says.
pub const METADATA_HOST: &str = "metadata.google.internal";

/// How access tokens are obtained.
pub enum Source {
    /// A service account key: a signed JWT exchanged at `token_uri`.
    ServiceAccount {
        email: String,
        key_id: String,
        key: Box<RsaKeyPair>,
        token_uri: String,
    },
    /// gcloud's application default credentials: a refresh token exchanged at `token_uri`.
    AuthorizedUser {
        client_id: String,
        client_secret: Secret,
        refresh_token: Secret,
        token_uri: String,
    },
    /// The metadata server at `host` (Compute Engine, GKE, Cloud Run).
    Metadata { host: String },
    /// Workload identity federation: another platform's token exchanged at Google's STS.
    External(Box<External>),
}

/// Credentials, where they came from (for messages and the state), and the project they name.
pub struct Credentials {
    pub source: Source,
    /// A file's path, or "the metadata server at HOST".
    pub origin: String,
    /// The file's `project_id` (a service account key's project).
    pub project: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The fields of the credential files read here (the rest ignored).
#[derive(Deserialize)]
struct File {
    #[serde(rename = "type", default)]
    kind: String,
    project_id: Option<String>,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    private_key: String,
    token_uri: Option<String>,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
    #[serde(flatten)]
    external: ExternalFile,
}

impl Credentials {
    /// The first source found (see the module docs): `file` (a flag or the state's), else
    /// `metadata` chosen, else the environment's.
    /// `remembered_host` is the metadata server an earlier run used (`GCE_METADATA_HOST` wins).
    pub fn find(
        file: Option<&Path>,
        metadata: bool,
        remembered_host: Option<&str>,
        env: &dyn Env,
    ) -> Result<Credentials> {
        if let Some(file) = file {
            return Credentials::from_file(file, "--google-credentials");
        }
        let metadata_host = env.var("GCE_METADATA_HOST");
        if metadata {
            return Ok(Credentials::metadata(
                metadata_host.as_deref().or(remembered_host),
            ));
        }
        if let Some(path) = env.var("GOOGLE_APPLICATION_CREDENTIALS") {
            return Credentials::from_file(Path::new(&path), "GOOGLE_APPLICATION_CREDENTIALS");
        }
        let adc = adc_file(env);
        if let Some(adc) = adc.as_deref().filter(|p| p.exists()) {
            return Credentials::from_file(adc, "gcloud's application default credentials");
        }
        if metadata_host.is_some() {
            return Ok(Credentials::metadata(metadata_host.as_deref()));
        }
        let adc = adc.map_or(
            "~/.config/gcloud/application_default_credentials.json".into(),
            |p| p.display().to_string(),
        );
        Err(Error::config(format!(
            "google: no credentials (tried --google-credentials, GOOGLE_APPLICATION_CREDENTIALS, {adc}); set GOOGLE_APPLICATION_CREDENTIALS to a service account key, run `gcloud auth application-default login`, or pass --google-metadata on Google Cloud"
        )))
    }

    /// The metadata server at `host` (default `metadata.google.internal`).
    pub fn metadata(host: Option<&str>) -> Credentials {
        let host = host.unwrap_or(METADATA_HOST).trim().to_string();
        Credentials {
            origin: format!("the metadata server at {host}"),
            source: Source::Metadata { host },
            project: None,
        }
    }

    /// A service account key or gcloud's `authorized_user` file; `what` names where its path
    /// came from.
    pub fn from_file(path: &Path, what: &str) -> Result<Credentials> {
        let text = crate::publish::credentials::read_secret_file(path, what)?;
        let origin = path.display().to_string();
        let bad = |why: &str| {
            Error::config(format!(
                "google: {what} {origin}: {why}; download a service account key (JSON) or run `gcloud auth application-default login`"
            ))
        };
        let file: File = serde_json::from_str(text.expose()).map_err(|e| {
            bad(&format!(
                "not a JSON credentials file (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let project = file.project_id.clone().filter(|p| !p.is_empty());
        let source = file.source(&origin, &bad)?;
        Ok(Credentials {
            source,
            origin,
            project,
        })
    }
}

impl File {
    /// What the file's `type` says to do, its fields checked (`bad` makes the error of a why).
    fn source(self, origin: &str, bad: &dyn Fn(&str) -> Error) -> Result<Source> {
        let token_uri = match &self.token_uri {
            Some(uri) => super::super::api_url::check(&format!("token_uri in {origin}"), uri)?
                .trim_end_matches('/')
                .to_string(),
            None => TOKEN_URI.to_string(),
        };
        Ok(match self.kind.as_str() {
            "service_account" => {
                if self.client_email.is_empty() {
                    return Err(bad("client_email is missing"));
                }
                Source::ServiceAccount {
                    key: Box::new(private_key(&self.private_key).map_err(bad)?),
                    email: self.client_email,
                    key_id: self.private_key_id,
                    token_uri,
                }
            }
            "authorized_user" => {
                if self.client_id.is_empty() || self.refresh_token.is_empty() {
                    return Err(bad("client_id or refresh_token is missing"));
                }
                Source::AuthorizedUser {
                    client_id: self.client_id,
                    client_secret: Secret::new(self.client_secret),
                    refresh_token: Secret::new(self.refresh_token),
                    token_uri,
                }
            }
            "external_account" => {
                Source::External(Box::new(External::new(self.external).map_err(|w| bad(&w))?))
            }
            "impersonated_service_account" => {
                return Err(bad(
                    "type impersonated_service_account is not supported (yet); use a service account key, gcloud's application default credentials, or --google-metadata",
                ));
            }
            other => return Err(bad(&format!("unknown type {other:?}"))),
        })
    }
}

/// gcloud's application default credentials file (it need not exist).
fn adc_file(env: &dyn Env) -> Option<PathBuf> {
    let dir = match env.var("CLOUDSDK_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env.var("HOME")?).join(".config/gcloud"),
    };
    Some(dir.join("application_default_credentials.json"))
}

/// The RSA key of a PEM private key (PKCS#8, or PKCS#1 `RSA PRIVATE KEY`).
fn private_key(pem: &str) -> std::result::Result<RsaKeyPair, &'static str> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    if body.is_empty() {
        return Err("private_key is missing");
    }
    let der = BASE64
        .decode(body.as_bytes())
        .map_err(|_| "private_key is not a PEM key")?;
    let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaKeyPair::from_der(&der)
    } else {
        RsaKeyPair::from_pkcs8(&der)
    };
    key.map_err(|_| "private_key is not an RSA private key (PKCS#8 PEM)")
}

#[cfg(test)]
mod tests;
