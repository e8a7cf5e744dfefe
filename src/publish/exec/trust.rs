//! Which program runs: `--exec` found as an executable (on PATH when it has no slash), and the
//! trust check for a program only the state file names (a state file must not choose what runs
//! with our rights). Never runs anything.

use crate::error::{Error, Result};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// `--exec` for a cleanup of records an earlier run published with `remembered`: a state file is
/// not trusted to choose the program, so one that differs from the configured one is refused.
pub(super) fn same_as_remembered(program: &Path, remembered: &str) -> Result<PathBuf> {
    let configured = find_program(program)?;
    let recalled = std::fs::canonicalize(remembered).unwrap_or_else(|_| remembered.into());
    if configured != recalled {
        return Err(Error::config(format!(
            "the state says {remembered} published these records, not --exec {}; clean up with --exec {remembered} (or without --exec) if you trust that program",
            program.display()
        )));
    }
    Ok(configured)
}

/// The program a state file names, for a cleanup given no `--exec`: run only when it is an
/// absolute path to a regular file owned by root or the running user that nobody else may write,
/// in directories nobody else may change (as sudo and ssh's StrictModes ask), since whoever could
/// write it or the state would otherwise choose what runs with our rights.
pub(super) fn trusted_program(remembered: &str) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Error::config(format!(
            "the state names the exec program {remembered:?}, which {why}; not running it: fix that, or clean up with --exec PROGRAM"
        ))
    };
    let path = Path::new(remembered);
    if !path.is_absolute() {
        return Err(refuse("is not an absolute path"));
    }
    let program =
        std::fs::canonicalize(path).map_err(|e| refuse(&format!("is not usable ({e})")))?;
    let meta = std::fs::metadata(&program).map_err(|e| refuse(&format!("is not usable ({e})")))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file"));
    }
    if let Some(why) = untrusted(&meta) {
        return Err(refuse(why));
    }
    for dir in program.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).map_err(|e| refuse(&format!("is not usable ({e})")))?;
        // A sticky root directory (/tmp) lets nobody else replace what is ours in it.
        let sticky_root = meta.uid() == 0 && meta.mode() & 0o1000 != 0;
        if !sticky_root && untrusted(&meta).is_some() {
            return Err(refuse(&format!(
                "is in {}, a directory another user may change",
                dir.display()
            )));
        }
    }
    Ok(program)
}

/// Why a file another user could change is not to be trusted, or `None` when it is owned by root
/// or the running user and writable by neither group nor others.
fn untrusted(meta: &std::fs::Metadata) -> Option<&'static str> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        Some("is owned by another user")
    } else if meta.mode() & 0o022 != 0 {
        Some("is writable by group or others")
    } else {
        None
    }
}

/// `program` as an absolute path to an executable file: as given when it has a slash, else on PATH.
pub(super) fn find_program(program: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let candidates: Vec<PathBuf> = if program.components().count() > 1 {
        vec![program.to_path_buf()]
    } else {
        std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(program))
                    .collect()
            })
            .unwrap_or_default()
    };
    candidates
        .into_iter()
        .find(|p| executable(p))
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .ok_or_else(|| {
            Error::config(format!(
                "--exec {}: not an executable file{}; give the program's path",
                program.display(),
                if program.components().count() > 1 {
                    ""
                } else {
                    " on PATH"
                }
            ))
        })
}
