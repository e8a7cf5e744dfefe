//! Workload identity federation (`type external_account` credential files, as `gcloud iam
//! workload-identity-pools create-cred-config` writes them): a subject token read from a file or a
//! URL (`credential_source`, text or JSON), exchanged at Google's STS (`token_url`) for a federated
//! token, which is then exchanged for a service account's access token when the file names
//! `service_account_impersonation_url`.
//!
//! The URL source is the user's own choice of endpoint (Azure's or another cloud's metadata
//! service, an OIDC provider), so it may be plain http; `token_url` and the impersonation URL carry
//! credentials and are https, or http to loopback only. Executable and AWS sources are refused,
//! naming what to use instead. The subject token is a [`Secret`] and never reaches a message.

use crate::error::{Error, Result};
use crate::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// An `external_account` file's settings, checked.
#[derive(Debug)]
pub struct External {
    pub audience: String,
    pub subject_token_type: String,
    pub token_url: String,
    pub impersonation_url: Option<String>,
    subject: Subject,
    /// `None`: the source's text is the token; `Some(field)`: a JSON document's `field`.
    json_field: Option<String>,
}

#[derive(Debug)]
enum Subject {
    File(PathBuf),
    Url {
        url: String,
        headers: Vec<(String, String)>,
    },
}

/// The file's fields for workload identity federation.
#[derive(Deserialize)]
pub struct ExternalFile {
    #[serde(default)]
    audience: String,
    #[serde(default)]
    subject_token_type: String,
    token_url: Option<String>,
    service_account_impersonation_url: Option<String>,
    #[serde(default)]
    credential_source: serde_json::Value,
}

/// Google's STS, when the file names none.
const STS: &str = "https://sts.googleapis.com/v1/token";

impl External {
    /// From the file's fields; `Err(why)` for the caller to put in its message.
    pub fn new(file: ExternalFile) -> std::result::Result<External, String> {
        let source = &file.credential_source;
        if file.audience.is_empty() || file.subject_token_type.is_empty() {
            return Err("audience or subject_token_type is missing".into());
        }
        let check = |what: &str, url: &str| {
            crate::publish::api_url::check(what, url)
                .map(|u| u.trim_end_matches('/').to_string())
                .map_err(|e| e.message().to_string())
        };
        let subject = match (source["file"].as_str(), source["url"].as_str()) {
            (Some(path), _) => Subject::File(PathBuf::from(path)),
            (None, Some(url)) => Subject::Url {
                url: url.to_string(),
                headers: source["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect(),
            },
            _ => {
                return Err("credential_source is neither a file nor a url (executable and AWS sources are not supported: use a file or url source, a service account key, or --google-metadata)".into());
            }
        };
        let json_field = match source["format"]["type"].as_str() {
            None | Some("text") => None,
            Some("json") => Some(
                source["format"]["subject_token_field_name"]
                    .as_str()
                    .ok_or("credential_source.format has no subject_token_field_name")?
                    .to_string(),
            ),
            Some(other) => {
                return Err(format!(
                    "credential_source.format.type {other:?} is unknown"
                ));
            }
        };
        let impersonation_url = match &file.service_account_impersonation_url {
            Some(url) => Some(check("service_account_impersonation_url", url)?),
            None => None,
        };
        Ok(External {
            audience: file.audience,
            subject_token_type: file.subject_token_type,
            token_url: check("token_url", file.token_url.as_deref().unwrap_or(STS))?,
            impersonation_url,
            subject,
            json_field,
        })
    }

    /// The subject token, read from its file or URL now (it may have been rotated).
    pub fn subject_token(&self, http: &reqwest::blocking::Client) -> Result<Secret> {
        let (text, from) = match &self.subject {
            Subject::File(path) => (
                std::fs::read_to_string(path).map_err(|e| {
                    Error::config(format!(
                        "google: cannot read the subject token file {}: {e}",
                        path.display()
                    ))
                })?,
                path.display().to_string(),
            ),
            Subject::Url { url, headers } => {
                let mut request = http.get(url);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let failed = |why: String| {
                    Error::unavailable(format!("google: the subject token from {url}: {why}"))
                };
                let response = request
                    .send()
                    .map_err(|e| failed(crate::error::chain(&e)))?;
                if !response.status().is_success() {
                    return Err(failed(format!("HTTP {}", response.status().as_u16())));
                }
                (
                    response.text().map_err(|e| failed(e.to_string()))?,
                    url.clone(),
                )
            }
        };
        let token = match &self.json_field {
            None => Some(text),
            Some(field) => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v[field.as_str()].as_str().map(str::to_string)),
        };
        let token = Secret::new(token.unwrap_or_default());
        if token.is_empty() {
            return Err(Error::config(format!(
                "google: no subject token in {from} (credential_source of the external_account file)"
            )));
        }
        Ok(token)
    }

    /// The STS token exchange's form for `subject`: the federated token is for Cloud DNS, or for
    /// the impersonation call (cloud-platform) when there is one.
    pub fn exchange_form<'a>(
        &'a self,
        subject: &'a Secret,
        scope: &'a str,
    ) -> [(&'a str, &'a str); 6] {
        let scope = match self.impersonation_url {
            Some(_) => "https://www.googleapis.com/auth/cloud-platform",
            None => scope,
        };
        [
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("audience", &self.audience),
            ("scope", scope),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("subject_token_type", &self.subject_token_type),
            ("subject_token", subject.expose()),
        ]
    }
}
