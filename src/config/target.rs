//! What a command is to work on ([`Target`]): an ACME client's challenges, a CertCentral order or
//! domain, the whole account, or (cleanup) whatever was recorded. Every contradiction between the
//! flags that select it is a usage error (64) naming them; reads the environment only for certbot's
//! hook variables.

use crate::acme::{self, AcmeFlags, AcmeTarget};
use crate::cli::{Command, Options};
use crate::dcv::DomainName;
use crate::env::Env;
use crate::error::{Error, Result};

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

/// What `command` is to work on: an ACME client's challenges, an order, a domain, the account, or
/// (cleanup) whatever was recorded; every contradiction between the flags is a usage error.
pub(super) fn resolve_target(command: Command, o: &Options, env: &dyn Env) -> Result<Target> {
    let domains = domain_names(o)?;
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

/// The `--domain` names, checked.
fn domain_names(o: &Options) -> Result<Vec<DomainName>> {
    o.domains.iter().map(|d| DomainName::parse(d)).collect()
}

/// `persist`: the names given with --domain and nothing else (a persistent record belongs to no
/// order and no ACME challenge).
pub(super) fn persist_target(o: &Options) -> Result<Target> {
    let domains = domain_names(o)?;
    if o.order_id.is_some() || o.domain_id.is_some() || !o.acme_value.is_empty() {
        return Err(Error::usage(
            "persist publishes for --domain NAME alone; drop --order-id, --domain-id and --acme-value",
        ));
    }
    if domains.is_empty() {
        return Err(Error::usage(
            "persist needs the names to publish for: --domain NAME (repeatable)",
        ));
    }
    Ok(Target::Unspecified { names: domains })
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
