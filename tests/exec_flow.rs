//! The exec provider through the binary: an order validated with the example nsupdate script against
//! the BIND fixture and the CertCentral simulator, and a failing program's report.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::world::{API_KEY, bare_cmd, process_running};
use assert_cmd::Command;
use dcv_sim::{OrderSpec, SimConfig, Simulator};
use predicates::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

struct ExecWorld {
    bind: BindFixture,
    sim: Simulator,
    dir: tempfile::TempDir,
}

impl ExecWorld {
    fn new(lag: Duration) -> ExecWorld {
        let bind = BindFixture::start(BindOptions { lag: Some(lag) });
        let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tsig.key"),
            format!(
                "key \"{}\" {{ algorithm hmac-sha256; secret \"{}\"; }};\n",
                bind.key_name(),
                bind.secret()
            ),
        )
        .unwrap();
        ExecWorld { bind, sim, dir }
    }

    fn cmd(&self, program: &std::path::Path) -> Command {
        let mut cmd = bare_cmd();
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .env("NSUPDATE_SERVER", self.bind.primary().to_string())
            .env("NSUPDATE_KEY_FILE", self.dir.path().join("tsig.key"))
            .args(["--api-url", &self.sim.url()])
            .args(["--resolver", &self.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args(["--poll-interval", "0.1", "--provider", "exec", "--exec"])
            .arg(program);
        cmd
    }
}

fn example_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hooks/examples/exec-nsupdate")
}

