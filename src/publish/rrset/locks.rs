//! The locks that make one zone's read-modify-writes take turns across the dcv-hook invocations
//! on this machine that share a state directory: `<state dir>/locks/<provider>-<zone id>.lock`,
//! flock'ed through `crate::filelock` (released even by kill -9).

use crate::error::Result;
use crate::filelock::Held;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest wait for another invocation's change of the same zone (its retries included).
const ZONE_LOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// The locks that serialize changes to a zone: `<state dir>/locks/<provider>-<zone id>.lock`. A
/// publisher built without a state directory (library use, tests) takes none and relies on the
/// read back alone.
#[derive(Clone, Debug, Default)]
pub struct SetLocks {
    dir: Option<PathBuf>,
}

impl SetLocks {
    /// Locks in the state directory `state_dir` (its `locks/`, made when first needed).
    pub fn beside_state(state_dir: &Path) -> SetLocks {
        SetLocks {
            dir: Some(state_dir.to_path_buf()),
        }
    }

    /// Holds the lock of each of `zone_ids` (in sorted order, so two runs never wait on each other
    /// in a circle) until the result is dropped.
    pub(super) fn hold<'a>(
        &self,
        provider: &str,
        zone_ids: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<Held>> {
        let Some(state) = &self.dir else {
            return Ok(Vec::new());
        };
        let dir = crate::state::StateDir::locks_dir(state)?;
        let mut names: Vec<String> = zone_ids.map(|id| lock_name(provider, id)).collect();
        names.sort();
        names.dedup();
        names
            .iter()
            .map(|name| {
                crate::filelock::lock(&dir.join(name), ZONE_LOCK_TIMEOUT, "changing this zone")
            })
            .collect()
    }
}

/// The lock file's name for a zone id (any string an API gives): safe characters kept, the rest
/// `_`, cut to fit a file name (two ids then sharing a lock only makes them wait for each other).
fn lock_name(provider: &str, zone_id: &str) -> String {
    let id: String = zone_id
        .trim_end_matches('.')
        .chars()
        .take(200)
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    format!("{provider}-{id}.lock")
}
