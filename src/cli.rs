//! The command line as clap sees it: plain data close to the flags, validated only for shape.
//!
//! Flag names are a contract (DESIGN.md): scripts and hooks depend on them, so add flags but never
//! rename one. Every command accepts every option (a line written for `auth` also works for
//! `cleanup`), but each command's `--help` shows only the options it uses ([`command`]). Provider
//! flags come from the provider table (`publish::PROVIDERS`), each provider owning its own. No flag
//! has a clap default: `config.rs` applies the defaults, so an unset flag stays distinguishable.
//! The config file's keys reach clap as flags too (`config_file.rs`). Secrets are never flag values.

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Automates domain control validation (DCV) for DigiCert CertCentral and ACME clients.
///
/// auth publishes the DCV token and waits until every authoritative nameserver (or every web address)
/// serves it; verify asks DigiCert to check; cleanup removes exactly what auth added; revalidate
/// keeps a whole account's domains validated. As the hook of certbot, lego, dehydrated, uacme or
/// acme.sh (host-tool mode: --acme-value, or certbot's environment) it needs no DigiCert account.
/// Exit codes follow sysexits: 0 done, 64 usage, 65 bad data, 69 service unavailable, 70 internal,
/// 73 cannot write, 75 try again later, 77 credentials rejected, 78 configuration; 130/143 stopped
/// by SIGINT/SIGTERM.
#[derive(Debug, Parser)]
#[command(
    name = "dcv-hook",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CommandArgs,
}

/// The commands, each with every option.
#[derive(Debug, Subcommand)]
pub enum CommandArgs {
    /// Get the token, publish it for every domain, wait until every server serves it.
    Auth(Options),
    /// Ask DigiCert to check DCV now (--wait: until valid or --timeout).
    Verify(Options),
    /// Remove exactly what auth published and restore what it replaced.
    Cleanup(Options),
    /// auth, then verify --wait, then cleanup whatever verify said.
    Run(Options),
    /// Show the validation status of an order or a domain (--expiring-within: the account's
    /// domains that need validation soon).
    Status(Options),
    /// Validate again every active domain of the account whose OV/EV validation expires within
    /// --expiring-within DAYS or has expired: all records published together, one wait, checked,
    /// cleaned up.
    Revalidate(Options),
    /// Find what will make the CA's check fail, changing nothing (exit 0 all clear, 75 something
    /// blocks, 69 something could not be checked).
    Doctor(Options),
}

/// Which command, without its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Auth,
    Verify,
    Cleanup,
    Run,
    Status,
    Revalidate,
    Doctor,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Auth => "auth",
            Command::Verify => "verify",
            Command::Cleanup => "cleanup",
            Command::Run => "run",
            Command::Status => "status",
            Command::Revalidate => "revalidate",
            Command::Doctor => "doctor",
        }
    }
}

impl CommandArgs {
    /// The command and its options.
    pub fn split(self) -> (Command, Options) {
        match self {
            CommandArgs::Auth(o) => (Command::Auth, o),
            CommandArgs::Verify(o) => (Command::Verify, o),
            CommandArgs::Cleanup(o) => (Command::Cleanup, o),
            CommandArgs::Run(o) => (Command::Run, o),
            CommandArgs::Status(o) => (Command::Status, o),
            CommandArgs::Revalidate(o) => (Command::Revalidate, o),
            CommandArgs::Doctor(o) => (Command::Doctor, o),
        }
    }

    pub fn command(&self) -> Command {
        match self {
            CommandArgs::Auth(_) => Command::Auth,
            CommandArgs::Verify(_) => Command::Verify,
            CommandArgs::Cleanup(_) => Command::Cleanup,
            CommandArgs::Run(_) => Command::Run,
            CommandArgs::Status(_) => Command::Status,
            CommandArgs::Revalidate(_) => Command::Revalidate,
            CommandArgs::Doctor(_) => Command::Doctor,
        }
    }

