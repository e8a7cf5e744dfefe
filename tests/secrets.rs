//! Secrets never leak: every command, with `-v` and `--output json`, succeeding and failing, with the
//! API key and the TSIG secret given every way dcv-hook takes them, and neither the secrets nor
//! their base64 or hex forms appear on stdout, on stderr or in any file of the state directory.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::world::bare_cmd;
use assert_cmd::Command;
use data_encoding::{BASE64, BASE64URL_NOPAD, HEXLOWER, HEXUPPER};
use dcv_sim::{DomainSpec, OrderSpec, SimConfig, Simulator};
use std::path::Path;

/// The API key the simulator accepts.
const API_KEY: &str = "SENTINEL-apikey-3f9d27c1";
/// An API key the simulator rejects (77).
const WRONG_API_KEY: &str = "SENTINEL-wrongkey-8a61e0b4";
/// A TSIG secret the BIND primary rejects (77): valid base64 of a recognisable text.
const WRONG_TSIG: &str = "U0VOVElORUwtd3JvbmctdHNpZy1zZWNyZXQtMDQ3MQ==";

/// Every form of `secret` worth looking for: itself, its base64 and hex, and for a base64 secret
/// the bytes it stands for in hex and base64url.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![
        secret.to_string(),
        BASE64.encode(secret.as_bytes()),
        BASE64URL_NOPAD.encode(secret.as_bytes()),
        HEXLOWER.encode(secret.as_bytes()),
        HEXUPPER.encode(secret.as_bytes()),
    ];
    if let Ok(raw) = BASE64.decode(secret.as_bytes()) {
        out.push(HEXLOWER.encode(&raw));
        out.push(HEXUPPER.encode(&raw));
        out.push(BASE64URL_NOPAD.encode(&raw));
        // The raw bytes themselves, when they happen to be text.
        if let Ok(text) = String::from_utf8(raw)
            && text.len() >= 8
        {
            out.push(text);
        }
    }
    out
}

struct Leaks {
    sentinels: Vec<(String, String)>,
    runs: usize,
    /// Lines seen on stderr, so the test knows `-v` gave it something to look at.
    verbose_lines: usize,
}

impl Leaks {
    fn new(secrets: &[&str]) -> Leaks {
        let sentinels = secrets
            .iter()
            .flat_map(|s| forms(s).into_iter().map(move |f| (s.to_string(), f)))
            .collect();
        Leaks {
            sentinels,
            runs: 0,
            verbose_lines: 0,
        }
    }

    /// Fails when `bytes` (from `what`) hold a sentinel in any form.
    fn check(&self, what: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for (secret, form) in &self.sentinels {
            assert!(
                !text.contains(form.as_str()),
                "{what} holds the secret {secret} (as {form}):\n{text}"
            );
        }
    }

    /// Runs `cmd` (adding `-v --output json`), expects `code`, checks stdout and stderr.
    fn run(&mut self, what: &str, mut cmd: Command, code: i32) -> serde_json::Value {
        let out = cmd.args(["-v", "--output", "json"]).output().unwrap();
        self.runs += 1;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
        self.verbose_lines += stderr.lines().count();
        self.check(&format!("{what}: stdout"), &out.stdout);
        self.check(&format!("{what}: stderr"), &out.stderr);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{what}: stdout not JSON: {e}"))
    }

    /// Checks every file under `dir`; returns how many there were.
    fn check_tree(&self, dir: &Path) -> usize {
        let mut files = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files += 1;
                    self.check(&path.display().to_string(), &std::fs::read(&path).unwrap());
                }
            }
        }
        files
    }
}