#[test]
fn an_order_is_validated_through_the_nsupdate_example_and_nothing_is_left() {
    let w = ExecWorld::new(Duration::from_secs(1));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let out = w
        .cmd(&example_script())
        .args(["run", "--order-id", &order.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
    assert!(w.sim.premature_checks().is_empty());
    let token = w.sim.order_random_value(order).unwrap();
    for name in ["www.example.test", "api.other.test"] {
        assert!(
            !w.bind.txt_values(w.bind.primary(), name).contains(&token),
            "{name} still holds the token"
        );
    }

    // dns-cname-token through the same script (it is told the record type).
    let cname = w
        .sim
        .add_order(OrderSpec::new(["cname.example.test"]).method("dns-cname-token"));
    w.cmd(&example_script())
        .args([
            "run",
            "--method",
            "dns-cname-token",
            "--order-id",
            &cname.to_string(),
        ])
        .assert()
        .success();
    assert_eq!(w.sim.order_status(cname).as_deref(), Some("issued"));
}

#[test]
fn a_failing_program_shows_its_stderr_and_its_exit_code_and_changes_nothing_at_digicert() {
    let w = ExecWorld::new(Duration::ZERO);
    let script = w.dir.path().join("refuse");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'step one' >&2\necho 'api token rejected by the dns host' >&2\nexit 77\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let order = w.sim.add_order(OrderSpec::new(["www.example.test"]));
    w.cmd(&script)
        .args(["auth", "--order-id", &order.to_string()])
        .assert()
        .code(77)
        .stderr(predicate::str::contains(
            "api token rejected by the dns host",
        ));
    assert!(
        std::fs::read_dir(w.dir.path().join("state/records"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    );

    // A missing program is found out before anything at DigiCert changes.
    let before = changes_at_digicert(&w.sim);
    w.cmd(std::path::Path::new("/nonexistent/program"))
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "--method",
            "dns-cname-token",
        ])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("--exec"));
    assert_eq!(changes_at_digicert(&w.sim), before);
}

/// How many requests the simulator got that may change state (anything but GET).
fn changes_at_digicert(sim: &Simulator) -> usize {
    sim.requests().iter().filter(|r| r.method != "GET").count()
}

#[test]
fn when_present_and_its_rollback_both_fail_the_state_is_kept_for_cleanup() {
    let w = ExecWorld::new(Duration::ZERO);
    let log = w.dir.path().join("calls.log");
    let broken = w.dir.path().join("broken");
    // present works for www, fails for api; cleanup fails: the rollback of www fails too.
    let script = w.dir.path().join("flaky");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $2\" >> {log}\n[ -e {broken} ] || exit 0\ncase \"$1 $2\" in\n  'present _dnsauth.api.other.test.') exit 69 ;;\n  cleanup*) echo 'dns host down' >&2; exit 69 ;;\nesac\n",
            log = log.display(),
            broken = broken.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(&broken, "").unwrap();
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]).method("dns-txt-token"));
    w.cmd(&script)
        .args(["auth", "--no-propagation-check", "--txt-name", "dnsauth"])
        .args(["--order-id", &order.to_string()])
        .assert()
        .code(69)
        .stderr(predicate::str::contains("could not take back"));
    let kept = std::fs::read_dir(w.dir.path().join("state/records"))
        .unwrap()
        .count();
    assert_eq!(kept, 2, "the pending entries must survive");
    // Once the DNS host is back, a flagless cleanup removes what may be live, and says that is
    // all it knows: publishing never completed, so it cannot claim the records were there.
    std::fs::remove_file(&broken).unwrap();
    std::fs::write(&log, "").unwrap();
    bare_cmd()
        .arg("cleanup")
        .arg("--state-dir")
        .arg(w.dir.path().join("state"))
        .assert()
        .success()
        .stdout(predicate::str::contains("removed if it was there").count(2));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains("cleanup _dnsauth.www.example.test."),
        "{calls}"
    );
    assert!(
        calls.contains("cleanup _dnsauth.api.other.test."),
        "{calls}"
    );
    assert_eq!(
        std::fs::read_dir(w.dir.path().join("state/records"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_zone_in_the_config_file_takes_its_own_provider_for_an_order_spanning_zones() {
    let w = ExecWorld::new(Duration::from_millis(500));
    let log = w.dir.path().join("exec.log");
    // other.test goes through the nsupdate example (logging its calls); the rest through rfc2136.
    let script = w.dir.path().join("logged");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $2\" >> {}\nexec {} \"$@\"\n",
            log.display(),
            example_script().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(w.dir.path().join("tsig.secret"), w.bind.secret()).unwrap();
    let config = w.dir.path().join("fleet.toml");
    std::fs::write(
        &config,
        format!(
            "provider = \"rfc2136\"\nrfc2136-server = \"{}\"\ntsig-key = \"{}\"\ntsig-secret-file = \"{}\"\n\n[[zone]]\nname = \"other.test\"\nprovider = \"exec\"\nexec = \"{}\"\n",
            w.bind.primary(),
            w.bind.key_name(),
            w.dir.path().join("tsig.secret").display(),
            script.display()
        ),
    )
    .unwrap();
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let mut cmd = bare_cmd();
    cmd.env("DIGICERT_API_KEY", API_KEY)
        .env("NSUPDATE_SERVER", w.bind.primary().to_string())
        .env("NSUPDATE_KEY_FILE", w.dir.path().join("tsig.key"))
        .args(["run", "--order-id", &order.to_string(), "--config"])
        .arg(&config)
        .args(["--api-url", &w.sim.url()])
        .args(["--resolver", &w.bind.primary_addr().to_string()])
        .arg("--state-dir")
        .arg(w.dir.path().join("state"))
        .args(["--poll-interval", "0.1", "--output", "json"]);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls, "present api.other.test.\ncleanup api.other.test.\n",
        "only other.test goes through the zone's provider"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let providers: Vec<(&str, &str)> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "published")
        .map(|r| (r["name"].as_str().unwrap(), r["provider"].as_str().unwrap()))
        .collect();
    assert!(
        providers.contains(&("www.example.test", "rfc2136")),
        "{providers:?}"
    );
    assert!(
        providers.contains(&("api.other.test", "exec")),
        "{providers:?}"
    );
}

/// An exec program in `dir` that logs its calls to `dir/calls` and its background child's pid to
/// `dir/pids`, and leaves that child running with its stderr.
fn leaves_a_child(dir: &std::path::Path) -> PathBuf {
    let program = dir.join("leaves-a-child");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$1 $2\" >> {dir}/calls\nsleep 600 &\necho $! >> {dir}/pids\necho 'started a helper' >&2\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    program
}

/// `auth` in ACME mode for `n` names through `program`, no propagation check.
fn acme_auth(dir: &std::path::Path, program: &std::path::Path, n: usize) -> Command {
    let mut cmd = bare_cmd();
    cmd.arg("auth");
    for i in 0..n {
        cmd.args([
            "-d",
            &format!("n{i}.example.test"),
            "--acme-value",
            &format!("v{i}"),
        ]);
    }
    cmd.args([
        "--provider",
        "exec",
        "--no-propagation-check",
        "--exec-timeout",
        "2",
    ])
    .arg("--exec")
    .arg(program)
    .arg("--state-dir")
    .arg(dir.join("state"))
    // A bound for a regression (the child sleeps 600 s), not a measure of speed.
    .timeout(Duration::from_secs(120));
    cmd
}

#[test]
fn a_child_the_program_leaves_holding_its_stderr_holds_neither_auth_nor_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let program = leaves_a_child(dir.path());
    acme_auth(dir.path(), &program, 5)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "published: _acme-challenge.n4.example.test",
        ))
        .stderr(predicate::str::contains(
            "left processes running after it exited; they were stopped",
        ));
    bare_cmd()
        .arg("cleanup")
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .stdout(predicate::str::contains("removed:").count(5));
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(
        calls.lines().filter(|l| l.starts_with("cleanup")).count(),
        5,
        "{calls}"
    );
    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(pids.lines().count(), 10);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pids.lines().any(process_running) {
        assert!(
            std::time::Instant::now() < deadline,
            "a helper outlived its call"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_state_dir_or_file_another_user_could_write_is_refused_and_nothing_runs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let program = leaves_a_child(dir.path());
    acme_auth(dir.path(), &program, 1).assert().success();
    let state = dir.path().join("state");
    let file = std::fs::read_dir(state.join("records"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let cleanup = || {
        let mut cmd = bare_cmd();
        cmd.arg("cleanup").arg("--state-dir").arg(&state);
        cmd
    };
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let refused_with = |fix: String| {
        cleanup()
            .assert()
            .code(78)
            .stderr(predicate::str::contains(fix));
    };
    mode(&file, 0o666);
    refused_with(format!("chmod 600 {}", file.display()));
    mode(&file, 0o600);
    mode(&state, 0o777);
    refused_with(format!("chmod 700 {}", state.display()));
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert!(!calls.contains("cleanup"), "nothing may run: {calls}");
    mode(&state, 0o700);
    cleanup().assert().success();
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert!(
        calls.contains("cleanup _acme-challenge.n0.example.test."),
        "{calls}"
    );
}

/// The ways a program's child escapes its process group (`{m}`: the marker its `sleep` runs for).
const ESCAPES: [(&str, &str); 4] = [
    ("setsid in the background", "setsid sleep {m} &"),
    ("a double fork", "( (sleep {m} &) & )"),
    ("setsid -f", "setsid -f sleep {m}"),
    (
        "a group of its own, ignoring SIGTERM",
        "perl -e '$SIG{TERM} = \"IGNORE\"; setpgrp(0, 0); exec \"sleep\", \"{m}\"' &",
    ),
];

/// A `sleep` argument no other test uses, found in /proc to tell whether the sleep still runs;
/// on drop, whatever still runs with it is killed (a failing run leaves it for 100 minutes).
struct Marker(String);

impl Marker {
    fn new(n: usize) -> Marker {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Marker(format!("{}.{nanos:09}", 6001 + n))
    }

    /// The running processes whose command line holds the marker.
    fn running(&self) -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| {
                let pid = e.ok()?.file_name().into_string().ok()?;
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                (String::from_utf8_lossy(&cmdline).contains(&self.0) && process_running(&pid))
                    .then_some(pid)
            })
            .collect()
    }

    /// Fails unless nothing runs with the marker (polled: a kill takes effect in its own time).
    fn assert_gone(&self, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.running().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: `sleep {}` outlived its call: {:?}",
                self.0,
                self.running()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        for pid in self.running() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
        }
    }
}