    pub fn options(&self) -> &Options {
        match self {
            CommandArgs::Auth(o)
            | CommandArgs::Verify(o)
            | CommandArgs::Cleanup(o)
            | CommandArgs::Run(o)
            | CommandArgs::Status(o)
            | CommandArgs::Revalidate(o)
            | CommandArgs::Doctor(o) => o,
        }
    }
}

/// Help headings, in the order `--help` shows them.
pub const TARGET: &str = "What is validated";
pub const ACME: &str = "ACME host-tool mode";
pub const PUBLISHING: &str = "Publishing";
pub const PROPAGATION: &str = "Propagation";
pub const API: &str = "DigiCert API";
pub const COMMON: &str = "Common";
/// Provider flags use this heading followed by the provider's name.
pub const PROVIDER_HEADING: &str = "Provider: ";

/// Whether `command`'s `--help` shows an option; the rest are accepted but hidden there.
fn shown(command: &str, id: &str, heading: Option<&str>) -> bool {
    let heading = heading.unwrap_or("");
    if heading == COMMON {
        return true;
    }
    let provider_flag = heading.starts_with(PROVIDER_HEADING);
    let selects = matches!(id, "order_id" | "domain_id" | "domains");
    if matches!(id, "check_concurrency" | "metrics_file") && command != "revalidate" {
        return false;
    }
    // Only revalidate and status --expiring-within read it.
    if id == "expiring_within" && !matches!(command, "revalidate" | "status") {
        return false;
    }
    match command {
        "auth" => !matches!(id, "wait" | "timeout" | "expiring_within"),
        "run" => !matches!(id, "wait" | "expiring_within"),
        "verify" => {
            selects
                || heading == ACME
                || heading == API
                || matches!(id, "wait" | "timeout" | "poll_interval")
        }
        "cleanup" => selects || heading == ACME || provider_flag || id == "resolver",
        "status" => {
            selects
                || matches!(id, "expiring_within" | "validation_type")
                || (heading == API && !matches!(id, "wait" | "timeout"))
        }
        "revalidate" => {
            !matches!(id, "wait" | "timeout" | "order_id" | "domain_id") && heading != ACME
        }
        // The doctor waits for nothing and publishes nothing but its probe file.
        "doctor" => !matches!(
            id,
            "wait"
                | "timeout"
                | "preflight"
                | "ttl"
                | "propagation_timeout"
                | "poll_interval"
                | "no_propagation_check"
                | "dry_run"
        ),
        _ => true,
    }
}

/// The clap command: each subcommand's help limited to the options it uses, and a flag given twice
/// taking its last value (the config file's keys and the command line can then both say it).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd = cmd.subcommands(generator_commands());
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let hide: Vec<String> = sub
                .get_arguments()
                .filter(|a| !shown(&name, a.get_id().as_str(), a.get_help_heading()))
                .map(|a| a.get_id().to_string())
                .collect();
            let mut sub = sub.args_override_self(true);
            for id in hide {
                sub = sub.mut_arg(id, |a| a.hide(true));
            }
            sub
        });
    }
    cmd
}

/// The commands about the command line itself, `completions SHELL` and `man [--dir DIR]`: answered
/// from these same definitions before any configuration is read (`commands::generate`), so `--help`,
/// the completions and the man page never disagree.
pub fn generator_commands() -> [clap::Command; 2] {
    use clap::{Arg, value_parser};
    [
        clap::Command::new("completions")
            .about("Print shell completions for dcv-hook (bash, zsh, fish, elvish, powershell)")
            .arg(
                Arg::new("shell")
                    .value_name("SHELL")
                    .required(true)
                    .value_parser(value_parser!(clap_complete::Shell)),
            ),
        clap::Command::new("man")
            .about("Print the man page dcv-hook(1) (--dir DIR: write it and one page per command there)")
            .arg(
                Arg::new("dir")
                    .long("dir")
                    .value_name("DIR")
                    .help("Write dcv-hook.1 and dcv-hook-COMMAND.1 for every command into DIR.")
                    .value_parser(value_parser!(PathBuf)),
            ),
    ]
}

