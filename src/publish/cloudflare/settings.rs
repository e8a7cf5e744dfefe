//! The cloudflare provider's settings: its flags, where the token comes from (flag, env, certbot
//! ini), and the API URL, all checked once with no network. See `mod.rs` for the rules.

use crate::env::Env;
use crate::error::{Error, Result};
use crate::publish::credentials;
use crate::retry::Policy;
use crate::secret::Secret;
use cloudflare::framework::auth::Credentials;
use std::path::PathBuf;
use std::time::Duration;

/// Cloudflare's API.
pub const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4/";

/// Environment variables that may hold an API token, in the order they are read.
pub const TOKEN_ENV: [&str; 3] = ["CLOUDFLARE_API_TOKEN", "CF_DNS_API_TOKEN", "CF_Token"];

/// The key prefix of a certbot-dns-cloudflare credentials file.
const INI_PREFIX: &str = "dns_cloudflare";

/// The flags of the cloudflare provider.
#[derive(clap::Args, Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CloudflareArgs {
    /// certbot-dns-cloudflare credentials ini: dns_cloudflare_api_token (or the legacy
    /// dns_cloudflare_email + dns_cloudflare_api_key); wins over CLOUDFLARE_API_TOKEN, CF_DNS_API_TOKEN
    /// and CF_Token.
    #[arg(long, value_name = "FILE", help_heading = "Provider: cloudflare")]
    #[serde(alias = "credentials")] // the name in state files of 0.1.0
    pub cloudflare_credentials: Option<PathBuf>,
    /// Cloudflare API base URL [default: https://api.cloudflare.com/client/v4/].
    #[arg(long, value_name = "URL", help_heading = "Provider: cloudflare")]
    #[serde(alias = "api_url")]
    pub cloudflare_api_url: Option<String>,
}

/// How requests authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudflareAuth {
    /// An API token (`Authorization: Bearer`), the recommended kind: Zone:Read and DNS:Edit.
    Token {
        token: Secret,
        /// Where it came from: an environment variable's name or the ini file's path.
        source: String,
    },
    /// The legacy global API key with the account's email (`X-Auth-Email` + `X-Auth-Key`).
    Key {
        email: String,
        key: Secret,
        /// The ini file it came from.
        source: String,
    },
}

impl CloudflareAuth {
    /// What the credentials are and where they came from, for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            CloudflareAuth::Token { source, .. } => format!("API token from {source}"),
            CloudflareAuth::Key { email, source, .. } => {
                format!("global API key for {email} from {source}")
            }
        }
    }

    pub(super) fn credentials(&self) -> Credentials {
        match self {
            CloudflareAuth::Token { token, .. } => Credentials::UserAuthToken {
                token: token.expose().to_string(),
            },
            CloudflareAuth::Key { email, key, .. } => Credentials::UserAuthKey {
                email: email.clone(),
                key: key.expose().to_string(),
            },
        }
    }

    /// Refuses a secret that cannot be an HTTP header value (and so never was a real one).
    fn check(&self) -> Result<()> {
        let (secret, what) = match self {
            CloudflareAuth::Token { token, .. } => (token, "token"),
            CloudflareAuth::Key { key, .. } => (key, "api key"),
        };
        if secret.is_empty() {
            return Err(Error::config(format!(
                "cloudflare: the {} is empty; {}",
                self.describe(),
                HOW_TO_GIVE_A_TOKEN
            )));
        }
        if !secret.expose().bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::config(format!(
                "cloudflare: the {what} ({}) contains spaces or control characters; copy it again",
                self.describe()
            )));
        }
        if let CloudflareAuth::Key { email, .. } = self
            && (!email.contains('@') || !email.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::config(format!(
                "cloudflare: dns_cloudflare_email {email:?} in {} is not an email address; fix the file",
                self.source()
            )));
        }
        Ok(())
    }

    fn source(&self) -> &str {
        match self {
            CloudflareAuth::Token { source, .. } | CloudflareAuth::Key { source, .. } => source,
        }
    }
}

