//! The command line as clap sees it: plain data close to the flags, validated only for shape.
//!
//! Flag names are a contract (DESIGN.md): scripts and hooks depend on them, so add flags but never
//! rename one. Every command accepts every option (a line written for `auth` also works for
//! `cleanup`), but each command's `--help` shows only the options it uses ([`command`]). Provider
//! flags come from the provider table (`publish::PROVIDERS`), each provider owning its own. No flag
//! has a clap default: `config/` applies the defaults, so an unset flag stays distinguishable.
//! The config file fills the same typed options (`config_file.rs`). Secrets are never flag values.
//!
//! This file is the command tree and the parsing; `options.rs` declares every option with the
//! commands whose `--help` shows it, `help.rs` builds each command's `--help` (and so the man page
//! and completions) from that, and
//! `config_file.rs` reads the config file's top-level keys into the same [`Options`] by serde,
//! each value checked by the rule the flag has (`setting.rs`). Only this folder sees clap's
//! matches: the rest of the program gets typed structs.

pub mod config_file;
mod help;
mod options;

pub use help::{Generate, command, generator, generator_commands};
pub use options::{Options, OutputFormat, ProviderArgs, Region, TxtName};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
pub struct Line {
    #[command(subcommand)]
    pub command: CommandArgs,
}

/// The command line, parsed: which command, with its options.
#[derive(Debug)]
pub struct Cli {
    pub command: Command,
    pub options: Options,
    /// The options the command line or the environment gave (their ids): a config file's keys
    /// do not override them.
    pub given: Vec<String>,
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
    ///
    /// Names are checked 8 at a time, each zone once, and doctor waits at most 30 s for the checks
    /// (DNS, HTTP, CAA, credentials), whatever the servers do: what is not checked by then is
    /// reported unchecked (69). A resolver that does not answer costs its timeout (about 9 s) once
    /// for the whole run. SIGINT or SIGTERM stop doctor at once (130, 143), removing its HTTP probe
    /// files; after kill -9, `dcv-hook cleanup` removes them (they are recorded in the state).
    Doctor(Options),
    /// Publish a persistent DCV record (_validation-persist, BR 3.2.2.4.22, ACME dns-persist-01)
    /// for each --domain, replacing only an older value of the same issuer and account, and wait
    /// until every authoritative server serves it; it stays (--remove takes it away).
    Persist(Options),
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
    Persist,
}

impl Command {
    pub const ALL: &'static [Command] = &[
        Command::Auth,
        Command::Verify,
        Command::Cleanup,
        Command::Run,
        Command::Status,
        Command::Revalidate,
        Command::Doctor,
        Command::Persist,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Auth => "auth",
            Command::Verify => "verify",
            Command::Cleanup => "cleanup",
            Command::Run => "run",
            Command::Status => "status",
            Command::Revalidate => "revalidate",
            Command::Doctor => "doctor",
            Command::Persist => "persist",
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
            CommandArgs::Persist(o) => (Command::Persist, o),
        }
    }
}

/// Moves options written before the command to just after it (`dcv-hook -q --order-id 7 auth` is
/// `dcv-hook auth -q --order-id 7`), as earlier versions accepted both; each command owns its options.
pub fn options_after_the_command(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let cmd = Line::command();
    let sub = cmd.find_subcommand("auth").expect("auth exists");
    // For a token starting with '-'.
    let takes_value = |token: &str| -> bool {
        let mut short = token[1..].chars();
        let arg = match token.strip_prefix("--") {
            Some(long) if long.contains('=') => None,
            Some(long) => sub.get_arguments().find(|a| a.get_long() == Some(long)),
            // `-dNAME` carries its value; `-d NAME` does not.
            None => match (short.next(), short.next()) {
                (Some(c), None) => sub.get_arguments().find(|a| a.get_short() == Some(c)),
                _ => None,
            },
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
    let (command, mut options) = Line::from_arg_matches(&matches)?.command.split();
    let mut given = Vec::new();
    if let Some((_, sub)) = matches.subcommand() {
        use clap::parser::ValueSource::{CommandLine, EnvVariable};
        options.api_url_from_env = sub.value_source("api_url") == Some(EnvVariable);
        given = sub
            .ids()
            .filter(|id| {
                matches!(
                    sub.value_source(id.as_str()),
                    Some(CommandLine | EnvVariable)
                )
            })
            .map(|id| id.to_string())
            .collect();
    }
    Ok(Cli {
        command,
        options,
        given,
    })
}

#[cfg(test)]
mod tests;
