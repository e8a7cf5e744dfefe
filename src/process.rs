//! Facts about other processes, read from `/proc/PID/stat`: when one started (to tell it apart from a
//! later process that reuses its pid) and which process group it is in. `None` when the process is
//! gone or there is no `/proc`.

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
    }
}
