//! Facts about other processes, read from `/proc/PID/stat`: when one started (to tell it apart from a
//! later process that reuses its pid), which process group it is in, its parent and its name, and
//! the tree below a process. `None` when the process is gone or there is no `/proc`. Also makes
//! dcv-hook the reaper of its orphaned descendants ([`adopt_orphans`]), so what a program it runs
//! leaves behind (even in a session of its own) can be found again as dcv-hook's own children.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once orphaned descendants are re-parented to this process.
static ADOPTING: AtomicBool = AtomicBool::new(false);

/// The fields of `/proc/PID/stat` after the command name (in parentheses, which may hold spaces and
/// parentheses itself): the first is the state (field 3 of proc(5)).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat[stat.rfind(')')? + 1..]
            .split_whitespace()
            .map(String::from)
            .collect(),
    )
}

/// A process's start time, in clock ticks since boot (field 22).
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// A process's group (field 5); kernel threads are in group 0.
pub fn group(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// A process's parent (field 4).
pub fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// A process's command name (the kernel's `comm`, at most 15 bytes).
pub fn name(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    Some(stat[open + 1..stat.rfind(')')?].to_string())
}

/// Every process below `root` (children, their children, ...), parents before their children.
pub fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = all()
        .into_iter()
        .filter_map(|pid| Some((pid, parent(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let of = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == of)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// Makes this process the child subreaper of what it starts (`PR_SET_CHILD_SUBREAPER`): a descendant
/// whose parent exits (a double fork, `setsid -f`) becomes this process's child instead of init's,
/// so it can still be found and stopped. Linux only; elsewhere [`adopting`] stays false.
pub fn adopt_orphans() {
    let me = rustix::process::getpid();
    if rustix::process::set_child_subreaper(Some(me)).is_ok() {
        ADOPTING.store(true, Ordering::SeqCst);
    }
}

/// Whether orphaned descendants come back to this process (see [`adopt_orphans`]).
pub fn adopting() -> bool {
    ADOPTING.load(Ordering::SeqCst)
}

/// Whether a process is still running (exists and is not a zombie).
pub fn is_running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z" && s != "X"))
}

/// The pids of every process in `/proc`.
pub fn all() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_running_with_its_group_and_start() {
        let me = std::process::id();
        assert!(is_running(me));
        assert!(start_time(me).is_some());
        assert_eq!(
            group(me),
            Some(
                rustix::process::getpgrp()
                    .as_raw_nonzero()
                    .get()
                    .unsigned_abs()
            )
        );
        assert!(all().contains(&me));
        assert_eq!(start_time(u32::MAX), None);
        assert_eq!(parent(me), Some(std::os::unix::process::parent_id()));
        assert!(name(me).is_some_and(|n| !n.is_empty()));
    }

    #[test]
    fn the_tree_below_a_process_is_found_through_a_shell() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut below = descendants(child.id());
        while below.len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            below = descendants(child.id());
        }
        let _ = child.kill();
        for pid in &below {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(*pid as i32).unwrap(),
                rustix::process::Signal::KILL,
            );
        }
        let _ = child.wait();
        assert_eq!(below.len(), 2, "{below:?}");
        assert!(below.iter().all(|&p| name(p).is_none_or(|n| n == "sleep")));
    }
}
