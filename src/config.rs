//! Resolves the command line, the environment and the config file into one plain [`Config`] before
//! any network or file work starts (flag > env > config file > default).
//!
//! clap already applied flag > env > config file (the file's keys reach clap as flags, see
//! `config_file.rs`); this module applies the defaults, validates shape and combinations once, so
//! later code never re-checks, and every error names the flag (64) or the file (78) at fault.
//! Provider settings stay with the providers (`publish/`), which read their own flags from
//! [`Config::provider_matches`]. Secrets are read from env or files, never flags.

use crate::acme::{self, AcmeFlags, AcmeTarget};
use crate::cli::{Cli, Command, Options, OutputFormat};
use crate::dcv::{DomainName, Method, TxtName};
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

pub const DEFAULT_API_URL: &str = "https://www.digicert.com/services/v2";
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

/// What is being validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A certificate order, optionally narrowed to some of its names.
    Order { id: u64, names: Vec<DomainName> },
    /// A domain prevalidation, by id or by name (id looked up).
    Domain {
        id: Option<u64>,
        name: Option<DomainName>,
    },
    /// Nothing named (only valid for cleanup: everything recorded).
    Unspecified { names: Vec<DomainName> },
    /// ACME host-tool mode: the challenges an ACME client handed its hook.
    Acme(AcmeTarget),
    /// The whole CertCentral account (`revalidate`, `status --expiring-within`), maybe narrowed.
    Account { names: Vec<DomainName> },
}

/// Everything a command needs, resolved.
#[derive(Debug)]
pub struct Config {
    pub command: Command,
    pub target: Target,
    /// `None` when neither --method nor a provider implies one (verify, status, cleanup).
    pub method: Option<Method>,
    pub txt_name: TxtName,
    pub validation_types: Vec<String>,
    /// The `--provider` name (one of `publish::PROVIDERS`).
    pub provider: Option<String>,
    /// The command's flags as clap matched them, from which each provider reads its own.
    pub provider_matches: Option<clap::ArgMatches>,
    /// The config file's `[[zone]]` rules: other providers for names in those zones.
    pub zones: Vec<crate::zones::ZoneRule>,
    pub ttl: u32,
    pub resolvers: Vec<SocketAddr>,
    pub polling: Polling,
    pub propagation_check: bool,
    pub http_port: u16,
    pub api_url: String,
    /// Read from DIGICERT_API_KEY or --api-key-file; see [`Config::api_key`].
    api_key: std::result::Result<Secret, Error>,
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
}

impl Config {
    /// The API key, or a configuration error (78) saying how to give one.
    pub fn api_key(&self) -> Result<Secret> {
        self.api_key.clone()
    }
}

