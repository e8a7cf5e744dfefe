//! Fixtures shared by the integration tests. Each owns its temporary directory, servers and processes
//! and cleans them up on Drop, also when a test panics.

#![allow(dead_code)]

pub mod acme;
pub mod azure;
pub mod bind;
pub mod front;
pub mod google;
#[cfg(feature = "route53")]
pub mod moto;
pub mod nginx;
pub mod pdns;
pub mod pebble;
pub mod update_proxy;
pub mod world;

use dcv_hook::record::{Record, RecordType};

/// A TXT record at `name` for the domain the name is under (`_dnsauth.` taken off).
pub fn txt(name: &str, value: &str) -> Record {
    Record::new_dns(
        name.trim_start_matches("_dnsauth."),
        RecordType::Txt,
        name,
        value,
    )
}

/// How many rounds the parallel-run tests make: `DCV_TEST_RACE_ROUNDS`, default 3 (more, to measure).
pub fn race_rounds() -> usize {
    std::env::var("DCV_TEST_RACE_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Starts every command at once and waits for all: their outputs, in order.
pub fn all_at_once(
    commands: impl IntoIterator<Item = std::process::Command>,
) -> Vec<std::process::Output> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect()
}

/// The parallel-run check of a whole-set provider, [`race_rounds`] times: three `auth`s at one name
/// at once (`run(command, value)`), then every value there beside `foreign` (`values()`, sorted);
/// three `cleanup`s at once, then `foreign` alone and no state entry left in `state`.
pub fn parallel_runs_keep_every_value(
    run: impl Fn(&str, &str) -> std::process::Command,
    values: impl Fn() -> Vec<String>,
    foreign: &str,
    state: &std::path::Path,
) {
    for round in 0..race_rounds() {
        let ours: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|v| format!("{v}{round}"))
            .collect();
        for out in all_at_once(ours.iter().map(|v| run("auth", v))) {
            assert_eq!(out.status.code(), Some(0), "{out:?}");
        }
        let mut expected = ours.clone();
        expected.push(foreign.into());
        expected.sort();
        assert_eq!(values(), expected, "round {round}: after the auths");
        for out in all_at_once(ours.iter().map(|v| run("cleanup", v))) {
            assert_eq!(out.status.code(), Some(0), "{out:?}");
        }
        assert_eq!(values(), [foreign], "round {round}: after the cleanups");
        let records = std::fs::read_dir(state.join("records")).unwrap().count();
        assert_eq!(records, 0, "round {round}: state entries left");
    }
}

/// Every file under `dir` (for looking for a secret in a state directory).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
