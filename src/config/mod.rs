//! Resolves the command line, the environment and the config file into one plain [`Config`] before
//! any network or file work starts (flag > env > config file > default).
//!
//! The command line and `cli/config_file.rs` already applied flag > env > config file to the typed
//! options; this module applies the defaults, validates shape and combinations once, so
//! later code never re-checks, and every error names the flag (64) or the file (78) at fault.
//! Provider settings stay with the providers (`publish/`), which read their own flags from
//! [`Config::provider_flags`]. Secrets are read from env or files, never flags.
//!
//! This file holds [`Config`], the defaults and the plain values; `target.rs` resolves what is
//! validated, `method.rs` the DCV method and checks that the provider fits both.

pub mod accounts;
mod method;
mod persist;
mod target;
pub mod zones;

pub use accounts::Account;
pub use target::Target;

use crate::cli::{Cli, Command, Options, OutputFormat};
use crate::dcv::{Method, TxtName};
#[cfg(test)]
pub use crate::env::FakeEnv;
/// The environment moved to `env.rs`; kept here so `config::Env` still names it.
pub use crate::env::{Env, ProcessEnv};
use crate::error::{Error, Result};
use crate::propagation::Polling;
use crate::publish;
use crate::resolver::parse_server;
use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_API_URL: &str = accounts::US_API_URL;
pub const DEFAULT_TTL: u32 = 60;
pub use crate::record::MAX_TTL;
pub const DEFAULT_PROPAGATION_TIMEOUT: f64 = 600.0;
pub const DEFAULT_POLL_INTERVAL: f64 = 1.0;
pub const DEFAULT_VERIFY_TIMEOUT: f64 = 300.0;
pub const DEFAULT_HTTP_PORT: u16 = 80;
/// Timeout of one API request, in seconds.
pub const DEFAULT_API_TIMEOUT: f64 = 30.0;
/// The default of `--expiring-within` (revalidate, status).
pub const DEFAULT_EXPIRING_WITHIN_DAYS: u32 = 30;
/// The default of `--check-concurrency`: enough that DigiCert's rate limit, not its latency, sets the
/// pace. The limit allows 20 requests a second and one check takes about a second (DigiCert queries
/// every nameserver from several places), so about 20 must be in flight; 8 measured 8 checks a
/// second (bench_revalidate).
pub const DEFAULT_CHECK_CONCURRENCY: u32 = 24;

/// Everything a command needs, resolved.
#[derive(Clone, Debug)]
pub struct Config {
    pub command: Command,
    pub target: Target,
    /// `None` when neither --method nor a provider implies one (verify, status, cleanup).
    pub method: Option<Method>,
    pub txt_name: TxtName,
    pub validation_types: Vec<String>,
    /// The `--provider`, looked up once in `publish::PROVIDERS`.
    pub provider: Option<&'static publish::ProviderSpec>,
    /// Every provider's flags, typed; each provider reads its own.
    pub provider_flags: publish::ProviderArgs,
    /// The config file's `[[zone]]` rules: other providers for names in those zones.
    pub zones: Vec<crate::config::zones::ZoneRule>,
    pub ttl: u32,
    pub resolvers: Vec<SocketAddr>,
    pub polling: Polling,
    pub propagation_check: bool,
    pub http_port: u16,
    pub api_url: String,
    /// Read from DIGICERT_API_KEY or --api-key-file, or the chosen account's; see [`Config::api_key`].
    api_key: std::result::Result<Secret, Error>,
    /// The config file's `[[account]]`s (empty: none, the key comes as above).
    pub accounts: Vec<Account>,
    /// The account this run uses (`None`: none configured, or the command runs once per account).
    pub account: Option<String>,
    /// Where revalidate leaves its metrics when the caller writes one file for several accounts.
    pub metrics_sink: Option<crate::metrics::Sink>,
    pub verify_wait: bool,
    /// `--expiring-within DAYS` (revalidate, status).
    pub expiring_within: u32,
    pub verify_timeout: Duration,
    pub api_timeout: Duration,
    pub state_dir: PathBuf,
    pub output: OutputFormat,
    pub quiet: bool,
    pub verbose: bool,
    pub dry_run: bool,
    /// `--check-concurrency` (revalidate).
    pub check_concurrency: usize,
    /// `--metrics-file` (revalidate).
    pub metrics_file: Option<PathBuf>,
    /// `--ca-identifier`: the CA whose CAA identifier the doctor checks (None: DigiCert's, or
    /// letsencrypt.org in ACME mode).
    pub ca_identifier: Option<String>,
    /// `auth --preflight`: the doctor runs first and stops auth when something blocks.
    pub preflight: bool,
    /// `persist`: the record's value, every part checked; `doctor`: the issuer and account whose
    /// record to look for (`None` when not given).
    pub persist: Option<crate::persist::PersistValue>,
    /// `persist --remove`.
    pub persist_remove: bool,
}

