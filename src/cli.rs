//! The command line as clap sees it: plain data close to the flags, validated only for shape.
//!
//! Flag names are a contract (DESIGN.md): scripts and hooks depend on them, so add flags but never
//! rename one. No flag has a clap default: `config.rs` applies flag > env > config file > default, so
//! an unset flag must stay distinguishable from one set to its default value. Secrets are never flag
//! values: the API key comes from env or a file, the TSIG secret from a file or env.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Automates domain control validation (DCV) for DigiCert CertCentral and ACME clients.
///
/// auth publishes the DCV token and waits until every authoritative nameserver (or every web address)
/// serves it; verify asks DigiCert to check; cleanup removes exactly what auth added.
/// Exit codes follow sysexits: 0 done, 64 usage, 65 bad data, 69 service unavailable, 70 internal,
/// 73 cannot write, 75 try again later, 77 credentials rejected, 78 configuration.
#[derive(Debug, Parser)]
#[command(
    name = "dcv-hook",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Get the token, publish it for every domain, wait until every server serves it.
    Auth,
    /// Ask DigiCert to check DCV now (--wait: until valid or --timeout).
    Verify,
    /// Remove exactly what auth published and restore what it replaced.
    Cleanup,
    /// auth, then verify --wait, then cleanup whatever verify said.
    Run,
    /// Show the validation status of an order or a domain.
    Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderName {
    /// RFC2136 dynamic DNS updates signed with TSIG.
    Rfc2136,
    /// The Cloudflare API.
    Cloudflare,
    /// Files under a web root (http-token).
    Webroot,
    /// Any program, run as `PROGRAM present|cleanup FQDN VALUE`.
    Exec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxtName {
    /// TXT at the domain itself.
    Apex,
    /// TXT at _dnsauth.DOMAIN.
    Dnsauth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    Text,
    Json,
}

/// Every option; `global` so they may stand before or after the command.
#[derive(Debug, Default, Args)]
pub struct Options {
    // --- what is validated ---
    /// CertCentral certificate order to validate.
    #[arg(
        long,
        global = true,
        value_name = "ID",
        help_heading = "What is validated"
    )]
    pub order_id: Option<u64>,
    /// CertCentral domain (prevalidation) to validate.
    #[arg(
        long,
        global = true,
        value_name = "ID",
        help_heading = "What is validated"
    )]
    pub domain_id: Option<u64>,
    /// Domain name (repeatable): narrows an order to these names; alone, finds the domain's id.
    #[arg(
        short = 'd',
        long = "domain",
        global = true,
        value_name = "NAME",
        help_heading = "What is validated"
    )]
    pub domains: Vec<String>,
    /// DCV method: dns-txt-token, dns-cname-token or http-token [default: dns-txt-token with a DNS
    /// provider, http-token with webroot].
    #[arg(
        long,
        global = true,
        value_name = "METHOD",
        help_heading = "What is validated"
    )]
    pub method: Option<String>,
    /// Where a dns-txt-token TXT record goes [default: apex].
    #[arg(long, global = true, value_enum, help_heading = "What is validated")]
    pub txt_name: Option<TxtName>,
    /// Validation type for a domain (repeatable: ov, ev) [default: the types the domain has, else ov].
    #[arg(
        long,
        global = true,
        value_name = "TYPE",
        help_heading = "What is validated"
    )]
    pub validation_type: Vec<String>,

    // --- publishing ---
    /// Where to publish: rfc2136, cloudflare, webroot or exec.
    #[arg(long, global = true, value_enum, help_heading = "Publishing")]
    pub provider: Option<ProviderName>,
    /// TTL of published DNS records, in seconds [default: 60].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Publishing"
    )]
    pub ttl: Option<u32>,
    /// Web root directory for http-token files (provider webroot).
    #[arg(long, global = true, value_name = "DIR", help_heading = "Publishing")]
    pub webroot: Option<PathBuf>,
    /// Primary DNS server that takes RFC2136 updates, HOST[:PORT].
    #[arg(
        long,
        global = true,
        value_name = "HOST[:PORT]",
        help_heading = "Publishing"
    )]
    pub rfc2136_server: Option<String>,
    /// TSIG key name.
    #[arg(long, global = true, value_name = "NAME", help_heading = "Publishing")]
    pub tsig_key: Option<String>,
    /// File holding the base64 TSIG secret (or env DCV_TSIG_SECRET).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Publishing")]
    pub tsig_secret_file: Option<PathBuf>,
    /// TSIG algorithm: hmac-sha256, hmac-sha384, hmac-sha512 [default: hmac-sha256].
    #[arg(long, global = true, value_name = "ALG", help_heading = "Publishing")]
    pub tsig_algorithm: Option<String>,
    /// Zone to update, skipping SOA discovery (for views or split horizons).
    #[arg(long, global = true, value_name = "ZONE", help_heading = "Publishing")]
    pub rfc2136_zone: Option<String>,
    /// certbot-dns-rfc2136 credentials ini (dns_rfc2136_server, _port, _name, _secret, _algorithm).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Publishing")]
    pub rfc2136_credentials: Option<PathBuf>,
    /// certbot-dns-cloudflare credentials ini (dns_cloudflare_api_token).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Publishing")]
    pub cloudflare_credentials: Option<PathBuf>,
    /// Cloudflare API base URL [default: the real API].
    #[arg(long, global = true, value_name = "URL", help_heading = "Publishing")]
    pub cloudflare_api_url: Option<String>,
    /// Program for provider exec, run as `PROGRAM present|cleanup FQDN VALUE`.
    #[arg(
        long,
        global = true,
        value_name = "PROGRAM",
        help_heading = "Publishing"
    )]
    pub exec: Option<PathBuf>,

    // --- propagation ---
    /// Recursive resolver for zones, CNAMEs, nameservers and web addresses, IP[:PORT] (repeatable)
    /// [default: /etc/resolv.conf].
    #[arg(
        long,
        global = true,
        value_name = "IP[:PORT]",
        help_heading = "Propagation"
    )]
    pub resolver: Vec<String>,
    /// Give up waiting for propagation after this many seconds [default: 600].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Propagation"
    )]
    pub propagation_timeout: Option<f64>,
    /// Seconds between two queries to one server, fractions allowed [default: 1]. During the first
    /// 10 s of a wait each server is asked four times as often, as most catch up within seconds.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "Propagation"
    )]
    pub poll_interval: Option<f64>,
    /// Publish and return without waiting for the servers.
    #[arg(long, global = true, help_heading = "Propagation")]
    pub no_propagation_check: bool,
    /// TCP port the HTTP check connects to [default: 80, the port CAs use; change only behind a port
    /// forward or in a lab].
    #[arg(long, global = true, value_name = "PORT", help_heading = "Propagation")]
    pub http_port: Option<u16>,

    // --- DigiCert ---
    /// File holding the CertCentral API key (or env DIGICERT_API_KEY; never a flag value).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "DigiCert API"
    )]
    pub api_key_file: Option<PathBuf>,
    /// CertCentral API base URL [default: https://www.digicert.com/services/v2].
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "DIGICERT_API_URL",
        help_heading = "DigiCert API"
    )]
    pub api_url: Option<String>,
    /// verify: keep asking until DCV is valid or --timeout passes.
    #[arg(long, global = true, help_heading = "DigiCert API")]
    pub wait: bool,
    /// verify --wait / run: give up after this many seconds [default: 300].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "DigiCert API"
    )]
    pub timeout: Option<f64>,
    /// Give up on one API request after this many seconds (it is then retried) [default: 30].
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        help_heading = "DigiCert API"
    )]
    pub api_timeout: Option<f64>,

    // --- ACME host-tool mode ---
    /// ACME mode (no DigiCert): the dns-01 TXT value or http-01 key authorization to publish for the
    /// --domain in the same position (repeatable: one per --domain). certbot's hook environment
    /// (CERTBOT_DOMAIN, CERTBOT_VALIDATION, CERTBOT_TOKEN) needs no flags.
    #[arg(
        long,
        global = true,
        value_name = "VALUE",
        help_heading = "ACME host-tool mode"
    )]
    pub acme_value: Vec<String>,
    /// ACME mode, http-01: the token (file name under .well-known/acme-challenge), one per
    /// --acme-value.
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        help_heading = "ACME host-tool mode"
    )]
    pub acme_token: Vec<String>,
    /// ACME mode, dns-01: the exact TXT record name (as lego exec and acme.sh pass it, e.g.
    /// _acme-challenge.example.com.), instead of --domain; one per --acme-value.
    #[arg(
        long,
        global = true,
        value_name = "FQDN",
        help_heading = "ACME host-tool mode"
    )]
    pub acme_fqdn: Vec<String>,

    // --- common ---
    /// State directory [default: $XDG_STATE_HOME/dcv-hook, /var/lib/dcv-hook for root].
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "DCV_HOOK_STATE_DIR",
        help_heading = "Common"
    )]
    pub state_dir: Option<PathBuf>,
    /// TOML configuration file whose keys are the long option names.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "DCV_HOOK_CONFIG",
        help_heading = "Common"
    )]
    pub config: Option<PathBuf>,
    /// Output format on stdout [default: text].
    #[arg(long, global = true, value_enum, help_heading = "Common")]
    pub output: Option<OutputFormat>,
    /// Print only errors.
    #[arg(short, long, global = true, help_heading = "Common")]
    pub quiet: bool,
    /// Print more detail (API calls, DNS questions).
    #[arg(short, long, global = true, help_heading = "Common")]
    pub verbose: bool,
    /// Show what would be done; publish nothing and call nothing that changes state.
    #[arg(long, global = true, help_heading = "Common")]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_may_come_before_or_after_the_command() {
        let a = Cli::try_parse_from(["dcv-hook", "--order-id", "7", "auth", "-d", "a.example"])
            .unwrap();
        let b = Cli::try_parse_from([
            "dcv-hook",
            "auth",
            "--order-id",
            "7",
            "--domain",
            "a.example",
        ])
        .unwrap();
        assert_eq!(a.options.order_id, b.options.order_id);
        assert_eq!(a.options.domains, b.options.domains);
        assert_eq!(a.command, Command::Auth);
    }
}