#[test]
fn secrets_never_reach_output_or_state() {
    let started = std::time::Instant::now();
    let bind = BindFixture::start(BindOptions::default());
    let sim = Simulator::start(SimConfig::new(API_KEY, bind.primary_addr()));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    std::fs::write(d.join("api-key"), format!("{API_KEY}\n")).unwrap();
    std::fs::write(d.join("wrong-api-key"), format!("{WRONG_API_KEY}\n")).unwrap();
    std::fs::write(d.join("tsig.secret"), format!("{}\n", bind.secret())).unwrap();
    std::fs::write(d.join("wrong-tsig.secret"), format!("{WRONG_TSIG}\n")).unwrap();
    let ini = |secret: &str| {
        format!(
            "dns_rfc2136_server = {}\ndns_rfc2136_name = {}\ndns_rfc2136_secret = {secret}\n",
            bind.primary(),
            bind.key_name()
        )
    };
    std::fs::write(d.join("rfc2136.ini"), ini(bind.secret())).unwrap();
    std::fs::write(d.join("wrong.ini"), ini(WRONG_TSIG)).unwrap();
    for f in [
        "api-key",
        "wrong-api-key",
        "tsig.secret",
        "wrong-tsig.secret",
        "rfc2136.ini",
        "wrong.ini",
    ] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut leaks = Leaks::new(&[API_KEY, WRONG_API_KEY, bind.secret(), WRONG_TSIG]);

    // The API key from the environment or from a file; the TSIG secret from the environment, a
    // file or an ini; `secret` says which.
    let cmd = |key: KeyFrom, tsig: TsigFrom, args: &[&str]| -> Command {
        let mut cmd = bare_cmd();
        match key {
            KeyFrom::Env(k) => {
                cmd.env("DIGICERT_API_KEY", k);
            }
            KeyFrom::File(f) => {
                cmd.arg("--api-key-file").arg(d.join(f));
            }
        }
        cmd.args(["--api-url", &sim.url()])
            .args(["--resolver", &bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(&state)
            .args(["--poll-interval", "0.1", "--timeout", "20"])
            .args(["--provider", "rfc2136"]);
        match tsig {
            TsigFrom::Env(s) => {
                cmd.env("DCV_TSIG_SECRET", s)
                    .args(["--rfc2136-server", &bind.primary().to_string()])
                    .args(["--tsig-key", bind.key_name()]);
            }
            TsigFrom::File(f) => {
                cmd.args(["--rfc2136-server", &bind.primary().to_string()])
                    .args(["--tsig-key", bind.key_name()])
                    .arg("--tsig-secret-file")
                    .arg(d.join(f));
            }
            TsigFrom::Ini(f) => {
                cmd.arg("--rfc2136-credentials").arg(d.join(f));
            }
            TsigFrom::None => {}
        }
        cmd.args(args);
        cmd
    };
    let order = |names: &[&str]| sim.add_order(OrderSpec::new(names.to_vec())).to_string();

    // Successful runs, each secret source once.
    let a = order(&["www.example.test"]);
    leaks.run(
        "run, key from env, tsig from env",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::Env(bind.secret()),
            &["run", "--order-id", &a],
        ),
        0,
    );
    let b = order(&["api.other.test"]);
    let key_file = KeyFrom::File("api-key");
    leaks.run(
        "auth, key from file, tsig from file",
        cmd(
            key_file,
            TsigFrom::File("tsig.secret"),
            &["auth", "--order-id", &b],
        ),
        0,
    );
    // The state now holds b's record: the secret's path is remembered, never the secret.
    assert!(leaks.check_tree(&state) > 0, "auth left no state to check");
    leaks.run(
        "verify, key from file",
        cmd(
            key_file,
            TsigFrom::None,
            &["verify", "--order-id", &b, "--wait"],
        ),
        0,
    );
    leaks.run(
        "status, key from env",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::None,
            &["status", "--order-id", &b],
        ),
        0,
    );
    leaks.run(
        "cleanup from the state alone (tsig file remembered)",
        cmd(key_file, TsigFrom::None, &["cleanup", "--order-id", &b]),
        0,
    );
    let c = order(&["example.test"]);
    leaks.run(
        "run, tsig from ini",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::Ini("rfc2136.ini"),
            &["run", "--order-id", &c],
        ),
        0,
    );
    let domain = sim
        .add_domain(DomainSpec::new("shop.other.test"))
        .to_string();
    leaks.run(
        "run a domain, key from file, tsig from env",
        cmd(
            key_file,
            TsigFrom::Env(bind.secret()),
            &["run", "--domain-id", &domain],
        ),
        0,
    );
    leaks.run(
        "status of a domain, key from file",
        cmd(
            key_file,
            TsigFrom::None,
            &["status", "--domain-id", &domain],
        ),
        0,
    );

    // Failing runs: a wrong TSIG secret each way, a rejected API key each way.
    let e = order(&["mail.example.test"]);
    leaks.run(
        "auth, wrong tsig from env",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::Env(WRONG_TSIG),
            &["auth", "--order-id", &e],
        ),
        77,
    );
    leaks.run(
        "run, wrong tsig from file",
        cmd(
            key_file,
            TsigFrom::File("wrong-tsig.secret"),
            &["run", "--order-id", &e],
        ),
        77,
    );
    leaks.run(
        "run, wrong tsig from ini",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::Ini("wrong.ini"),
            &["run", "--order-id", &e],
        ),
        77,
    );
    for (what, key) in [
        ("env", KeyFrom::Env(WRONG_API_KEY)),
        ("file", KeyFrom::File("wrong-api-key")),
    ] {
        for args in [
            &["auth", "--order-id", &e][..],
            &["verify", "--order-id", &e],
            &["run", "--order-id", &e],
            &["status", "--order-id", &e],
            &["status", "--domain-id", &domain],
        ] {
            leaks.run(
                &format!("{} with the API key rejected ({what})", args[0]),
                cmd(key, TsigFrom::File("tsig.secret"), args),
                77,
            );
        }
    }
    // A cleanup left with a record whose removal is refused (wrong secret): it stays recorded.
    leaks.run(
        "auth for a failing cleanup",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::Ini("rfc2136.ini"),
            &["auth", "--order-id", &e],
        ),
        0,
    );
    leaks.run(
        "cleanup, wrong tsig from env",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::Env(WRONG_TSIG),
            &["cleanup", "--order-id", &e],
        ),
        77,
    );
    assert!(
        leaks.check_tree(&state) > 0,
        "the failed cleanup left no state"
    );
    leaks.run(
        "cleanup with the ini the state remembers",
        cmd(
            KeyFrom::Env(API_KEY),
            TsigFrom::None,
            &["cleanup", "--order-id", &e],
        ),
        0,
    );
    leaks.check_tree(&state);
    assert!(
        leaks.verbose_lines > 2 * leaks.runs,
        "-v printed too little ({} lines) to be a test",
        leaks.verbose_lines
    );
    println!(
        "{} runs ({} stderr lines) checked in {:.1}s",
        leaks.runs,
        leaks.verbose_lines,
        started.elapsed().as_secs_f64()
    );
}

#[derive(Clone, Copy)]
enum KeyFrom {
    Env(&'static str),
    File(&'static str),
}

#[derive(Clone, Copy)]
enum TsigFrom<'a> {
    Env(&'a str),
    File(&'static str),
    Ini(&'static str),
    None,
}
