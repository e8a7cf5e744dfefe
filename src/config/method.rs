//! The DCV method (`--method`, else what the provider serves) and the checks that the method and
//! the provider fit the target: a web provider for http-token and http-01, a DNS one for the rest,
//! no http-token for a wildcard, and a provider at all for commands that publish. Usage errors (64)
//! only; reads nothing.

use super::Target;
use crate::acme::AcmeTarget;
use crate::cli::{Command, Options};
use crate::dcv::{DomainName, Method};
use crate::error::{Error, Result};
use crate::publish;

/// The DCV method: `--method`, else what the provider serves; none for ACME challenges (they carry
/// their own type) and for revalidate (each domain keeps its own). It must go with the provider,
/// and http-token cannot validate a wildcard named on the command line.
pub(super) fn resolve_method(
    command: Command,
    o: &Options,
    target: &Target,
    spec: Option<&publish::ProviderSpec>,
) -> Result<Option<Method>> {
    let method = match o.method.clone() {
        _ if matches!(target, Target::Acme(_)) || command == Command::Persist => None,
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
    if let Some(m) = method.filter(|m| !m.is_dns())
        && let Some(w) = named.iter().find(|n| n.is_wildcard())
    {
        return Err(Error::usage(format!(
            "{w} is a wildcard, which {m} cannot validate; use --method dns-txt-token or dns-cname-token"
        )));
    }
    if method == Some(Method::HttpTokenDynamic) && matches!(target, Target::Order { .. }) {
        return Err(Error::usage(
            "http-token-dynamic validates a domain, not an order: DigiCert names the file only in a domain's token (http_token_url); give --domain NAME or --domain-id ID (the order then uses the domain's validation)",
        ));
    }
    Ok(method)
}

/// Commands that publish need `--provider`, and ACME challenges one that serves their type.
pub(super) fn check_provider(
    command: Command,
    o: &Options,
    target: &Target,
    spec: Option<&publish::ProviderSpec>,
) -> Result<()> {
    let publishes = matches!(command, Command::Auth | Command::Run)
        || (command == Command::Revalidate && !o.dry_run)
        || (command == Command::Persist && !o.remove);
    match (spec, target) {
        (Some(s), _) if command == Command::Persist && !s.serves.dns() => {
            Err(Error::usage(format!(
                "persist publishes a DNS TXT record, which --provider {} cannot; use a DNS provider such as rfc2136",
                s.name
            )))
        }
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
