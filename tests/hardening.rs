//! Interruptions and lost replies through the real binary: signals to `run` and `auth`, an UPDATE
//! whose reply is lost, a kill -9 while an UPDATE is in flight, and ten `auth`s at once on one state
//! dir. Whatever happens, the state lets a flagless `cleanup` remove exactly what may be live.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::update_proxy::{Mode, UpdateProxy};
use crate::support::world::{API_KEY, process_running};
use dcv_sim::{OrderSpec, SimConfig, Simulator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct World {
    bind: BindFixture,
    sim: Simulator,
    dir: tempfile::TempDir,
}

impl World {
    fn new(lag: Option<Duration>) -> World {
        let bind = BindFixture::start(BindOptions { lag });
        let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tsig.secret"), bind.secret()).unwrap();
        World { bind, sim, dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The binary as a plain process (signals need its pid), rfc2136 through `server`.
    fn command(&self, server: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
        for var in [
            "DCV_HOOK_CONFIG",
            "DCV_TSIG_SECRET",
            "CERTBOT_VALIDATION",
            "CERTBOT_DOMAIN",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .args(args)
            .args(["--api-url", &self.sim.url()])
            .args(["--resolver", &self.bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(self.state())
            .args(["--poll-interval", "0.1", "--provider", "rfc2136"])
            .args(["--rfc2136-server", server])
            .args(["--tsig-key", self.bind.key_name()])
            .arg("--tsig-secret-file")
            .arg(self.dir.path().join("tsig.secret"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn primary_txt(&self, name: &str) -> Vec<String> {
        self.bind.txt_values(self.bind.primary(), name)
    }

    fn state_files(&self) -> usize {
        std::fs::read_dir(self.state().join("records"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Runs auth for `order` through a proxy that keeps the first UPDATE's reply, and kills it
    /// (SIGKILL) once that UPDATE has reached the server. The proxy passes everything from then
    /// on; it is returned because the state names it as the server cleanup must talk to.
    fn kill_auth_mid_update(&self, order: u64) -> UpdateProxy {
        let proxy = UpdateProxy::start(
            self.bind.primary(),
            self.bind.primary_addr(),
            Mode::DropFirst(1),
        );
        let mut child = self
            .command(
                &proxy.addr().to_string(),
                &["auth", "--order-id", &order.to_string()],
            )
            .spawn()
            .unwrap();
        wait_for("an UPDATE through the proxy", || proxy.updates() >= 1);
        child.kill().unwrap();
        child.wait().unwrap();
        proxy.pass_updates();
        proxy
    }

    /// A flagless cleanup, as an operator would run it afterwards.
    fn cleanup(&self) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_dcv-hook"))
            .env_remove("DCV_HOOK_CONFIG")
            .arg("cleanup")
            .arg("--state-dir")
            .arg(self.state())
            .output()
            .unwrap()
    }
}

/// Polls `cond` every 20 ms for up to 20 s.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit (up to 15 s) and returns its output.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        assert!(Instant::now() < deadline, "the process did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn token_name(w: &World, order: u64) -> (String, String) {
    (
        "www.example.test".to_string(),
        w.sim.order_random_value(order).unwrap(),
    )
}

/// `command` for an order on www.example.test, started and seen publishing; the secondary never
/// catches up (the world has no lag), so it then waits until it is told to stop.
fn waiting(w: &World, command: &str) -> (u64, Child) {
    waiting_with(w, command, |_| {})
}

/// [`waiting`], with `more` adding to the command line.
fn waiting_with(w: &World, command: &str, more: impl FnOnce(&mut Command)) -> (u64, Child) {
    let order = w.sim.add_order(OrderSpec::new(["www.example.test"]));
    let primary = w.bind.primary().to_string();
    let mut cmd = w.command(&primary, &[command, "--order-id", &order.to_string()]);
    more(&mut cmd);
    let child = cmd.spawn().unwrap();
    wait_for("the record on the primary", || {
        w.sim
            .order_random_value(order)
            .is_some_and(|t| w.primary_txt("www.example.test").contains(&t))
    });
    (order, child)
}

#[test]
fn sigterm_to_run_cleans_up_before_exiting_with_143() {
    let w = World::new(None);
    let (order, child) = waiting(&w, "run");
    signal(&child, "TERM");
    let (code, err) = finish(child);
    assert_eq!(code, Some(143), "{err}");
    let (name, token) = token_name(&w, order);
    assert!(!w.primary_txt(&name).contains(&token), "run must clean up");
    assert_eq!(w.state_files(), 0);
    // The last line says what happened: the records are gone, not "stay published".
    let last = err.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "dcv-hook: error: stopped waiting for propagation: interrupted by SIGTERM; cleanup then removed the 1 record(s) it had published",
        "{err}"
    );
}

#[test]
fn sigterm_to_run_whose_cleanup_fails_says_the_records_stay() {
    let w = World::new(None);
    let (order, child) = waiting(&w, "run");
    // The key file gone, the cleanup run starts after the signal cannot sign its UPDATE.
    let secret = w.dir.path().join("tsig.secret");
    let key = std::fs::read(&secret).unwrap();
    std::fs::remove_file(&secret).unwrap();
    signal(&child, "TERM");
    let (code, err) = finish(child);
    assert_eq!(code, Some(143), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("dcv-hook: error: stopped waiting for propagation: interrupted by SIGTERM; cleanup failed too (")
            && last.contains("tsig.secret")
            && last.ends_with("what it could not remove stays recorded: run `dcv-hook cleanup`"),
        "{err}"
    );
    let (name, token) = token_name(&w, order);
    assert!(w.primary_txt(&name).contains(&token));
    assert_eq!(w.state_files(), 1);
    std::fs::write(&secret, key).unwrap();
    let out = w.cleanup();
    assert!(out.status.success(), "{out:?}");
    assert!(!w.primary_txt(&name).contains(&token));
}

#[test]
fn sigterm_to_run_still_runs_the_exec_program_that_removes_the_record() {
    // Cleanup after a first signal must not be interrupted by it: the exec provider starts its
    // program (and the state lock waits) as if no signal had come.
    let w = World::new(None);
    let key = w.dir.path().join("tsig.key");
    std::fs::write(
        &key,
        format!(
            "key \"{}\" {{ algorithm hmac-sha256; secret \"{}\"; }};\n",
            w.bind.key_name(),
            w.bind.secret()
        ),
    )
    .unwrap();
    let primary = w.bind.primary().to_string();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hooks/examples/exec-nsupdate");
    let (order, child) = waiting_with(&w, "run", |cmd| {
        cmd.env("NSUPDATE_SERVER", &primary)
            .env("NSUPDATE_KEY_FILE", &key)
            .args(["--provider", "exec", "--exec"])
            .arg(&script);
    });
    signal(&child, "TERM");
    let (code, err) = finish(child);
    assert_eq!(code, Some(143), "{err}");
    let (name, token) = token_name(&w, order);
    assert!(
        !w.primary_txt(&name).contains(&token),
        "run must clean up through the program: {err}"
    );
    assert_eq!(w.state_files(), 0, "{err}");
}

#[test]
fn sigint_to_auth_stops_promptly_with_its_state_complete() {
    let w = World::new(None);
    let (order, child) = waiting(&w, "auth");
    let sent = Instant::now();
    signal(&child, "INT");
    let (code, err) = finish(child);
    assert_eq!(code, Some(130), "{err}");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert!(err.contains("records stay published and recorded"), "{err}");
    assert_eq!(w.state_files(), 1);
    let out = w.cleanup();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (name, token) = token_name(&w, order);
    assert!(!w.primary_txt(&name).contains(&token));
}

#[test]
fn a_second_signal_exits_at_once() {
    let w = World::new(None);
    let (_, child) = waiting(&w, "auth");
    signal(&child, "TERM");
    signal(&child, "TERM");
    let (code, _) = finish(child);
    assert_eq!(code, Some(143));
}

#[test]
fn an_update_whose_reply_is_lost_keeps_its_state_and_cleanup_removes_it() {
    let w = World::new(Some(Duration::ZERO));
    let proxy = UpdateProxy::start(w.bind.primary(), w.bind.primary_addr(), Mode::DropAll);
    let order = w.sim.add_order(OrderSpec::new(["www.example.test"]));
    let out = w
        .command(
            &proxy.addr().to_string(),
            &["auth", "--order-id", &order.to_string()],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("kept its state for cleanup"), "{err}");
    let (name, token) = token_name(&w, order);
    assert!(
        w.primary_txt(&name).contains(&token),
        "the UPDATE was applied"
    );
    assert_eq!(w.state_files(), 1);
    proxy.pass_updates();
    let out = w.cleanup();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!w.primary_txt(&name).contains(&token));
    assert_eq!(w.state_files(), 0);
}

#[test]
fn kill_9_while_an_update_is_in_flight_leaves_state_a_flagless_cleanup_can_use() {
    let w = World::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let _proxy = w.kill_auth_mid_update(order);
    let entries = std::fs::read_dir(w.state().join("records")).unwrap();
    for entry in entries {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["status"], "pending", "{doc}");
        assert!(doc["published"]["server"].is_string(), "no server: {doc}");
        assert!(
            doc["published"]["location"]
                .as_str()
                .is_some_and(|l| !l.is_empty()),
            "no zone: {doc}"
        );
    }
    assert_eq!(w.state_files(), 2);
    let out = w.cleanup();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = w.sim.order_random_value(order).unwrap();
    for name in ["www.example.test", "api.other.test"] {
        assert!(!w.primary_txt(name).contains(&token), "{name}");
    }
    assert_eq!(w.state_files(), 0);
}

#[test]
fn ten_auths_at_once_on_one_zone_and_state_dir_all_land_and_one_cleanup_is_exact() {
    let w = World::new(Some(Duration::ZERO));
    let primary = w.bind.primary().to_string();
    let children: Vec<(String, Child)> = (0..10)
        .map(|i| {
            let name = format!("host{i}.example.test");
            let value = format!("parallel-value-{i}");
            let child = w
                .command(&primary, &["auth", "-d", &name, "--acme-value", &value])
                .env_remove("DIGICERT_API_KEY")
                .spawn()
                .unwrap();
            (name, child)
        })
        .collect();
    for (name, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for i in 0..10 {
        assert_eq!(
            w.primary_txt(&format!("_acme-challenge.host{i}.example.test")),
            vec![format!("parallel-value-{i}")]
        );
    }
    assert_eq!(w.state_files(), 10);
    let out = w.cleanup();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..10 {
        assert!(
            w.primary_txt(&format!("_acme-challenge.host{i}.example.test"))
                .is_empty()
        );
    }
    assert_eq!(w.state_files(), 0);
}

#[test]
fn a_value_there_before_a_kill_9_mid_update_survives_the_cleanup_after_it() {
    let w = World::new(Some(Duration::ZERO));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test", "api.other.test"]));
    let (name, token) = token_name(&w, order);
    // Someone (another tool, or an earlier state since lost) already serves the value at www.
    let other_state = w.dir.path().join("other-state");
    let primary = w.bind.primary().to_string();
    let out = w
        .command(&primary, &["auth", "--no-propagation-check"])
        .args(["--acme-fqdn", &name, "--acme-value", &token])
        .arg("--state-dir")
        .arg(&other_state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // auth is killed while the UPDATE for api.other.test waits for its reply: its pending
    // entries must say already that www's value was there before.
    let _proxy = w.kill_auth_mid_update(order);
    let out = w.cleanup();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("was there before"), "{said}");
    assert_eq!(
        w.primary_txt(&name),
        std::slice::from_ref(&token),
        "the value from before"
    );
    assert!(!w.primary_txt("api.other.test").contains(&token));
    assert_eq!(w.state_files(), 0);
}

#[test]
fn sigterm_stops_a_running_exec_program_at_once_with_its_group_and_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let program = dir.path().join("hang");
    // The program and a child of it, both in its process group, hang on.
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nsleep 600 &\necho \"$$ $!\" > {}\nwait\n",
            started.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("dcv-hook"))
        .args(["auth", "-d", "www.example.test", "--acme-value", "v"])
        .args(["--provider", "exec", "--no-propagation-check"])
        .arg("--exec")
        .arg(&program)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env_remove("DCV_HOOK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pids = || std::fs::read_to_string(&started).unwrap_or_default();
    wait_for("the program to start", || pids().ends_with('\n'));
    signal(&child, "TERM");
    let (code, err) = finish(child);
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    for pid in pids().split_whitespace() {
        wait_for("the program's group to be stopped", || {
            !process_running(pid)
        });
    }
    let kept = std::fs::read_dir(dir.path().join("state/records"))
        .unwrap()
        .count();
    assert_eq!(
        kept, 1,
        "the record may be live: its state stays for cleanup"
    );
}
