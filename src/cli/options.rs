//! Every option, as clap declares it: the flag contract scripts depend on (add, never rename), with
//! its help text and heading. No flag has a clap default (`config/` applies them); provider flags
//! come from the provider table (`publish::ProviderArgs`). Declares only: no parsing, no checks.

use super::Command;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Help headings, in the order `--help` shows them.
const TARGET: &str = "What is validated";
const ACME: &str = "ACME host-tool mode";
const PUBLISHING: &str = "Publishing";
const PROPAGATION: &str = "Propagation";
const API: &str = "DigiCert API";
const COMMON: &str = "Common";
const PERSIST: &str = "Persistent DCV record";

pub use crate::dcv::TxtName;
pub use crate::publish::ProviderArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    Text,
    Json,
}

/// The CertCentral platform an account lives on (`config` maps it to its API base).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    Us,
    Eu,
}

/// Declares [`Options`] with, on each field, `#[shown(COMMANDS)]`: the commands whose `--help`
/// shows it (every command accepts every option), answered by [`Options::shown_by`].
macro_rules! options {
    ($(#[$outer:meta])* pub struct Options {
        $($(#[doc = $doc:literal])* #[shown($users:expr)] $(#[$attr:meta])* pub $field:ident: $ty:ty,)*
    }) => {
        $(#[$outer])*
        pub struct Options {
            $($(#[doc = $doc])* $(#[$attr])* pub $field: $ty,)*
        }

        impl Options {
            /// The commands whose `--help` shows option `id` (a provider's flag: `providers`'s).
            pub fn shown_by(id: &str) -> &'static [Command] {
                use Command::*;
                $(if id == stringify!($field) {
                    return $users;
                })*
                Self::shown_by("providers")
            }
        }
    };
}

/// Every command.
const EVERY: &[Command] = Command::ALL;

options! {
/// Every option. They may stand before or after the command (see `options_after_the_command`);
/// each command's `--help` shows those it uses.
#[derive(Debug, Default, Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Options {
    // --- what is validated ---
    /// CertCentral certificate order to validate.
    #[shown(&[Auth, Verify, Cleanup, Run, Status, Doctor])]
    #[arg(long, value_name = "ID", help_heading = TARGET)]
    #[serde(deserialize_with = "crate::setting::whole")]
    pub order_id: Option<u64>,
    /// CertCentral domain (prevalidation) to validate.
    #[shown(&[Auth, Verify, Cleanup, Run, Status, Doctor])]
    #[arg(long, value_name = "ID", help_heading = TARGET)]
    #[serde(deserialize_with = "crate::setting::whole")]
    pub domain_id: Option<u64>,
    /// Domain name (repeatable): narrows an order to these names; alone, finds the domain's id; in
    /// ACME mode, the name each --acme-value is for.
    #[shown(EVERY)]
    #[arg(short = 'd', long = "domain", value_name = "NAME", help_heading = TARGET)]
    #[serde(deserialize_with = "crate::setting::one_or_many")]
    pub domains: Vec<String>,
    /// DCV method: dns-txt-token, dns-cname-token, http-token or http-token-dynamic (file name
    /// chosen by DigiCert; domains, OV/EV) [default: dns-txt-token with a DNS provider, http-token
    /// with webroot].
    #[shown(&[Auth, Run, Revalidate, Doctor])]
    #[arg(long, value_name = "METHOD", help_heading = TARGET)]
    pub method: Option<String>,
    /// Where a dns-txt-token TXT record goes [default: apex].
    #[shown(&[Auth, Run, Revalidate, Doctor])]
    #[arg(long, value_enum, help_heading = TARGET)]
    pub txt_name: Option<TxtName>,
    /// Validation type for a domain (repeatable: ov, ev) [default: the types the domain has, else ov].
    #[shown(&[Auth, Run, Status, Revalidate, Doctor])]
    #[arg(long, value_name = "TYPE", help_heading = TARGET)]
    #[serde(deserialize_with = "crate::setting::one_or_many")]
    pub validation_type: Vec<String>,
    /// revalidate, status: the account's domains whose OV/EV validation expires within DAYS (or has
    /// expired) [default: 30].
    #[shown(&[Status, Revalidate])]
    #[arg(long, value_name = "DAYS", help_heading = TARGET)]
    #[serde(deserialize_with = "crate::setting::whole")]
    pub expiring_within: Option<u32>,
    /// doctor, auth --preflight: the CA's CAA identifier to check CAA records for [default: DigiCert's
    /// identifiers; letsencrypt.org in ACME mode].
    #[shown(&[Auth, Run, Revalidate, Doctor])]
    #[arg(long, value_name = "DOMAIN", help_heading = TARGET)]
    pub ca_identifier: Option<String>,
    /// auth, run: run the doctor's checks first and stop, changing nothing, when one blocks (exit 75).
    #[shown(&[Auth, Run, Revalidate])]
    #[arg(long, help_heading = TARGET)]
    pub preflight: bool,

    // --- ACME host-tool mode ---
    /// ACME mode (no DigiCert): the dns-01 TXT value or http-01 key authorization to publish for the
    /// --domain in the same position (repeatable: one per --domain). certbot's hook environment
    /// (CERTBOT_DOMAIN, CERTBOT_VALIDATION, CERTBOT_TOKEN) needs no flags.
    #[shown(&[Auth, Verify, Cleanup, Run, Doctor])]
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true, help_heading = ACME)]
    #[serde(deserialize_with = "crate::setting::one_or_many")]
    pub acme_value: Vec<String>,
    /// ACME mode, http-01: the token (file name under .well-known/acme-challenge), one per
    /// --acme-value.
    #[shown(&[Auth, Verify, Cleanup, Run, Doctor])]
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true, help_heading = ACME)]
    #[serde(deserialize_with = "crate::setting::one_or_many")]
    pub acme_token: Vec<String>,
    /// ACME mode, dns-01: the exact TXT record name (as lego exec and acme.sh pass it, e.g.
    /// _acme-challenge.example.com.), instead of --domain; one per --acme-value.
    #[shown(&[Auth, Verify, Cleanup, Run, Doctor])]
    #[arg(long, value_name = "FQDN", allow_hyphen_values = true, help_heading = ACME)]
    #[serde(deserialize_with = "crate::setting::one_or_many")]
    pub acme_fqdn: Vec<String>,

    // --- publishing ---
    /// Where to publish: one of the providers below (rfc2136, webroot, ...).
    #[shown(&[Auth, Run, Revalidate, Doctor, Persist])]
    #[arg(long, value_name = "PROVIDER", value_parser = crate::publish::provider_names(), help_heading = PUBLISHING)]
    #[serde(deserialize_with = "super::config_file::provider")]
    pub provider: Option<String>,
    /// TTL of published DNS records, in seconds [default: 60].
    #[shown(&[Auth, Run, Revalidate, Persist])]
    #[arg(long, value_name = "SECONDS", value_parser = crate::record::ttl_arg, help_heading = PUBLISHING)]
    #[serde(deserialize_with = "crate::setting::ttl")]
    pub ttl: Option<u32>,
    #[shown(&[Auth, Cleanup, Run, Revalidate, Doctor, Persist])]
    #[command(flatten)]
    #[serde(flatten)]
    pub providers: ProviderArgs,

    // --- propagation ---
    /// Recursive resolver for zones, CNAMEs, nameservers and web addresses, IP[:PORT] (repeatable)
    /// [default: /etc/resolv.conf].
    #[shown(&[Auth, Cleanup, Run, Revalidate, Doctor, Persist])]
    #[arg(long, value_name = "IP[:PORT]", help_heading = PROPAGATION)]
    #[serde(deserialize_with = "crate::setting::one_or_many")]
    pub resolver: Vec<String>,
    /// Give up waiting for propagation after this many seconds [default: 600].
    #[shown(&[Auth, Run, Revalidate, Persist])]
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = PROPAGATION)]
    #[serde(deserialize_with = "crate::setting::seconds")]
    pub propagation_timeout: Option<f64>,
    /// Polling pace, fractions allowed [default: 1]: a server that does not serve the record yet is
    /// asked 4 times per interval (every 0.25 s by default, so auth returns within about 0.25 s of
    /// the last server), never more than 10 times a second; a server that times out is asked less
    /// often, down to once per interval. Also the first pause of verify's wait.
    #[shown(&[Auth, Verify, Run, Revalidate, Persist])]
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = PROPAGATION)]
    #[serde(deserialize_with = "crate::setting::seconds")]
    pub poll_interval: Option<f64>,
    /// Publish and return without waiting for the servers.
    #[shown(&[Auth, Run, Revalidate, Persist])]
    #[arg(long, help_heading = PROPAGATION)]
    pub no_propagation_check: bool,
    /// TCP port the HTTP check connects to [default: 80, the port CAs use; change only behind a port
    /// forward or in a lab].
    #[shown(&[Auth, Run, Revalidate, Doctor])]
    #[arg(long, value_name = "PORT", help_heading = PROPAGATION)]
    #[serde(deserialize_with = "crate::setting::whole")]
    pub http_port: Option<u16>,

    // --- DigiCert ---
    /// File holding the CertCentral API key (or env DIGICERT_API_KEY; never a flag value).
    #[shown(&[Auth, Verify, Run, Status, Revalidate, Doctor])]
    #[arg(long, value_name = "FILE", help_heading = API)]
    pub api_key_file: Option<PathBuf>,
    /// CertCentral API base URL [default: https://www.digicert.com/services/v2].
    #[shown(&[Auth, Verify, Run, Status, Revalidate, Doctor])]
    #[arg(long, value_name = "URL", env = "DIGICERT_API_URL", help_heading = API)]
    pub api_url: Option<String>,
    /// Whether `api_url` came from DIGICERT_API_URL rather than the flag (a bad one is then a
    /// configuration error, 78, not a usage error); set by `cli::parse`.
    #[shown(&[])]
    #[arg(skip)]
    #[serde(skip)]
    pub api_url_from_env: bool,
    /// CertCentral platform when --api-url is not given: us (www.digicert.com) or eu (CertCentral
    /// Europe, certcentral.digicert.eu) [default: us].
    #[shown(&[Auth, Verify, Run, Status, Revalidate, Doctor])]
    #[arg(long, value_enum, help_heading = API)]
    pub region: Option<Region>,
    /// The config file's [[account]] whose key and region to use; status, revalidate and doctor run
    /// over every account when none is named.
    #[shown(&[Auth, Verify, Cleanup, Run, Status, Revalidate, Doctor])]
    #[arg(long, value_name = "NAME", help_heading = API)]
    pub account: Option<String>,
    /// verify: keep asking until DCV is valid or --timeout passes.
    #[shown(&[Verify])]
    #[arg(long, help_heading = API)]
    pub wait: bool,
    /// verify --wait / run: give up after this many seconds [default: 300].
    #[shown(&[Verify, Run])]
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = API)]
    #[serde(deserialize_with = "crate::setting::seconds")]
    pub timeout: Option<f64>,
    /// Give up on one API request after this many seconds (it is then retried) [default: 30].
    #[shown(&[Auth, Verify, Run, Status, Revalidate, Doctor])]
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = API)]
    #[serde(deserialize_with = "crate::setting::seconds")]
    pub api_timeout: Option<f64>,
    /// revalidate: DigiCert checks (validate-token) and submissions in flight at once, all still
    /// paced by the one rate limit (20 a second; a check takes about a second) [default: 24].
    #[shown(&[Revalidate])]
    #[arg(long, value_name = "N", value_parser = crate::setting::concurrency_arg, help_heading = API)]
    #[serde(deserialize_with = "crate::setting::concurrency")]
    pub check_concurrency: Option<u32>,
    /// revalidate: after each run, write a Prometheus textfile-collector file here (atomically):
    /// each domain's DCV expiry and last outcome, the run's counts and duration.
    #[shown(&[Revalidate])]
    #[arg(long, value_name = "PATH", help_heading = API)]
    pub metrics_file: Option<PathBuf>,

    // --- persistent DCV record ---
    /// persist, doctor: the issuer domain name the CA discloses for persistent DCV records (e.g.
    /// letsencrypt.org).
    #[shown(&[Doctor, Persist])]
    #[arg(long, value_name = "DOMAIN", help_heading = PERSIST)]
    pub issuer: Option<String>,
    /// persist, doctor: the ACME account URI the record binds the names to (https://...).
    #[shown(&[Doctor, Persist])]
    #[arg(long, value_name = "URI", help_heading = PERSIST)]
    pub account_uri: Option<String>,
    /// persist: add policy=wildcard, so the record also validates *.NAME and names below NAME.
    #[shown(&[Persist])]
    #[arg(long, help_heading = PERSIST)]
    pub wildcard: bool,
    /// persist: add persistUntil, a date or date-time (UTC unless an offset is given) after which
    /// the CA no longer relies on the record.
    #[shown(&[Persist])]
    #[arg(long, value_name = "DATE", help_heading = PERSIST)]
    pub until: Option<String>,
    /// persist: remove our record (same issuer and account) instead of publishing one.
    #[shown(&[Persist])]
    #[arg(long, help_heading = PERSIST)]
    pub remove: bool,

    // --- common ---
    /// State directory [default: $XDG_STATE_HOME/dcv-hook, /var/lib/dcv-hook for root].
    #[shown(EVERY)]
    #[arg(long, value_name = "DIR", env = "DCV_HOOK_STATE_DIR", help_heading = COMMON)]
    pub state_dir: Option<PathBuf>,
    /// TOML configuration file whose keys are the long option names (flags and env win over it).
    #[shown(EVERY)]
    #[arg(long, value_name = "FILE", env = "DCV_HOOK_CONFIG", help_heading = COMMON)]
    pub config: Option<PathBuf>,
    /// Output format on stdout [default: text].
    #[shown(EVERY)]
    #[arg(long, value_enum, help_heading = COMMON)]
    pub output: Option<OutputFormat>,
    /// Print only errors.
    #[shown(EVERY)]
    #[arg(short, long, help_heading = COMMON)]
    pub quiet: bool,
    /// Print more detail (API calls, DNS questions).
    #[shown(EVERY)]
    #[arg(short, long, help_heading = COMMON)]
    pub verbose: bool,
    /// Show what would be done; publish nothing and call nothing that changes state.
    #[shown(EVERY)]
    #[arg(long, help_heading = COMMON)]
    pub dry_run: bool,
}
}
