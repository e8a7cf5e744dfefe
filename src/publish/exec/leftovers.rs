//! What a program leaves running when its call ends, found and stopped: the tree still below it, its
//! process group, and what escaped both. A double fork, `setsid -f` or a child that changed its
//! group leaves the tree and the group; with `process::adopt_orphans` (the binary sets it) such an
//! orphan becomes dcv-hook's own child, so every child of dcv-hook that is not a program still
//! running is a leftover. Each is SIGKILLed (a child ignoring SIGTERM stops all the same) and, once
//! it is dcv-hook's child, reaped. Knows nothing of records or of what the call returns.

use crate::process;
use rustix::process::{Pid, Signal, WaitOptions, kill_process, kill_process_group, waitpid};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The programs running now, by pid: the children of dcv-hook that are not leftovers. Held while a
/// program is started and while orphans are swept, so a sweep never takes a program being started
/// for a leftover.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// How long a sweep waits for what it killed to be reaped (SIGKILL is not refused; this only
/// bounds a process stuck in the kernel).
const REAP_WITHIN: Duration = Duration::from_secs(5);

/// The running programs, locked: start a program and [`RunningGuard::add`] it while holding this.
pub(super) fn running() -> RunningGuard {
    RunningGuard(RUNNING.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The lock on the running programs.
pub(super) struct RunningGuard(MutexGuard<'static, Vec<u32>>);

impl RunningGuard {
    /// `pid` is a program now running (not a leftover).
    pub(super) fn add(&mut self, pid: u32) {
        self.0.push(pid);
    }
}

/// Stops what the call of `program` (exited or still running, not reaped yet) left running, the
/// program itself included; returns the others as `PID (NAME)`, for a warning.
pub(super) fn stop(program: u32) -> Vec<String> {
    let mut stopped = Stopped::default();
    // The tree first, while its links to the program are still there; then the group.
    for pid in process::descendants(program) {
        stopped.kill(pid);
    }
    for pid in process::all() {
        if pid != program && process::group(pid) == Some(program) {
            stopped.kill(pid);
        }
    }
    if let Some(leader) = pid_of(program) {
        let _ = kill_process_group(leader, Signal::KILL);
        // The program itself too, should it have moved to another group.
        let _ = kill_process(leader, Signal::KILL);
        // Once the program is gone, what it still had is re-parented (to us when adopting).
        wait_until_exited(leader);
    }
    let mut running = running();
    running.0.retain(|&p| p != program);
    // Another call's orphans cannot be told from this one's: sweep once no program runs.
    if process::adopting() && running.0.is_empty() {
        sweep(program, &mut stopped);
    }
    stopped.named
}

/// What a call's end stopped so far.
#[derive(Default)]
struct Stopped {
    pids: Vec<u32>,
    named: Vec<String>,
}

impl Stopped {
    /// SIGKILLs `pid`, named once when it was still running (not a zombie waiting to be reaped).
    fn kill(&mut self, pid: u32) {
        let Some(target) = pid_of(pid) else { return };
        if !self.pids.contains(&pid) && process::is_running(pid) {
            self.pids.push(pid);
            let name = process::name(pid).unwrap_or_else(|| "?".into());
            self.named.push(format!("{pid} ({name})"));
        }
        let _ = kill_process(target, Signal::KILL);
    }
}

/// Kills and reaps every child of ours but `program` (its caller reaps it), and everything below
/// each, until none is left (a killed parent's children come to us in turn).
fn sweep(program: u32, stopped: &mut Stopped) {
    let me = std::process::id();
    let until = Instant::now() + REAP_WITHIN;
    loop {
        let orphans: Vec<u32> = process::all()
            .into_iter()
            .filter(|&pid| pid != program && process::parent(pid) == Some(me))
            .collect();
        if orphans.is_empty() || Instant::now() >= until {
            return;
        }
        for orphan in orphans {
            for pid in std::iter::once(orphan).chain(process::descendants(orphan)) {
                stopped.kill(pid);
            }
            if let Some(pid) = pid_of(orphan) {
                let _ = waitpid(Some(pid), WaitOptions::NOHANG);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Blocks until `pid`, our child, has exited, without reaping it.
fn wait_until_exited(pid: Pid) {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let _ = waitid(
        WaitId::Pid(pid),
        WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
    );
}

fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}