/// Moves options written before the command to just after it (`dcv-hook -q --order-id 7 auth` is
/// `dcv-hook auth -q --order-id 7`), as earlier versions accepted both; each command owns its options.
pub fn options_after_the_command(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let cmd = Cli::command();
    let sub = cmd.find_subcommand("auth").expect("auth exists");
    let takes_value = |token: &str| -> bool {
        let arg = if let Some(long) = token.strip_prefix("--") {
            if long.contains('=') {
                return false;
            }
            sub.get_arguments().find(|a| a.get_long() == Some(long))
        } else if let Some(short) = token.strip_prefix('-') {
            // `-dNAME` carries its value; `-d NAME` does not.
            if short.chars().count() != 1 {
                return false;
            }
            let c = short.chars().next().unwrap_or('-');
            sub.get_arguments().find(|a| a.get_short() == Some(c))
        } else {
            None
        };
        arg.is_some_and(|a| a.get_action().takes_values())
    };
    // `help --help` asks about help itself: the overview is the answer.
    if args.get(1).is_some_and(|a| a == "help")
        && args.iter().skip(2).any(|a| a == "--help" || a == "-h")
    {
        return vec![args[0].clone(), "--help".into()];
    }
    let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
    let mut i = 1;
    while i < args.len() {
        let Some(token) = args[i].to_str() else { break };
        if names.contains(&token) || token == "help" {
            if i == 1 {
                return args;
            }
            let mut out = vec![args[0].clone(), args[i].clone()];
            out.extend(args[1..i].iter().cloned());
            out.extend(args[i + 1..].iter().cloned());
            return out;
        }
        if !token.starts_with('-') || token == "--" {
            break;
        }
        i += if takes_value(token) { 2 } else { 1 };
    }
    args
}

/// The first line of clap's message for `e`, without its `error: ` prefix (dcv-hook's errors are
/// one line).
pub fn error_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string()
}

/// Parses `args` (the program name first) with [`command`].
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = options_after_the_command(args.into_iter().map(Into::into).collect());
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The provider flags, as clap matched them: each provider's table entry adds its flags
/// (`publish::ProviderSpec::args`) and reads its own back when it is built.
#[derive(Clone, Debug, Default)]
pub struct ProviderArgs {
    pub matches: Option<ArgMatches>,
}

impl FromArgMatches for ProviderArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(ProviderArgs {
            matches: Some(matches.clone()),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.matches = Some(matches.clone());
        Ok(())
    }
}

impl Args for ProviderArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        crate::publish::PROVIDERS
            .iter()
            .fold(cmd, |cmd, provider| (provider.args)(cmd))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

pub use crate::dcv::TxtName;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    Text,
    Json,
}

/// Every option. They may stand before or after the command (see `options_after_the_command`);
/// each command's `--help` shows those it uses.
#[derive(Debug, Default, Args)]
pub struct Options {
    // --- what is validated ---
    /// CertCentral certificate order to validate.
    #[arg(long, value_name = "ID", help_heading = TARGET)]
    pub order_id: Option<u64>,
    /// CertCentral domain (prevalidation) to validate.
    #[arg(long, value_name = "ID", help_heading = TARGET)]
    pub domain_id: Option<u64>,
    /// Domain name (repeatable): narrows an order to these names; alone, finds the domain's id; in
    /// ACME mode, the name each --acme-value is for.
    #[arg(short = 'd', long = "domain", value_name = "NAME", help_heading = TARGET)]
    pub domains: Vec<String>,
    /// DCV method: dns-txt-token, dns-cname-token or http-token [default: dns-txt-token with a DNS
    /// provider, http-token with webroot].
    #[arg(long, value_name = "METHOD", help_heading = TARGET)]
    pub method: Option<String>,
    /// Where a dns-txt-token TXT record goes [default: apex].
    #[arg(long, value_enum, help_heading = TARGET)]
    pub txt_name: Option<TxtName>,
    /// Validation type for a domain (repeatable: ov, ev) [default: the types the domain has, else ov].
    #[arg(long, value_name = "TYPE", help_heading = TARGET)]
    pub validation_type: Vec<String>,
    /// revalidate, status: the account's domains whose OV/EV validation expires within DAYS (or has
    /// expired) [default: 30].
    #[arg(long, value_name = "DAYS", help_heading = TARGET)]
    pub expiring_within: Option<u32>,
    /// doctor, auth --preflight: the CA's CAA identifier to check CAA records for [default: DigiCert's
    /// identifiers; letsencrypt.org in ACME mode].
    #[arg(long, value_name = "DOMAIN", help_heading = TARGET)]
    pub ca_identifier: Option<String>,
    /// auth, run: run the doctor's checks first and stop, changing nothing, when one blocks (exit 75).
    #[arg(long, help_heading = TARGET)]
    pub preflight: bool,