impl Config {
    /// The API key, or a configuration error (78) saying how to give one.
    pub fn api_key(&self) -> Result<Secret> {
        self.api_key.clone()
    }

    /// This configuration for `account` (its key, API base and name).
    pub fn for_account(&self, account: &Account) -> Config {
        Config {
            api_url: account.api_url.clone(),
            api_key: account.api_key(),
            account: Some(account.name.clone()),
            ..self.clone()
        }
    }
}

/// Resolves `cli` with `env` into a [`Config`].
pub fn resolve(cli: Cli, env: &dyn Env) -> Result<Config> {
    let (command, o) = (cli.command, cli.options);
    let target = match command {
        Command::Persist => target::persist_target(&o)?,
        _ => target::resolve_target(command, &o, env)?,
    };
    let spec = o.provider.as_deref().map(publish::spec).transpose()?;
    let method = method::resolve_method(command, &o, &target, spec)?;
    method::check_provider(command, &o, &target, spec)?;
    let persist = persist::resolve(command, &o, &target)?;
    let cfg = Config {
        accounts: Vec::new(),
        account: None,
        metrics_sink: None,
        persist,
        persist_remove: o.remove,
        command,
        method,
        txt_name: o.txt_name.unwrap_or(TxtName::Apex),
        validation_types: o.validation_type.clone(),
        provider: spec,
        provider_flags: o.providers.clone(),
        zones: match &o.config {
            Some(path) => zones::zones(path)?,
            None => Vec::new(),
        },
        ttl: o.ttl.unwrap_or(DEFAULT_TTL),
        resolvers: resolvers(&o.resolver)?,
        polling: Polling {
            interval: seconds(o.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL)),
            timeout: seconds(o.propagation_timeout.unwrap_or(DEFAULT_PROPAGATION_TIMEOUT)),
        },
        propagation_check: !o.no_propagation_check,
        http_port: o.http_port.unwrap_or(DEFAULT_HTTP_PORT),
        api_url: api_url(&o)?,
        api_key: read_api_key(o.api_key_file.as_deref(), env),
        verify_wait: o.wait,
        expiring_within: o.expiring_within.unwrap_or(DEFAULT_EXPIRING_WITHIN_DAYS),
        verify_timeout: seconds(o.timeout.unwrap_or(DEFAULT_VERIFY_TIMEOUT)),
        api_timeout: seconds(o.api_timeout.unwrap_or(DEFAULT_API_TIMEOUT)),
        state_dir: match o.state_dir.clone() {
            Some(dir) => dir,
            None => default_state_dir(env)?,
        },
        output: o.output.unwrap_or(OutputFormat::Text),
        quiet: o.quiet,
        verbose: o.verbose,
        dry_run: o.dry_run,
        check_concurrency: o.check_concurrency.unwrap_or(DEFAULT_CHECK_CONCURRENCY) as usize,
        metrics_file: o.metrics_file.clone(),
        ca_identifier: o.ca_identifier.clone(),
        preflight: o.preflight,
        target,
    };
    with_accounts(cfg, &o, env)
}

