//! The persistent DCV record a command works with: `persist` needs the issuer and the account (a
//! usage error, 64, names what is missing) and checks every part of the value (65 naming it);
//! `doctor` takes both or neither. Checked here, before anything reads DNS or changes it.

use super::Target;
use crate::cli::{Command, Options};
use crate::error::{Error, Result};
use crate::persist::PersistValue;

/// The record's value for `command`, or `None` when the command has none to work with.
pub(super) fn resolve(
    command: Command,
    o: &Options,
    target: &Target,
) -> Result<Option<PersistValue>> {
    let given = (o.issuer.as_deref(), o.account_uri.as_deref());
    let (issuer, account) = match (command, given) {
        (Command::Persist | Command::Doctor, (Some(i), Some(a))) => (i, a),
        (Command::Doctor, (None, None)) => return Ok(None),
        (Command::Persist | Command::Doctor, _) => {
            return Err(Error::usage(format!(
                "{} needs both --issuer DOMAIN and --account-uri URI (the record names the CA and the account)",
                command.name()
            )));
        }
        _ => return Ok(None),
    };
    let until = if command == Command::Persist {
        o.until.as_deref()
    } else {
        None
    };
    let value = PersistValue::new(issuer, account, o.wildcard, until, crate::dates::now())?;
    if let Target::Unspecified { names } = target
        && command == Command::Persist
        && !value.wildcard
        && let Some(w) = names.iter().find(|n| n.is_wildcard())
    {
        return Err(Error::usage(format!(
            "{w} is a wildcard: its record is the one at {} with policy=wildcard, so add --wildcard",
            crate::persist::record_name(w.base())
        )));
    }
    Ok(Some(value))
}
