//! Google credentials, found the way Google's tools find them, turned into OAuth2 access tokens for
//! Cloud DNS (scope `ndev.clouddns.readwrite`), fetched when first needed and kept until shortly
//! before they expire.
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
use super::http::{Answer, send};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::retry::Policy;
use crate::secret::Secret;
use data_encoding::{BASE64, BASE64URL_NOPAD};
use reqwest::blocking::Client as HttpClient;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the tokens may do: read and change Cloud DNS records.
pub const SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";

/// Google's token endpoint, when a credentials file names none.
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The metadata server's name on Google Cloud (169.254.169.254), unless `GCE_METADATA_HOST` says.
pub const METADATA_HOST: &str = "metadata.google.internal";

/// A token is renewed this long before it expires.
const EARLY: Duration = Duration::from_secs(60);

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
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
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

/// Access tokens for one set of credentials, fetched when needed.
pub struct Tokens {
    credentials: Credentials,
    http: HttpClient,
    retry: Policy,
    current: RefCell<Option<(Secret, Instant)>>,
}

/// A token endpoint's answer.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Tokens {
    pub fn new(credentials: Credentials, http: HttpClient, retry: Policy) -> Tokens {
        Tokens {
            credentials,
            http,
            retry,
            current: RefCell::new(None),
        }
    }

    /// Where the credentials came from.
    pub fn origin(&self) -> &str {
        &self.credentials.origin
    }

    /// A token valid for at least a minute more.
    pub fn bearer(&self) -> Result<Secret> {
        if let Some((token, until)) = self.current.borrow().as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let granted = self.fetch()?;
        let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600));
        let token = Secret::new(granted.access_token);
        if token.is_empty() {
            return Err(Error::unavailable(format!(
                "google: the token endpoint for {} sent an empty access token",
                self.origin()
            )));
        }
        let until = Instant::now() + lifetime.saturating_sub(EARLY);
        *self.current.borrow_mut() = Some((token.clone(), until));
        Ok(token)
    }

    /// The project the metadata server's instance belongs to.
    pub fn metadata_project(&self) -> Result<Option<String>> {
        let Source::Metadata { host } = &self.credentials.source else {
            return Ok(None);
        };
        let url = format!("http://{host}/computeMetadata/v1/project/project-id");
        let answer = self.ask(
            || self.http.get(&url).header("Metadata-Flavor", "Google"),
            "asking the metadata server for the project",
        )?;
        Ok(Some(answer.body.trim().to_string()).filter(|p| !p.is_empty()))
    }

    fn fetch(&self) -> Result<Granted> {
        let what = "getting an access token";
        let answer = match &self.credentials.source {
            Source::ServiceAccount { token_uri, .. } => {
                let jwt = self.assertion()?;
                let form = [
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", jwt.expose()),
                ];
                self.ask(|| self.http.post(token_uri).form(&form), what)?
            }
            Source::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.expose()),
                    ("refresh_token", refresh_token.expose()),
                ];
                self.ask(|| self.http.post(token_uri).form(&form), what)?
            }
            Source::Metadata { host } => {
                let url = format!(
                    "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
                );
                let ask = || {
                    self.http
                        .get(&url)
                        .query(&[("scopes", SCOPE)])
                        .header("Metadata-Flavor", "Google")
                };
                self.ask(ask, what)?
            }
            Source::External(external) => return self.federated(external),
        };
        self.token_in(&answer, "the token endpoint")
    }

    /// Workload identity federation: the subject token exchanged at STS, then (when the file
    /// says) the federated token exchanged for a service account's token.
    fn federated(&self, external: &External) -> Result<Granted> {
        let subject = external.subject_token(&self.http)?;
        let form = external.exchange_form(&subject, SCOPE);
        let sts = self.ask(
            || self.http.post(&external.token_url).form(&form),
            "exchanging the subject token at STS",
        )?;
        let sts: Granted = self.token_in(&sts, "STS")?;
        let Some(url) = &external.impersonation_url else {
            return Ok(sts);
        };
        #[derive(Deserialize)]
        struct Impersonated {
            #[serde(rename = "accessToken")]
            access_token: String,
        }
        let body = serde_json::json!({"scope": [SCOPE], "lifetime": "3600s"});
        let answer = self.ask(
            || {
                self.http
                    .post(url)
                    .bearer_auth(&sts.access_token)
                    .json(&body)
            },
            "impersonating the service account",
        )?;
        let token: Impersonated = self.token_in(&answer, "the impersonation")?;
        Ok(Granted {
            access_token: token.access_token,
            expires_in: Some(3600),
        })
    }

    /// A token endpoint's answer read as `T`.
    fn token_in<T: serde::de::DeserializeOwned>(&self, answer: &Answer, from: &str) -> Result<T> {
        serde_json::from_str(&answer.body).map_err(|_| {
            Error::unavailable(format!(
                "google: getting an access token for {}: {from} answered no token (HTTP {})",
                self.origin(),
                answer.status
            ))
        })
    }

    /// A service account's signed JWT (RS256), valid for an hour.
    fn assertion(&self) -> Result<Secret> {
        let Source::ServiceAccount {
            email,
            key_id,
            key,
            token_uri,
        } = &self.credentials.source
        else {
            return Err(Error::software("google: a JWT without a service account"));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": key_id});
        let claims = serde_json::json!({
            "iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600,
        });
        let part = |v: &serde_json::Value| BASE64URL_NOPAD.encode(v.to_string().as_bytes());
        let signed = format!("{}.{}", part(&header), part(&claims));
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .map_err(|_| Error::software("google: cannot sign the token request"))?;
        Ok(Secret::new(format!(
            "{signed}.{}",
            BASE64URL_NOPAD.encode(&signature)
        )))
    }

    /// One token or metadata request with retries; a refusal is the credentials' fault (77),
    /// with the endpoint's `error` and `error_description`.
    fn ask(
        &self,
        request: impl Fn() -> reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> Result<Answer> {
        let context = format!("google: {what} for {}", self.origin());
        let answer = send(|| Ok(request()), self.retry, &context)?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let said: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
        let field = |k: &str| said.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let said = match format!("{} {}", field("error"), field("error_description")).trim() {
            "" => format!("HTTP {}", answer.status),
            said => format!(
                "HTTP {}: {}",
                answer.status,
                said.chars().take(200).collect::<String>()
            ),
        };
        Err(match answer.status {
            400 | 401 | 403 => Error::no_perm(format!(
                "{context}: {said}; the credentials are refused: check the key or run `gcloud auth application-default login` again"
            )),
            404 => Error::config(format!(
                "{context}: {said}; no token service there: check token_uri in the credentials file, or GCE_METADATA_HOST"
            )),
            _ => Error::unavailable(format!("{context}: {said}")),
        })
    }
}

#[cfg(test)]
mod tests;