    // --- ACME host-tool mode ---
    /// ACME mode (no DigiCert): the dns-01 TXT value or http-01 key authorization to publish for the
    /// --domain in the same position (repeatable: one per --domain). certbot's hook environment
    /// (CERTBOT_DOMAIN, CERTBOT_VALIDATION, CERTBOT_TOKEN) needs no flags.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true, help_heading = ACME)]
    pub acme_value: Vec<String>,
    /// ACME mode, http-01: the token (file name under .well-known/acme-challenge), one per
    /// --acme-value.
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true, help_heading = ACME)]
    pub acme_token: Vec<String>,
    /// ACME mode, dns-01: the exact TXT record name (as lego exec and acme.sh pass it, e.g.
    /// _acme-challenge.example.com.), instead of --domain; one per --acme-value.
    #[arg(long, value_name = "FQDN", allow_hyphen_values = true, help_heading = ACME)]
    pub acme_fqdn: Vec<String>,

    // --- publishing ---
    /// Where to publish: one of the providers below (rfc2136, webroot, ...).
    #[arg(long, value_name = "PROVIDER", value_parser = crate::publish::provider_names(), help_heading = PUBLISHING)]
    pub provider: Option<String>,
    /// TTL of published DNS records, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = crate::record::ttl_arg, help_heading = PUBLISHING)]
    pub ttl: Option<u32>,
    #[command(flatten)]
    pub providers: ProviderArgs,

    // --- propagation ---
    /// Recursive resolver for zones, CNAMEs, nameservers and web addresses, IP[:PORT] (repeatable)
    /// [default: /etc/resolv.conf].
    #[arg(long, value_name = "IP[:PORT]", help_heading = PROPAGATION)]
    pub resolver: Vec<String>,
    /// Give up waiting for propagation after this many seconds [default: 600].
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = PROPAGATION)]
    pub propagation_timeout: Option<f64>,
    /// Polling pace, fractions allowed [default: 1]: a server that does not serve the record yet is
    /// asked 4 times per interval (every 0.25 s by default, so auth returns within about 0.25 s of
    /// the last server), never more than 10 times a second; a server that times out is asked less
    /// often, down to once per interval. Also the first pause of verify's wait.
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = PROPAGATION)]
    pub poll_interval: Option<f64>,
    /// Publish and return without waiting for the servers.
    #[arg(long, help_heading = PROPAGATION)]
    pub no_propagation_check: bool,
    /// TCP port the HTTP check connects to [default: 80, the port CAs use; change only behind a port
    /// forward or in a lab].
    #[arg(long, value_name = "PORT", help_heading = PROPAGATION)]
    pub http_port: Option<u16>,

    // --- DigiCert ---
    /// File holding the CertCentral API key (or env DIGICERT_API_KEY; never a flag value).
    #[arg(long, value_name = "FILE", help_heading = API)]
    pub api_key_file: Option<PathBuf>,
    /// CertCentral API base URL [default: https://www.digicert.com/services/v2].
    #[arg(long, value_name = "URL", env = "DIGICERT_API_URL", help_heading = API)]
    pub api_url: Option<String>,
    /// verify: keep asking until DCV is valid or --timeout passes.
    #[arg(long, help_heading = API)]
    pub wait: bool,
    /// verify --wait / run: give up after this many seconds [default: 300].
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = API)]
    pub timeout: Option<f64>,
    /// Give up on one API request after this many seconds (it is then retried) [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = crate::dates::seconds_arg, help_heading = API)]
    pub api_timeout: Option<f64>,
    /// revalidate: DigiCert checks (validate-token) and submissions in flight at once, all still
    /// paced by the one rate limit (20 a second; a check takes about a second) [default: 24].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64), help_heading = API)]
    pub check_concurrency: Option<u32>,
    /// revalidate: after each run, write a Prometheus textfile-collector file here (atomically):
    /// each domain's DCV expiry and last outcome, the run's counts and duration.
    #[arg(long, value_name = "PATH", help_heading = API)]
    pub metrics_file: Option<PathBuf>,

    // --- common ---
    /// State directory [default: $XDG_STATE_HOME/dcv-hook, /var/lib/dcv-hook for root].
    #[arg(long, value_name = "DIR", env = "DCV_HOOK_STATE_DIR", help_heading = COMMON)]
    pub state_dir: Option<PathBuf>,
    /// TOML configuration file whose keys are the long option names (flags and env win over it).
    #[arg(long, value_name = "FILE", env = "DCV_HOOK_CONFIG", help_heading = COMMON)]
    pub config: Option<PathBuf>,
    /// Output format on stdout [default: text].
    #[arg(long, value_enum, help_heading = COMMON)]
    pub output: Option<OutputFormat>,
    /// Print only errors.
    #[arg(short, long, help_heading = COMMON)]
    pub quiet: bool,
    /// Print more detail (API calls, DNS questions).
    #[arg(short, long, help_heading = COMMON)]
    pub verbose: bool,
    /// Show what would be done; publish nothing and call nothing that changes state.
    #[arg(long, help_heading = COMMON)]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn options_may_come_before_or_after_the_command_and_a_repeated_flag_takes_the_last_value() {
        let cli = parse([
            "dcv-hook",
            "-q",
            "--order-id",
            "7",
            "auth",
            "--ttl",
            "5",
            "--ttl",
            "9",
        ])
        .unwrap();
        let (command, o) = cli.command.split();
        assert!(o.quiet);
        assert_eq!(command, Command::Auth);
        assert_eq!((o.order_id, o.ttl), (Some(7), Some(9)));
        let cli = parse(["dcv-hook", "--tsig-key", "k", "-d", "a.test", "cleanup"]).unwrap();
        let (_, o) = cli.command.split();
        assert_eq!(o.domains, ["a.test"]);
        let matches = o.providers.matches.unwrap();
        assert_eq!(
            matches.get_one::<String>("tsig_key").map(String::as_str),
            Some("k")
        );
    }

    #[test]
    fn each_command_shows_only_the_options_it_uses() {
        let help = |name: &str| {
            let mut cmd = command();
            cmd.find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string()
        };
        let cleanup = help("cleanup");
        for hidden in ["--ttl", "--wait", "--api-url", "--propagation-timeout"] {
            assert!(
                !cleanup.contains(hidden),
                "cleanup shows {hidden}:\n{cleanup}"
            );
        }
        for shown in ["--order-id", "--tsig-key", "--acme-value", "--state-dir"] {
            assert!(cleanup.contains(shown), "cleanup lacks {shown}:\n{cleanup}");
        }
        let auth = help("auth");
        assert!(auth.contains("--ttl") && !auth.contains("--wait"), "{auth}");
        let status = help("status");
        assert!(
            !status.contains("--provider") && status.contains("--api-url"),
            "{status}"
        );
        assert!(matches!(
            parse(["dcv-hook", "help", "--help"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        ));
        // Hidden is not refused: a line written for auth still works for cleanup.
        assert!(parse(["dcv-hook", "cleanup", "--ttl", "5", "--provider", "webroot"]).is_ok());
    }
}