/// An exec program in `dir` running `body` for every call (`$1` is the action).
fn program_running(dir: &std::path::Path, body: &str) -> PathBuf {
    let program = dir.join("escapes");
    std::fs::write(&program, format!("#!/bin/sh\n{body}\nexit 0\n")).unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    program
}

/// `dcv-hook ARGS` under `flock LOCK`, as a cron line runs it: the lock is held as long as some
/// process keeps the file descriptor dcv-hook inherited. Returns its output.
fn under_flock(lock: &std::path::Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut cmd = std::process::Command::new("flock");
    cmd.arg(lock)
        .arg(assert_cmd::cargo::cargo_bin("dcv-hook"))
        .args(args)
        .env_remove("DCV_HOOK_CONFIG")
        .env_remove("DCV_HOOK_STATE_DIR")
        .stdin(std::process::Stdio::null());
    // Output is read to its end: a leftover holding stdout or stderr would hold this up too.
    cmd.output().unwrap()
}

/// Whether nobody holds `lock` any more.
fn lock_is_free(lock: &std::path::Path) -> bool {
    std::process::Command::new("flock")
        .args(["-n"])
        .arg(lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
}

/// `auth` of one ACME record through `program` (`--exec-timeout timeout`), then `cleanup`, each
/// under `flock`: after each (its exit code and stderr), `check` runs.
fn auth_then_cleanup(
    dir: &std::path::Path,
    (program, timeout): (&std::path::Path, &str),
    lock: &std::path::Path,
    check: impl Fn(&str, Option<i32>, &str),
) {
    let state = dir.join("state");
    let words = [
        "auth",
        "-d",
        "n.example.test",
        "--acme-value",
        "v",
        "--provider",
        "exec",
        "--no-propagation-check",
        "--exec-timeout",
        timeout,
        "--exec",
    ];
    let mut auth: Vec<&std::ffi::OsStr> = words.iter().map(std::ffi::OsStr::new).collect();
    auth.push(program.as_os_str());
    let cleanup = vec![std::ffi::OsStr::new("cleanup")];
    for (step, mut args) in [("auth", auth), ("cleanup", cleanup)] {
        args.extend([std::ffi::OsStr::new("--state-dir"), state.as_os_str()]);
        let out = under_flock(lock, &args);
        check(
            step,
            out.status.code(),
            &String::from_utf8_lossy(&out.stderr),
        );
    }
}

#[test]
fn a_child_that_leaves_the_group_or_session_is_stopped_and_frees_a_cron_lines_lock() {
    for (n, (how, line)) in ESCAPES.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let marker = Marker::new(n);
        // The program exits once its child runs `sleep`, so there is always one to stop.
        let program = program_running(
            dir.path(),
            &format!(
                "{}\nuntil pgrep -f 'sleep {m}' >/dev/null; do sleep 0.01; done",
                line.replace("{m}", &marker.0),
                m = marker.0
            ),
        );
        let lock = dir.path().join("cron.lock");
        let started = std::time::Instant::now();
        auth_then_cleanup(dir.path(), (&program, "60"), &lock, |step, code, stderr| {
            assert_eq!(code, Some(0), "{how}: {step}: {stderr}");
            marker.assert_gone(how);
            assert!(
                lock_is_free(&lock),
                "{how}: {step} left the cron line's lock held"
            );
            assert!(
                stderr.contains("after it exited; they were stopped: ")
                    && stderr.contains(" (sleep)"),
                "{how}: {step} names what it stopped: {stderr}"
            );
        });
        // A bound for a regression (each leftover sleeps 100 minutes), not a measure of speed.
        assert!(started.elapsed() < Duration::from_secs(60), "{how}");
    }
}

#[test]
fn a_child_that_left_the_session_of_a_program_killed_at_exec_timeout_is_stopped_too() {
    let dir = tempfile::tempdir().unwrap();
    let marker = Marker::new(9);
    let program = program_running(
        dir.path(),
        &format!(
            "[ \"$1\" = present ] || exit 0\nsetsid -f sleep {}\nsleep 30",
            marker.0
        ),
    );
    let lock = dir.path().join("cron.lock");
    auth_then_cleanup(dir.path(), (&program, "1"), &lock, |step, code, stderr| {
        if step == "cleanup" {
            assert_eq!(code, Some(0), "{stderr}");
            return;
        }
        assert_eq!(code, Some(69), "{stderr}");
        assert!(stderr.contains("--exec-timeout"), "{stderr}");
        marker.assert_gone("after --exec-timeout");
        assert!(lock_is_free(&lock));
        assert!(
            stderr.contains("when it was stopped; they were stopped: ")
                && stderr.contains(" (sleep)"),
            "{stderr}"
        );
    });
}