/// Resolves `cli` with `env` into a [`Config`].
pub fn resolve(cli: Cli, env: &dyn Env) -> Result<Config> {
    let (command, o) = cli.command.split();
    let target = resolve_target(command, &o, env)?;
    let spec = o.provider.as_deref().map(publish::spec).transpose()?;
    let method = resolve_method(command, &o, &target, spec)?;
    check_provider(command, &o, &target, spec)?;
    Ok(Config {
        command,
        method,
        txt_name: o.txt_name.unwrap_or(TxtName::Apex),
        validation_types: o.validation_type.clone(),
        provider: o.provider.clone(),
        provider_matches: o.providers.matches.clone(),
        zones: match &o.config {
            Some(path) => crate::config_file::zones(path)?,
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
    })
}

/// The DCV method: `--method`, else what the provider serves; none for ACME challenges (they carry
/// their own type) and for revalidate (each domain keeps its own). It must go with the provider,
/// and http-token cannot validate a wildcard named on the command line.
fn resolve_method(
    command: Command,
    o: &Options,
    target: &Target,
    spec: Option<&publish::ProviderSpec>,
) -> Result<Option<Method>> {
    let method = match o.method.clone() {
        _ if matches!(target, Target::Acme(_)) => None,
        None if command == Command::Revalidate => None,
        Some(text) => Some(Method::parse(&text)?),
        None => spec.map(|s| {
            if s.serves.dns() {
                Method::DnsTxtToken
            } else {
                Method::HttpToken
            }
        }),
    };
    if let (Some(s), Some(m)) = (spec, method)
        && !(if m.is_dns() {
            s.serves.dns()
        } else {
            s.serves.http()
        })
    {
        return Err(Error::usage(format!(
            "--method {m} does not go with --provider {}: use http-token with a web provider (webroot), a DNS method with a DNS provider",
            s.name
        )));
    }
    let named: &[DomainName] = match target {
        Target::Order { names, .. } | Target::Unspecified { names } => names,
        Target::Domain { name: Some(n), .. } => std::slice::from_ref(n),
        _ => &[],
    };
    if method == Some(Method::HttpToken)
        && let Some(w) = named.iter().find(|n| n.is_wildcard())
    {
        return Err(Error::usage(format!(
            "{w} is a wildcard, which http-token cannot validate; use --method dns-txt-token or dns-cname-token"
        )));
    }
    Ok(method)
}

/// Commands that publish need `--provider`, and ACME challenges one that serves their type.
fn check_provider(
    command: Command,
    o: &Options,
    target: &Target,
    spec: Option<&publish::ProviderSpec>,
) -> Result<()> {
    let publishes = matches!(command, Command::Auth | Command::Run)
        || (command == Command::Revalidate && !o.dry_run);
    match (spec, target) {
        (None, _) if publishes => {
            let names: Vec<&str> = publish::PROVIDERS.iter().map(|p| p.name).collect();
            Err(Error::usage(format!(
                "{} needs --provider ({})",
                command.name(),
                names.join(", ")
            )))
        }
        (Some(s), Target::Acme(acme)) if matches!(command, Command::Auth | Command::Run) => {
            check_acme_provider(acme, s)
        }
        _ => Ok(()),
    }
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

/// `--api-url`, an http(s) URL.
fn api_url(o: &Options) -> Result<String> {
    let url = o
        .api_url
        .clone()
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(Error::usage(format!(
            "--api-url {url:?} is not an http(s) URL"
        )))
    }
}

/// What `command` is to work on: an ACME client's challenges, an order, a domain, the account, or
/// (cleanup) whatever was recorded; every contradiction between the flags is a usage error.
fn resolve_target(command: Command, o: &Options, env: &dyn Env) -> Result<Target> {
    let domains = o
        .domains
        .iter()
        .map(|d| DomainName::parse(d))
        .collect::<Result<Vec<_>>>()?;
    let (order_id, domain_id) = (o.order_id, o.domain_id);
    if command == Command::Revalidate && (order_id.is_some() || domain_id.is_some()) {
        return Err(Error::usage(
            "revalidate works on the whole account; narrow it with --domain NAME, not --order-id/--domain-id",
        ));
    }
    if let Some(acme) = acme_target(o, &domains, env)? {
        return Ok(Target::Acme(acme));
    }
    let target = match (order_id, domain_id) {
        (Some(_), Some(_)) => return Err(Error::usage("give --order-id or --domain-id, not both")),
        (Some(id), None) => Target::Order { id, names: domains },
        (None, Some(id)) => {
            if domains.len() > 1 {
                return Err(Error::usage(
                    "--domain-id validates one domain; drop the extra --domain flags",
                ));
            }
            Target::Domain {
                id: Some(id),
                name: domains.into_iter().next(),
            }
        }
        (None, None) if command == Command::Cleanup => Target::Unspecified { names: domains },
        // The doctor checks names as given, without asking DigiCert which domain they belong to.
        (None, None) if command == Command::Doctor && !domains.is_empty() => {
            Target::Unspecified { names: domains }
        }
        (None, None)
            if command == Command::Revalidate
                || (command == Command::Status && o.expiring_within.is_some()) =>
        {
            Target::Account { names: domains }
        }

        (None, None) => match domains.len() {
            0 => {
                return Err(Error::usage(
                    "say what to validate: --order-id ID, --domain-id ID or --domain NAME",
                ));
            }
            1 => Target::Domain {
                id: None,
                name: domains.into_iter().next(),
            },
            _ => {
                return Err(Error::usage(
                    "several --domain names need --order-id; a domain prevalidation takes one --domain",
                ));
            }
        },
    };
    Ok(target)
}

/// The ACME client's challenges (flags or certbot's environment), `None` outside host-tool mode.
fn acme_target(o: &Options, domains: &[DomainName], env: &dyn Env) -> Result<Option<AcmeTarget>> {
    let certcentral_target = o.order_id.is_some() || o.domain_id.is_some();
    let acme = acme::from_flags_and_env(
        &AcmeFlags {
            values: &o.acme_value,
            tokens: &o.acme_token,
            fqdns: &o.acme_fqdn,
            domains,
            certcentral_target,
        },
        env,
    )?;
    if acme.is_some() && certcentral_target {
        return Err(Error::usage(
            "--acme-value is ACME host-tool mode, which validates no DigiCert order or domain: drop --order-id/--domain-id",
        ));
    }
    Ok(acme)
}

/// http-01 files go to a provider that serves HTTP; dns-01 records to one that serves DNS.
fn check_acme_provider(target: &AcmeTarget, provider: &publish::ProviderSpec) -> Result<()> {
    for c in &target.challenges {
        if c.is_http() && !provider.serves.http() {
            return Err(Error::usage(format!(
                "{} is an http-01 challenge (it has a token), which --provider {} cannot serve; use --provider webroot --webroot DIR",
                c.domain, provider.name
            )));
        }
        if !c.is_http() && !provider.serves.dns() {
            return Err(Error::usage(format!(
                "{} is a dns-01 challenge, which --provider webroot cannot serve; use a DNS provider such as rfc2136",
                c.domain
            )));
        }
    }
    Ok(())
}

/// The API key from DIGICERT_API_KEY or the key file; the error is kept until a command needs a key.
fn read_api_key(file: Option<&Path>, env: &dyn Env) -> std::result::Result<Secret, Error> {
    let (key, from) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::config(format!(
                    "cannot read --api-key-file {}: {e}",
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
    if is_root() {
        return Ok(PathBuf::from("/var/lib/dcv-hook"));
    }
    match env.var("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/dcv-hook")),
        None => Err(Error::config(
            "cannot pick a state directory (no XDG_STATE_HOME or HOME); pass --state-dir",
        )),
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the binary does with `args`: the config file's keys added, parsed, resolved.
    fn resolve_args(args: &[&str], env: &[(&'static str, &'static str)]) -> Result<Config> {
        let env = FakeEnv(env.iter().copied().collect());
        let args = std::iter::once("dcv-hook")
            .chain(args.iter().copied())
            .map(std::ffi::OsString::from)
            .collect();
        let args = crate::config_file::with_file_args(args, &env)?;
        let cli = crate::cli::parse(args).expect("parses");
        resolve(cli, &env)
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "ttl = 120\nresolver = [\"192.0.2.53\"]\npoll-interval = 0.5\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let env = [("HOME", "/home/x")];
        let c = resolve_args(&["verify", "--order-id", "1", "--config", f], &env).unwrap();
        assert_eq!(c.ttl, 120);
        assert_eq!(
            c.resolvers,
            vec!["192.0.2.53:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(c.polling.interval, Duration::from_millis(500));
        let c = resolve_args(
            &[
                "verify",
                "--order-id",
                "1",
                "--config",
                f,
                "--ttl",
                "30",
                "--resolver",
                "127.0.0.1:5300",
            ],
            &env,
        )
        .unwrap();
        assert_eq!(c.ttl, 30);
        assert_eq!(
            c.resolvers,
            vec!["127.0.0.1:5300".parse::<SocketAddr>().unwrap()]
        );
        let c = resolve_args(&["verify", "--order-id", "1"], &env).unwrap();
        assert_eq!(c.ttl, DEFAULT_TTL);
        assert_eq!(c.polling.timeout, Duration::from_secs(600));
    }

    #[test]
    fn the_sample_configs_are_accepted_by_every_command() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            (
                "webroot.toml",
                include_str!("../examples/config/webroot.toml"),
            ),
            (
                "rfc2136.toml",
                include_str!("../examples/config/rfc2136.toml"),
            ),
        ] {
            let file = dir.path().join(name);
            std::fs::write(&file, text).unwrap();
            for command in ["auth", "verify", "cleanup", "run", "status"] {
                let got = resolve_args(
                    &[
                        command,
                        "--order-id",
                        "1",
                        "--config",
                        file.to_str().unwrap(),
                    ],
                    &[("HOME", "/h")],
                );
                assert!(got.is_ok(), "{name} {command}: {:?}", got.err());
            }
        }
    }

    #[test]
    fn unknown_config_key_is_a_config_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "ttll = 1\n").unwrap();
        let err = resolve_args(
            &[
                "verify",
                "--order-id",
                "1",
                "--config",
                file.to_str().unwrap(),
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config);
        assert!(err.message().contains("ttll"), "{err}");
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        let table: &[&[&str]] = &[
            &[
                "auth",
                "--order-id",
                "1",
                "--domain-id",
                "2",
                "--provider",
                "webroot",
            ],
            &["auth", "--order-id", "1"],
            &[
                "auth",
                "--order-id",
                "1",
                "--provider",
                "webroot",
                "--method",
                "dns-txt-token",
            ],
            &[
                "auth",
                "--order-id",
                "1",
                "--provider",
                "rfc2136",
                "--method",
                "http-token",
            ],
            &["verify"],
            &["verify", "--order-id", "1", "--resolver", "ns.example.com"],
        ];
        for args in table {
            let err = resolve_args(args, &[("HOME", "/h")]).unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::Usage, "{args:?}: {err}");
        }
    }

    #[test]
    fn method_defaults_follow_the_provider() {
        let c = resolve_args(
            &["auth", "--order-id", "1", "--provider", "webroot"],
            &[("HOME", "/h")],
        )
        .unwrap();
        assert_eq!(c.method, Some(Method::HttpToken));
        let c = resolve_args(
            &["auth", "--order-id", "1", "--provider", "rfc2136"],
            &[("HOME", "/h")],
        )
        .unwrap();
        assert_eq!(c.method, Some(Method::DnsTxtToken));
    }

    #[test]
    fn api_key_comes_from_env_or_file_and_is_missing_otherwise() {
        let c = resolve_args(&["verify", "--order-id", "1"], &[("HOME", "/h")]).unwrap();
        assert_eq!(c.api_key().unwrap_err().kind(), crate::error::Kind::Config);
        let c = resolve_args(
            &["verify", "--order-id", "1"],
            &[("HOME", "/h"), ("DIGICERT_API_KEY", "k")],
        )
        .unwrap();
        assert_eq!(c.api_key().unwrap().expose(), "k");
    }

    #[test]
    fn a_bad_number_is_blamed_where_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let f = file.to_str().unwrap();
        for (key, flag) in [
            ("ttl = 0", "--ttl"),
            ("poll-interval = -1", "--poll-interval"),
            ("propagation-timeout = 0", "--propagation-timeout"),
            ("exec-timeout = 0", "--exec-timeout"),
        ] {
            std::fs::write(&file, format!("{key}\n")).unwrap();
            let err = resolve_args(&["verify", "--order-id", "1", "--config", f], &[]).unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::Config, "{key}: {err}");
            assert!(
                err.message().contains(f) && err.message().contains(flag),
                "{err}"
            );
        }
        let cli = crate::cli::parse(["dcv-hook", "verify", "--order-id", "1", "--ttl", "0"]);
        let err = cli.unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("--ttl must be between"), "{err}");
    }
}