/// `cfg` with the config file's accounts, set up for the one it runs as (if one).
fn with_accounts(mut cfg: Config, o: &Options, env: &dyn Env) -> Result<Config> {
    let explicit_url = o.api_url.is_some().then_some(cfg.api_url.as_str());
    cfg.accounts = accounts::accounts(o, explicit_url, env)?;
    let chosen = accounts::choose(
        &cfg.accounts,
        o.account.as_deref(),
        cfg.command,
        &cfg.target,
    )?;
    Ok(match chosen {
        Some(account) => cfg.for_account(account),
        None => cfg,
    })
}

/// `--resolver` addresses.
fn resolvers(texts: &[String]) -> Result<Vec<SocketAddr>> {
    texts
        .iter()
        .map(|text| {
            parse_server(text.trim(), 53).ok_or_else(|| {
                Error::usage(format!(
                    "--resolver {text:?} is not IP[:PORT]; give an address like 192.0.2.53"
                ))
            })
        })
        .collect()
}

/// `--api-url` (or DIGICERT_API_URL), else `--region`'s base; the URL is checked as every API base is (`publish::api_url`), so a URL
/// that does not parse (`http://127.0.0.1:99999/`) is refused here, naming where it came from, and
/// not retried as a failing request: a usage error (64) from the flag, a configuration error (78)
/// from the environment.
fn api_url(o: &Options) -> Result<String> {
    let Some(text) = &o.api_url else {
        let region = o.region.unwrap_or(crate::cli::Region::Us);
        return Ok(accounts::region_url(region).to_string());
    };
    let (setting, kind) = if o.api_url_from_env {
        ("DIGICERT_API_URL", crate::error::Kind::Config)
    } else {
        ("--api-url", crate::error::Kind::Usage)
    };
    publish::api_url::check_as(setting, text, kind)
}

/// The API key from DIGICERT_API_KEY or the key file; the error is kept until a command needs a key.
fn read_api_key(file: Option<&Path>, env: &dyn Env) -> std::result::Result<Secret, Error> {
    let (key, from) = match file {
        Some(path) => {
            let text = crate::fsutil::read_small_file(path).map_err(|e| {
                Error::config(format!(
                    "cannot read --api-key-file {}: {e}; name a readable file holding the key",
                    path.display()
                ))
            })?;
            crate::publish::credentials::warn_if_others_can_read(path);
            (
                Secret::new(text),
                format!("--api-key-file {}", path.display()),
            )
        }
        None => match env.var("DIGICERT_API_KEY") {
            Some(key) => (Secret::new(key), "DIGICERT_API_KEY".to_string()),
            None => {
                return Err(Error::config(
                    "no CertCentral API key: set DIGICERT_API_KEY or pass --api-key-file FILE",
                ));
            }
        },
    };
    checked_key(key, &from)
}

/// `key` (read from `from`) unless it is empty or not one line.
fn checked_key(key: Secret, from: &str) -> std::result::Result<Secret, Error> {
    if key.is_empty() {
        return Err(Error::config(format!(
            "{from} is empty; put the API key in it"
        )));
    }
    // A second line or a control character would go out in a header and fail as a network error
    // after every retry; it is a broken key file, said at once (without echoing the key).
    if key.expose().chars().any(|c| c.is_control()) {
        return Err(Error::config(format!(
            "{from} holds more than one line or a control character; it must hold the API key alone"
        )));
    }
    Ok(key)
}

/// A number of seconds clap already checked (`dates::seconds_arg`) or a default.
fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn default_state_dir(env: &dyn Env) -> Result<PathBuf> {
    if let Some(xdg) = env.var("XDG_STATE_HOME") {
        return Ok(PathBuf::from(xdg).join("dcv-hook"));
    }
    if rustix::process::geteuid().is_root() {
        return Ok(PathBuf::from("/var/lib/dcv-hook"));
    }
    match env.var("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/dcv-hook")),
        None => Err(Error::config(
            "cannot pick a state directory (no XDG_STATE_HOME or HOME); pass --state-dir",
        )),
    }
}

#[cfg(test)]
mod tests;
