//! Google credentials turned into OAuth2 access tokens for Cloud DNS: a service account's JWT
//! (signed RS256 with its key) or gcloud's refresh token exchanged at the file's `token_uri`, an
//! external account through `external.rs`, or the metadata server asked; each token fetched when
//! first needed and kept until shortly before it expires. Which credentials is `auth.rs`'s job.

use super::auth::{Credentials, SCOPE, Source};
use super::external::External;
use super::http::Google;
use crate::error::{Error, Result};
use crate::publish::rest::{self, Answer};
use crate::retry::Policy;
use crate::secret::Secret;
use data_encoding::BASE64URL_NOPAD;
use reqwest::blocking::Client as HttpClient;
use ring::rand::SystemRandom;
use ring::signature::RSA_PKCS1_SHA256;
use serde::Deserialize;
use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A token is renewed this long before it expires.
const EARLY: Duration = Duration::from_secs(60);

/// Access tokens for one set of credentials, fetched when needed.
pub struct Tokens {
    credentials: Credentials,
    http: HttpClient,
    current: RefCell<Option<(Secret, Instant)>>,
}

/// A token endpoint's answer.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: Option<u64>,
}

impl Tokens {
    pub fn new(credentials: Credentials, http: HttpClient) -> Tokens {
        Tokens {
            credentials,
            http,
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
        let answer = rest::send(Policy::PROVIDER_API, &Google { context: &context }, || {
            Ok(request())
        })?;
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
