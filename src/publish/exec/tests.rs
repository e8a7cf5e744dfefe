//! Unit tests of the exec provider: lego-style calls, failures and rollback, timeouts, leftover
//! processes, and the remembered-program trust check.

use super::trust::{same_as_remembered, trusted_program};
use super::*;
use crate::error::Kind;
use crate::record::RecordType;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("hook");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn txt(name: &str, value: &str) -> Record {
    Record::new_dns(name, RecordType::Txt, name, value)
}

#[test]
fn calls_the_program_lego_style_once_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let program = script(dir.path(), &format!("echo \"$@\" >> {}", log.display()));
    let mut exec = Exec::new(&program, Duration::from_secs(5)).unwrap();
    let published = exec
        .present(&[txt("a.example.test", "v1"), txt("b.example.test", "v2")])
        .unwrap();
    exec.cleanup(&published[..1]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "present a.example.test. v1\npresent b.example.test. v2\ncleanup a.example.test. v1\n"
    );
}

#[test]
fn a_failure_shows_the_stderr_tail_maps_sysexits_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let program = script(
        dir.path(),
        &format!(
            "echo \"$@\" >> {}\n[ \"$2\" = b.example.test. ] && {{ echo 'line 1' >&2; echo 'token rejected' >&2; exit 77; }}\nexit 0",
            log.display()
        ),
    );
    let mut exec = Exec::new(&program, Duration::from_secs(5)).unwrap();
    let err = exec
        .present(&[txt("a.example.test", "v1"), txt("b.example.test", "v2")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::NoPerm, "{err}");
    assert!(err.message().contains("token rejected"), "{err}");
    assert!(!err.may_have_left_records());
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .ends_with("cleanup a.example.test. v1\n")
    );
    let odd = script(dir.path(), "exit 3");
    let err = Exec::new(&odd, Duration::from_secs(5))
        .unwrap()
        .present(&[txt("a.example.test", "v")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Unavailable, "{err}");
}

#[test]
fn a_program_that_hangs_is_killed_and_its_state_kept() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "sleep 30");
    let started = Instant::now();
    let err = Exec::new(&program, Duration::from_millis(300))
        .unwrap()
        .present(&[txt("a.example.test", "v")])
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err.kind(), Kind::Unavailable);
    assert!(err.may_have_left_records(), "{err}");
}

#[test]
fn a_program_that_hangs_in_another_group_is_killed_too() {
    let dir = tempfile::tempdir().unwrap();
    // It joins our own group: its group is empty, so only a kill of the program itself stops it.
    let program = script(
        dir.path(),
        "exec perl -MPOSIX -e 'POSIX::setpgid(0, getpgrp(getppid())) or die; sleep 30'",
    );
    let started = Instant::now();
    let err = Exec::new(&program, Duration::from_millis(300))
        .unwrap()
        .present(&[txt("a.example.test", "v")])
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    assert!(err.message().contains("--exec-timeout"), "{err}");
}

#[test]
fn what_the_program_leaves_running_is_stopped_when_its_call_ends() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    // The helper keeps no pipe of ours open: only the group kill stops it.
    let program = script(
        dir.path(),
        &format!("sleep 600 2>/dev/null &\necho $! > {}", pid.display()),
    );
    Exec::new(&program, Duration::from_secs(30))
        .unwrap()
        .present(&[txt("a.example.test", "v")])
        .unwrap();
    let pid: u32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while crate::process::is_running(pid) {
        assert!(Instant::now() < deadline, "the helper outlived the call");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_remembered_program_runs_only_when_nobody_else_could_have_changed_it() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "exit 0");
    let name = program.display().to_string();
    assert_eq!(
        trusted_program(&name).unwrap(),
        program.canonicalize().unwrap()
    );
    assert!(same_as_remembered(&program, &name).is_ok());
    let other = dir.path().join("other");
    std::fs::copy(&program, &other).unwrap();
    let err = same_as_remembered(&other, &name).unwrap_err();
    assert_eq!(err.kind(), Kind::Config, "{err}");
    assert!(trusted_program("hook").is_err(), "a relative path");
    assert!(trusted_program(&dir.path().display().to_string()).is_err());
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o775)).unwrap();
    let err = trusted_program(&name).unwrap_err();
    assert!(
        err.message().contains("writable by group or others"),
        "{err}"
    );
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = trusted_program(&name).unwrap_err();
    assert!(err.message().contains("another user may change"), "{err}");
}

#[test]
fn a_missing_program_is_a_config_error() {
    let err = Exec::new(Path::new("/nonexistent/hook"), Duration::from_secs(1))
        .err()
        .unwrap();
    assert_eq!(err.kind(), Kind::Config);
    assert!(Exec::new(Path::new("sh"), Duration::from_secs(1)).is_ok());
}