const HOW_TO_GIVE_A_TOKEN: &str = "set CLOUDFLARE_API_TOKEN to an API token with Zone:Read and DNS:Edit permission, or pass --cloudflare-credentials FILE (a certbot-dns-cloudflare ini with dns_cloudflare_api_token)";

/// Everything the provider needs, validated before any I/O.
#[derive(Clone, Debug)]
pub struct CloudflareSettings {
    pub auth: CloudflareAuth,
    /// The API base URL, ending in `/`.
    pub api_url: String,
    pub ttl: u32,
    /// The longest one request may take.
    pub timeout: Duration,
    /// How 429, 5xx and network failures are retried.
    pub retry: Policy,
}

impl CloudflareSettings {
    /// Settings with the defaults (30 s per request, 5 attempts from 1 s backoff), after checking
    /// `auth`, `api_url` (`None`: Cloudflare's) and `ttl`.
    pub fn new(auth: CloudflareAuth, api_url: Option<&str>, ttl: u32) -> Result<Self> {
        auth.check()?;
        let api_url = crate::publish::api_url::check(
            "--cloudflare-api-url",
            api_url.unwrap_or(DEFAULT_API_URL),
        )?;
        if ttl != 1 && !(30..=86400).contains(&ttl) {
            return Err(Error::usage(format!(
                "--ttl {ttl} is not accepted by cloudflare: use 1 (automatic) or 60 to 86400 seconds (from 30 on Enterprise zones)"
            )));
        }
        Ok(CloudflareSettings {
            auth,
            api_url,
            ttl,
            timeout: Duration::from_secs(30),
            retry: Policy {
                attempts: Some(5),
                first: Duration::from_secs(1),
                max: Duration::from_secs(30),
                jitter: true,
            },
        })
    }

    /// Resolves the flags and the environment: `--cloudflare-credentials` when given, else the
    /// first of [`TOKEN_ENV`] that is set. No token anywhere is a `Config` error saying how to give
    /// one; a credentials file missing its keys is a `DataErr` naming them.
    pub fn from_args(args: &CloudflareArgs, env: &dyn Env, ttl: u32) -> Result<Self> {
        let auth = match &args.cloudflare_credentials {
            Some(path) => auth_from_ini(&credentials::read_ini(path, INI_PREFIX)?)?,
            None => TOKEN_ENV
                .iter()
                .find_map(|name| {
                    env.var(name)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| CloudflareAuth::Token {
                            token: Secret::new(v),
                            source: (*name).to_string(),
                        })
                })
                .ok_or_else(|| {
                    Error::config(format!("cloudflare: no API token: {HOW_TO_GIVE_A_TOKEN}"))
                })?,
        };
        CloudflareSettings::new(auth, args.cloudflare_api_url.as_deref(), ttl)
    }
}

/// The credentials in a certbot-dns-cloudflare ini, checked the way certbot checks them: a token,
/// or else both halves of the legacy pair, never both kinds.
fn auth_from_ini(ini: &credentials::Ini) -> Result<CloudflareAuth> {
    let source = ini.path().display().to_string();
    let legacy = ini.has("email") || ini.has("api_key");
    match ini.secret("api_token") {
        Some(_) if legacy => Err(Error::data(format!(
            "credentials file {source}: give either {} or {} + {}, not both; remove the ones you do not use",
            ini.full_key("api_token"),
            ini.full_key("email"),
            ini.full_key("api_key"),
        ))),
        Some(token) => Ok(CloudflareAuth::Token { token, source }),
        None if legacy => {
            ini.require(&["email", "api_key"])?;
            Ok(CloudflareAuth::Key {
                email: ini.get("email").unwrap_or_default().to_string(),
                key: ini.secret("api_key").unwrap_or_else(|| Secret::new("")),
                source,
            })
        }
        None => Err(Error::data(format!(
            "credentials file {source}: missing property {} (or the legacy pair {} and {}); add it",
            ini.full_key("api_token"),
            ini.full_key("email"),
            ini.full_key("api_key"),
        ))),
    }
}
