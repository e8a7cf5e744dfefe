//! The one way dcv-hook drives async DNS code (hickory) from its synchronous commands: a private
//! current-thread tokio runtime per user (the resolver, the rfc2136 publisher), with timers and I/O.

use crate::error::{Error, Result};

/// A current-thread runtime; `what` names the user in the error.
pub fn current_thread(what: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::software(format!("{what}: cannot start the DNS runtime: {e}")))
}
