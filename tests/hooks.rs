//! The ACME client wrappers in hooks/ (lego-exec, dehydrated, uacme, dns_dcvhook.sh) and the Ansible
//! example. The wrappers run against a fake `dcv-hook` put first on PATH that logs each call's
//! arguments and exits with a code the test picks, so what is under test is the mapping from each
//! client's calling convention to dcv-hook's command line, the exit codes and what is printed; not
//! dcv-hook itself. The Ansible test runs the real binary for the JSON fields the playbook reads.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fake dcv-hook: one block per call in $FAKE_DCV_LOG (`CALL`, an `arg` line per argument, the
/// DCV_HOOK_CONFIG it saw), a line on stdout, and the exit code FAKE_DCV_EXIT_AUTH /
/// FAKE_DCV_EXIT_CLEANUP / FAKE_DCV_EXIT (default 0), with an error line on stderr when non-zero.
const FAKE_DCV_HOOK: &str = r#"#!/bin/sh
{
    echo CALL
    for a in "$@"; do printf 'arg %s\n' "$a"; done
    printf 'env DCV_HOOK_CONFIG=%s\n' "${DCV_HOOK_CONFIG-}"
} >>"$FAKE_DCV_LOG"
case ${1:-} in
auth) code=${FAKE_DCV_EXIT_AUTH:-${FAKE_DCV_EXIT:-0}} ;;
cleanup) code=${FAKE_DCV_EXIT_CLEANUP:-${FAKE_DCV_EXIT:-0}} ;;
*) code=${FAKE_DCV_EXIT:-0} ;;
esac
echo "fake dcv-hook: ${1:-} report"
if [ "$code" -ne 0 ]; then echo "dcv-hook: error: fake failure" >&2; fi
exit "$code"
"#;

fn hook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hooks")
        .join(name)
}

/// One call the fake saw.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    args: Vec<String>,
    config: String,
}

/// A temp dir holding the fake in bin/, its log, and whatever files a case writes.
struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let fake = bin.join("dcv-hook");
        fs::write(&fake, FAKE_DCV_HOOK).unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        Fake { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `{dir}` in a case's strings stands for the temp dir.
    fn expand(&self, s: &str) -> String {
        s.replace("{dir}", self.path().to_str().unwrap())
    }

    /// A command with nothing of the caller's environment but a PATH that finds the fake first.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                format!("{}/bin:/usr/bin:/bin", self.path().display()),
            )
            .env("FAKE_DCV_LOG", self.path().join("calls.log"))
            .env("HOME", self.path())
            .current_dir(self.path());
        cmd
    }

    fn calls(&self) -> Vec<Call> {
        let Ok(log) = fs::read_to_string(self.path().join("calls.log")) else {
            return Vec::new();
        };
        let mut calls: Vec<Call> = Vec::new();
        for line in log.lines() {
            if line == "CALL" {
                calls.push(Call {
                    args: Vec::new(),
                    config: String::new(),
                });
            } else if let Some(arg) = line.strip_prefix("arg ") {
                calls.last_mut().unwrap().args.push(arg.to_string());
            } else if let Some(config) = line.strip_prefix("env DCV_HOOK_CONFIG=") {
                calls.last_mut().unwrap().config = config.to_string();
            }
        }
        calls
    }
}

/// What a wrapper did in one run.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    calls: Vec<Call>,
}

/// One row of a wrapper's table: run it with `args` and `env` (after writing `files` into the temp
/// dir), expect exit `code`, exactly these dcv-hook calls, and `stderr` (when not empty) in its
/// stderr.
struct Case {
    desc: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    code: i32,
    calls: &'static [&'static [&'static str]],
    stderr: &'static str,
}

const CASE: Case = Case {
    desc: "",
    args: &[],
    env: &[],
    files: &[],
    code: 0,
    calls: &[],
    stderr: "",
};

fn run_case(name: &str, case: &Case) -> (Fake, Ran) {
    let fake = Fake::new();
    for (file, text) in case.files {
        fs::write(fake.path().join(file), text).unwrap();
    }
    let mut cmd = fake.command(hook(name));
    cmd.args(case.args.iter().map(|a| fake.expand(a)));
    for (k, v) in case.env {
        cmd.env(k, fake.expand(v));
    }
    let out = cmd.output().unwrap();
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        calls: fake.calls(),
    };
    (fake, ran)
}

/// Runs every case and reports every mismatch at once, each with its description.
fn check_table(name: &str, cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let (fake, ran) = run_case(name, case);
        let want: Vec<Vec<String>> = case
            .calls
            .iter()
            .map(|c| c.iter().map(|a| fake.expand(a)).collect())
            .collect();
        let got: Vec<Vec<String>> = ran.calls.iter().map(|c| c.args.clone()).collect();
        let mut wrong = Vec::new();
        if ran.code != Some(case.code) {
            wrong.push(format!("exit {:?}, want {}", ran.code, case.code));
        }
        if got != want {
            wrong.push(format!("calls\n      got  {got:?}\n      want {want:?}"));
        }
        if !case.stderr.is_empty() && !ran.stderr.contains(case.stderr) {
            wrong.push(format!("stderr lacks {:?}", case.stderr));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{name} {:?} ({}):\n    {}\n    stdout: {}\n    stderr: {}",
                case.args,
                case.desc,
                wrong.join("\n    "),
                ran.stdout.trim_end(),
                ran.stderr.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn wrappers_are_executable() {
    for name in ["lego-exec", "dehydrated", "uacme"] {
        let mode = fs::metadata(hook(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "hooks/{name} is not executable");
    }
}

#[test]
fn lego_exec_maps_lego_calls_to_dcv_hook() {
    const FQDN: &str = "_acme-challenge.www.example.com.";
    check_table(
        "lego-exec",
        &[
            Case {
                desc: "present keeps lego's trailing dot",
                args: &["present", FQDN, "txt-value"],
                calls: &[&[
                    "auth",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=txt-value",
                ]],
                ..CASE
            },
            Case {
                desc: "cleanup",
                args: &["cleanup", FQDN, "txt-value"],
                calls: &[&[
                    "cleanup",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=txt-value",
                ]],
                ..CASE
            },
            Case {
                desc: "lego v5 docs put -- before the FQDN",
                args: &["present", "--", FQDN, "txt-value"],
                calls: &[&[
                    "auth",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=txt-value",
                ]],
                ..CASE
            },
            Case {
                desc: "a base64url value may start with -",
                args: &["present", FQDN, "-Xy_z"],
                calls: &[&[
                    "auth",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=-Xy_z",
                ]],
                ..CASE
            },
            // pW9ZKG0x...: base64url(sha256("keyAuth")), lego's own test vector (providers/dns/exec).
            Case {
                desc: "EXEC_MODE=RAW: the TXT value is computed from the key authorization",
                args: &["present", "--", "www.example.com", "tok", "keyAuth"],
                env: &[("EXEC_MODE", "RAW")],
                calls: &[&[
                    "auth",
                    "-d",
                    "www.example.com",
                    "--acme-value=pW9ZKG0xz_PCriK-nCMOjADy9eJcgGWIzkkj2fN4uZM",
                ]],
                ..CASE
            },
            Case {
                desc: "EXEC_MODE=RAW as lego's older docs show it: DOMAIN. -- TOKEN KEYAUTH",
                args: &["cleanup", "www.example.com.", "--", "tok", "keyAuth"],
                env: &[("EXEC_MODE", "RAW")],
                calls: &[&[
                    "cleanup",
                    "-d",
                    "www.example.com",
                    "--acme-value=pW9ZKG0xz_PCriK-nCMOjADy9eJcgGWIzkkj2fN4uZM",
                ]],
                ..CASE
            },
            Case {
                desc: "timeout is informational: lego keeps its defaults",
                args: &["timeout"],
                ..CASE
            },
            Case {
                desc: "an unknown action is misuse",
                args: &["frobnicate", FQDN, "v"],
                code: 64,
                stderr: "unknown action 'frobnicate'",
                ..CASE
            },
            Case {
                desc: "no action",
                code: 64,
                stderr: "usage",
                ..CASE
            },
            Case {
                desc: "present without a value",
                args: &["present", FQDN],
                code: 64,
                stderr: "got 1 arguments",
                ..CASE
            },
            Case {
                desc: "RAW with a stray word where -- belongs",
                args: &["present", "www.example.com", "x", "tok", "keyAuth"],
                code: 64,
                ..CASE
            },
            Case {
                desc: "dcv-hook's exit code is passed on, loudly",
                args: &["present", FQDN, "v"],
                env: &[("FAKE_DCV_EXIT", "75")],
                code: 75,
                calls: &[&[
                    "auth",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=v",
                ]],
                stderr: "ERROR: dcv-hook auth failed with exit 75: propagation timed out",
                ..CASE
            },
            Case {
                desc: "cleanup's exit code too",
                args: &["cleanup", FQDN, "v"],
                env: &[("FAKE_DCV_EXIT", "77")],
                code: 77,
                calls: &[&[
                    "cleanup",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=v",
                ]],
                stderr: "exit 77: credentials rejected",
                ..CASE
            },
            Case {
                desc: "DCV_HOOK_BIN names a binary that is not there",
                args: &["present", FQDN, "v"],
                env: &[("DCV_HOOK_BIN", "/nonexistent/dcv-hook")],
                code: 69,
                stderr: "not found",
                ..CASE
            },
            Case {
                desc: "DCV_HOOK_BIN names the binary",
                args: &["present", FQDN, "v"],
                env: &[
                    ("DCV_HOOK_BIN", "{dir}/bin/dcv-hook"),
                    ("PATH", "/usr/bin:/bin"),
                ],
                calls: &[&[
                    "auth",
                    "--acme-fqdn=_acme-challenge.www.example.com.",
                    "--acme-value=v",
                ]],
                ..CASE
            },
        ],
    );
}

#[test]
fn lego_exec_timeout_prints_nothing() {
    let (_fake, ran) = run_case(
        "lego-exec",
        &Case {
            args: &["timeout"],
            ..CASE
        },
    );
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "", "")
    );
}

#[test]
fn dehydrated_maps_challenges_to_one_dcv_hook_call() {
    const WELLKNOWN: (&str, &str) = ("WELLKNOWN", "/srv/www/.well-known/acme-challenge");
    const HTTP: (&str, &str) = ("CHALLENGETYPE", "http-01");
    const DNS: (&str, &str) = ("CHALLENGETYPE", "dns-01");
    check_table(
        "dehydrated",
        &[
            Case {
                desc: "dns-01, one name",
                args: &["deploy_challenge", "example.com", "tok1", "txt1"],
                env: &[DNS],
                calls: &[&["auth", "-d", "example.com", "--acme-value=txt1"]],
                ..CASE
            },
            Case {
                desc: "dns-01, HOOK_CHAIN=yes: three triples, one call, one wait",
                args: &[
                    "deploy_challenge",
                    "a.example.com",
                    "tok1",
                    "txt1",
                    "b.example.com",
                    "tok2",
                    "txt2",
                    "example.org",
                    "tok3",
                    "-txt3",
                ],
                env: &[DNS, ("HOOK_CHAIN", "yes")],
                calls: &[&[
                    "auth",
                    "-d",
                    "a.example.com",
                    "--acme-value=txt1",
                    "-d",
                    "b.example.com",
                    "--acme-value=txt2",
                    "-d",
                    "example.org",
                    "--acme-value=-txt3",
                ]],
                ..CASE
            },
            Case {
                desc: "dns-01, chained clean_challenge",
                args: &[
                    "clean_challenge",
                    "a.example.com",
                    "tok1",
                    "txt1",
                    "b.example.com",
                    "tok2",
                    "txt2",
                    "example.org",
                    "tok3",
                    "txt3",
                ],
                env: &[DNS, ("HOOK_CHAIN", "yes")],
                calls: &[&[
                    "cleanup",
                    "-d",
                    "a.example.com",
                    "--acme-value=txt1",
                    "-d",
                    "b.example.com",
                    "--acme-value=txt2",
                    "-d",
                    "example.org",
                    "--acme-value=txt3",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01: the web root is WELLKNOWN less /.well-known/acme-challenge",
                args: &["deploy_challenge", "example.com", "tok1", "tok1.thumb"],
                env: &[HTTP, WELLKNOWN],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "--webroot=/srv/www",
                    "-d",
                    "example.com",
                    "--acme-value=tok1.thumb",
                    "--acme-token=tok1",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01: WELLKNOWN with a trailing slash",
                args: &["deploy_challenge", "example.com", "tok1", "tok1.thumb"],
                env: &[HTTP, ("WELLKNOWN", "/srv/www/.well-known/acme-challenge/")],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "--webroot=/srv/www",
                    "-d",
                    "example.com",
                    "--acme-value=tok1.thumb",
                    "--acme-token=tok1",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01, HOOK_CHAIN=yes",
                args: &[
                    "deploy_challenge",
                    "example.com",
                    "tok1",
                    "tok1.thumb",
                    "www.example.com",
                    "tok2",
                    "tok2.thumb",
                    "static.example.com",
                    "tok3",
                    "tok3.thumb",
                ],
                env: &[HTTP, WELLKNOWN, ("HOOK_CHAIN", "yes")],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "--webroot=/srv/www",
                    "-d",
                    "example.com",
                    "--acme-value=tok1.thumb",
                    "--acme-token=tok1",
                    "-d",
                    "www.example.com",
                    "--acme-value=tok2.thumb",
                    "--acme-token=tok2",
                    "-d",
                    "static.example.com",
                    "--acme-value=tok3.thumb",
                    "--acme-token=tok3",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01: WELLKNOWN elsewhere (an alias): the config file's webroot",
                args: &["deploy_challenge", "example.com", "tok1", "tok1.thumb"],
                env: &[HTTP, ("WELLKNOWN", "/var/www/dehydrated")],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "-d",
                    "example.com",
                    "--acme-value=tok1.thumb",
                    "--acme-token=tok1",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01: WELLKNOWN elsewhere, DCV_HOOK_WEBROOT set",
                args: &["deploy_challenge", "example.com", "tok1", "tok1.thumb"],
                env: &[
                    HTTP,
                    ("WELLKNOWN", "/var/www/dehydrated"),
                    ("DCV_HOOK_WEBROOT", "/srv/other"),
                ],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "--webroot=/srv/other",
                    "-d",
                    "example.com",
                    "--acme-value=tok1.thumb",
                    "--acme-token=tok1",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01 cleanup: the challenge only, no provider flags",
                args: &["clean_challenge", "example.com", "tok1", "tok1.thumb"],
                env: &[HTTP, WELLKNOWN],
                calls: &[&[
                    "cleanup",
                    "-d",
                    "example.com",
                    "--acme-value=tok1.thumb",
                    "--acme-token=tok1",
                ]],
                ..CASE
            },
            Case {
                desc: "not a whole triple",
                args: &["deploy_challenge", "example.com", "tok1"],
                env: &[DNS],
                code: 64,
                stderr: "triples",
                ..CASE
            },
            Case {
                desc: "no triple at all",
                args: &["clean_challenge"],
                env: &[DNS],
                code: 64,
                ..CASE
            },
            Case {
                desc: "CHALLENGETYPE missing",
                args: &["deploy_challenge", "example.com", "tok1", "txt1"],
                code: 78,
                stderr: "CHALLENGETYPE is not set",
                ..CASE
            },
            Case {
                desc: "tls-alpn-01 is not served",
                args: &["deploy_challenge", "example.com", "tok1", "txt1"],
                env: &[("CHALLENGETYPE", "tls-alpn-01")],
                code: 78,
                stderr: "tls-alpn-01",
                ..CASE
            },
            Case {
                desc: "dcv-hook's exit code is passed on, loudly, after undoing the failed auth \
                       (dehydrated will not call clean_challenge)",
                args: &["deploy_challenge", "example.com", "tok1", "txt1"],
                env: &[DNS, ("FAKE_DCV_EXIT", "75")],
                code: 75,
                calls: &[
                    &["auth", "-d", "example.com", "--acme-value=txt1"],
                    &["cleanup", "-d", "example.com", "--acme-value=txt1"],
                ],
                stderr: "ERROR: dcv-hook auth (dns-01, 1 challenge(s)) failed with exit 75",
                ..CASE
            },
            Case {
                desc: "a failed http-01 deploy is undone with the challenge flags only",
                args: &["deploy_challenge", "example.com", "tok1", "tok1.thumb"],
                env: &[HTTP, WELLKNOWN, ("FAKE_DCV_EXIT_AUTH", "69")],
                code: 69,
                calls: &[
                    &[
                        "auth",
                        "--provider=webroot",
                        "--webroot=/srv/www",
                        "-d",
                        "example.com",
                        "--acme-value=tok1.thumb",
                        "--acme-token=tok1",
                    ],
                    &[
                        "cleanup",
                        "-d",
                        "example.com",
                        "--acme-value=tok1.thumb",
                        "--acme-token=tok1",
                    ],
                ],
                stderr: "exit 69",
                ..CASE
            },
            Case {
                desc: "clean_challenge's exit code too",
                args: &["clean_challenge", "example.com", "tok1", "txt1"],
                env: &[DNS, ("FAKE_DCV_EXIT", "73")],
                code: 73,
                calls: &[&["cleanup", "-d", "example.com", "--acme-value=txt1"]],
                stderr: "exit 73",
                ..CASE
            },
        ],
    );
}

#[test]
fn dehydrated_other_handlers_exit_0_and_print_nothing() {
    let handlers: &[&[&str]] = &[
        &[],
        &["startup_hook"],
        &["exit_hook"],
        &["exit_hook", "something failed"],
        &[
            "deploy_cert",
            "example.com",
            "/c/privkey.pem",
            "/c/cert.pem",
            "/c/fullchain.pem",
            "/c/chain.pem",
            "1460152442",
        ],
        &[
            "unchanged_cert",
            "example.com",
            "/c/privkey.pem",
            "/c/cert.pem",
            "/c/fullchain.pem",
            "/c/chain.pem",
        ],
        &[
            "invalid_challenge",
            "example.com",
            "{\"status\": \"invalid\"}",
        ],
        &["request_failure", "503", "busy", "POST", "Retry-After: 1"],
        &[
            "generate_csr",
            "example.com",
            "/c",
            "example.com www.example.com",
        ],
        &[
            "sync_cert",
            "/c/privkey.pem",
            "/c/cert.pem",
            "/c/fullchain.pem",
            "/c/chain.pem",
            "/c/cert.csr",
        ],
        &["deploy_ocsp", "example.com", "/c/ocsp.der", "1460152442"],
        &[
            "this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_hooks_in_your_script",
        ],
        &["some_future_hook", "a", "b"],
    ];
    for challengetype in [None, Some("dns-01"), Some("http-01")] {
        for args in handlers {
            let fake = Fake::new();
            let mut cmd = fake.command(hook("dehydrated"));
            cmd.args(*args).env("FAKE_DCV_EXIT", "70");
            if let Some(t) = challengetype {
                cmd.env("CHALLENGETYPE", t);
            }
            let out = cmd.output().unwrap();
            let what = format!("{args:?} with CHALLENGETYPE {challengetype:?}");
            assert_eq!(out.status.code(), Some(0), "{what}");
            assert!(out.stdout.is_empty(), "{what} printed {:?}", out.stdout);
            assert!(out.stderr.is_empty(), "{what} printed {:?}", out.stderr);
            assert!(fake.calls().is_empty(), "{what} called dcv-hook");
        }
    }
}

#[test]
fn uacme_maps_begin_done_failed_and_declines_what_it_cannot_serve() {
    const DNS_AUTH: &[&str] = &["auth", "-d", "www.example.com", "--acme-value=txt-digest"];
    const DNS_CLEANUP: &[&str] = &[
        "cleanup",
        "-d",
        "www.example.com",
        "--acme-value=txt-digest",
    ];
    const HTTP_CLEANUP: &[&str] = &[
        "cleanup",
        "-d",
        "www.example.com",
        "--acme-value=tok.thumb",
        "--acme-token=tok",
    ];
    const CONFIG: (&str, &str) = ("DCV_HOOK_CONFIG", "{dir}/acme.toml");
    check_table(
        "uacme",
        &[
            Case {
                desc: "begin dns-01",
                args: &["begin", "dns-01", "www.example.com", "tok", "txt-digest"],
                calls: &[DNS_AUTH],
                ..CASE
            },
            Case {
                desc: "done dns-01",
                args: &["done", "dns-01", "www.example.com", "tok", "txt-digest"],
                calls: &[DNS_CLEANUP],
                ..CASE
            },
            Case {
                desc: "failed dns-01",
                args: &["failed", "dns-01", "www.example.com", "tok", "txt-digest"],
                calls: &[DNS_CLEANUP],
                ..CASE
            },
            Case {
                desc: "begin http-01 with DCV_HOOK_WEBROOT",
                args: &["begin", "http-01", "www.example.com", "tok", "tok.thumb"],
                env: &[("DCV_HOOK_WEBROOT", "/srv/www")],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "--webroot=/srv/www",
                    "-d",
                    "www.example.com",
                    "--acme-value=tok.thumb",
                    "--acme-token=tok",
                ]],
                ..CASE
            },
            Case {
                desc: "begin http-01 with webroot in the config file",
                args: &["begin", "http-01", "www.example.com", "tok", "tok.thumb"],
                env: &[CONFIG],
                files: &[(
                    "acme.toml",
                    "provider = \"rfc2136\"\n  webroot = \"/var/www/html\"\n[[zone]]\nname = \"example.com\"\n",
                )],
                calls: &[&[
                    "auth",
                    "--provider=webroot",
                    "-d",
                    "www.example.com",
                    "--acme-value=tok.thumb",
                    "--acme-token=tok",
                ]],
                ..CASE
            },
            Case {
                desc: "http-01 declined: a webroot inside a [[zone]] table is not the top-level one",
                args: &["begin", "http-01", "www.example.com", "tok", "tok.thumb"],
                env: &[CONFIG],
                files: &[(
                    "acme.toml",
                    "provider = \"rfc2136\"\n[[zone]]\nname = \"example.com\"\nwebroot = \"/srv\"\n",
                )],
                code: 1,
                stderr: "declining http-01 for www.example.com: no web root",
                ..CASE
            },
            Case {
                desc: "http-01 declined without any web root",
                args: &["begin", "http-01", "www.example.com", "tok", "tok.thumb"],
                code: 1,
                stderr: "declining http-01",
                ..CASE
            },
            Case {
                desc: "done http-01",
                args: &["done", "http-01", "www.example.com", "tok", "tok.thumb"],
                calls: &[HTTP_CLEANUP],
                ..CASE
            },
            Case {
                desc: "failed http-01",
                args: &["failed", "http-01", "www.example.com", "tok", "tok.thumb"],
                env: &[("DCV_HOOK_WEBROOT", "/srv/www")],
                calls: &[HTTP_CLEANUP],
                ..CASE
            },
            Case {
                desc: "tls-alpn-01 is always declined",
                args: &["begin", "tls-alpn-01", "www.example.com", "tok", "digest"],
                env: &[("DCV_HOOK_UACME_TYPES", "dns-01 http-01 tls-alpn-01")],
                code: 1,
                stderr: "declining tls-alpn-01",
                ..CASE
            },
            Case {
                desc: "done for a type never served: nothing to clean",
                args: &["done", "tls-alpn-01", "www.example.com", "tok", "digest"],
                ..CASE
            },
            Case {
                desc: "DCV_HOOK_UACME_TYPES without dns-01 declines it",
                args: &["begin", "dns-01", "www.example.com", "tok", "txt-digest"],
                env: &[("DCV_HOOK_UACME_TYPES", "http-01")],
                code: 1,
                stderr: "not in DCV_HOOK_UACME_TYPES",
                ..CASE
            },
            Case {
                desc: "DCV_HOOK_UACME_TYPES may use commas",
                args: &["begin", "dns-01", "www.example.com", "tok", "txt-digest"],
                env: &[("DCV_HOOK_UACME_TYPES", "http-01,dns-01")],
                calls: &[DNS_AUTH],
                ..CASE
            },
            Case {
                desc: "a failed begin is cleaned up here (uacme will not call done/failed)",
                args: &["begin", "dns-01", "www.example.com", "tok", "txt-digest"],
                env: &[("FAKE_DCV_EXIT_AUTH", "75")],
                code: 75,
                calls: &[DNS_AUTH, DNS_CLEANUP],
                stderr: "ERROR: dcv-hook auth (dns-01 www.example.com) failed with exit 75",
                ..CASE
            },
            Case {
                desc: "a failed http-01 begin too; auth's code wins over cleanup's",
                args: &["begin", "http-01", "www.example.com", "tok", "tok.thumb"],
                env: &[
                    ("DCV_HOOK_WEBROOT", "/srv/www"),
                    ("FAKE_DCV_EXIT_AUTH", "73"),
                    ("FAKE_DCV_EXIT_CLEANUP", "65"),
                ],
                code: 73,
                calls: &[
                    &[
                        "auth",
                        "--provider=webroot",
                        "--webroot=/srv/www",
                        "-d",
                        "www.example.com",
                        "--acme-value=tok.thumb",
                        "--acme-token=tok",
                    ],
                    HTTP_CLEANUP,
                ],
                stderr: "exit 73",
                ..CASE
            },
            Case {
                desc: "cleanup's exit code is passed on",
                args: &["done", "dns-01", "www.example.com", "tok", "txt-digest"],
                env: &[("FAKE_DCV_EXIT", "69")],
                code: 69,
                calls: &[DNS_CLEANUP],
                stderr: "exit 69",
                ..CASE
            },
            Case {
                desc: "too few arguments",
                args: &["begin", "dns-01", "www.example.com", "tok"],
                code: 64,
                stderr: "usage",
                ..CASE
            },
            Case {
                desc: "unknown method",
                args: &["finish", "dns-01", "www.example.com", "tok", "txt-digest"],
                code: 64,
                stderr: "unknown method 'finish'",
                ..CASE
            },
        ],
    );
}

#[test]
fn wrappers_leave_dcv_hook_config_to_dcv_hook() {
    let runs = [
        (
            "lego-exec",
            Case {
                args: &["present", "_acme-challenge.example.com.", "v"],
                ..CASE
            },
        ),
        (
            "dehydrated",
            Case {
                args: &["deploy_challenge", "example.com", "t", "v"],
                env: &[("CHALLENGETYPE", "dns-01")],
                ..CASE
            },
        ),
        (
            "uacme",
            Case {
                args: &["begin", "dns-01", "example.com", "t", "v"],
                ..CASE
            },
        ),
    ];
    for (name, case) in &runs {
        for config in [None, Some("/etc/dcv-hook/acme.toml")] {
            let fake = Fake::new();
            let mut cmd = fake.command(hook(name));
            cmd.args(case.args).envs(case.env.iter().copied());
            if let Some(c) = config {
                cmd.env("DCV_HOOK_CONFIG", c);
            }
            let out = cmd.output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
            let calls = fake.calls();
            assert_eq!(calls.len(), 1, "{name}");
            assert_eq!(calls[0].config, config.unwrap_or(""), "{name}");
            assert!(
                !calls[0].args.iter().any(|a| a.starts_with("--config")),
                "{name}: {:?}",
                calls[0].args
            );
        }
    }
}

/// acme.sh's helpers as a test stands them in: messages to $ACME_LOG, the account config a file of
/// SAVED_NAME=VALUE lines.
const ACME_SH_STUBS: &str = r#"
_info() { echo "INFO: $*" >>"$ACME_LOG"; }
_err() { echo "ERR: $*" >>"$ACME_LOG"; return 1; }
_debug() { echo "DEBUG: $*" >>"$ACME_LOG"; }
_readaccountconf_mutable() { sed -n "s/^SAVED_$1=//p" "$ACCOUNT_CONF" 2>/dev/null | tail -n 1; }
_saveaccountconf_mutable() { echo "SAVED_$1=$2" >>"$ACCOUNT_CONF"; }
"#;

/// Runs a script that sources dns_dcvhook.sh the way acme.sh does (optionally after defining acme.sh's
/// helpers) and calls add then rm, with `shell` (bash, or sh for acme.sh's own interpreter).
fn acme_sh(shell: &str, stubs: bool, env: &[(&str, &str)], fake: &Fake) -> (String, String) {
    let script = format!(
        r#"set -u
{stubs}
before=$-
. "{hook}"
dns_dcvhook_add _acme-challenge.www.example.com "-txt-value"
echo "add=$?"
dns_dcvhook_rm _acme-challenge.www.example.com "-txt-value"
echo "rm=$?"
[ "$-" = "$before" ] || echo "shell options changed: $before -> $-"
"#,
        stubs = if stubs { ACME_SH_STUBS } else { "" },
        hook = hook("dns_dcvhook.sh").display()
    );
    let mut cmd = fake.command(shell);
    cmd.arg("-c")
        .arg(script)
        .env("ACME_LOG", fake.path().join("acme.log"))
        .env("ACCOUNT_CONF", fake.path().join("account.conf"));
    for (k, v) in env {
        cmd.env(k, fake.expand(v));
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn acme_calls(fake: &Fake, config: Option<&str>) -> Vec<Vec<String>> {
    ["auth", "cleanup"]
        .iter()
        .map(|verb| {
            let mut call = vec![verb.to_string()];
            if let Some(c) = config {
                call.push(format!("--config={c}"));
            }
            call.push("--acme-fqdn=_acme-challenge.www.example.com".into());
            call.push("--acme-value=-txt-value".into());
            call.iter().map(|a| fake.expand(a)).collect()
        })
        .collect()
}

fn args_of(calls: Vec<Call>) -> Vec<Vec<String>> {
    calls.into_iter().map(|c| c.args).collect()
}

#[test]
fn acme_sh_functions_without_acme_sh_helpers() {
    for shell in ["bash", "sh"] {
        let fake = Fake::new();
        let (stdout, stderr) = acme_sh(
            shell,
            false,
            &[("DCVHOOK_CONFIG", "/etc/dcv-hook/acme.toml")],
            &fake,
        );
        assert!(
            stdout.contains("add=0") && stdout.contains("rm=0"),
            "{shell}: {stdout}"
        );
        assert!(
            !stdout.contains("shell options changed"),
            "{shell}: {stdout}"
        );
        assert!(
            stderr.contains("dcv-hook: adding TXT _acme-challenge.www.example.com"),
            "{shell}: {stderr}"
        );
        assert!(
            stderr.contains("dcv-hook: removing TXT"),
            "{shell}: {stderr}"
        );
        assert_eq!(
            args_of(fake.calls()),
            acme_calls(&fake, Some("/etc/dcv-hook/acme.toml")),
            "{shell}"
        );
    }
}

#[test]
fn acme_sh_without_dcvhook_config_leaves_dcv_hook_config_to_dcv_hook() {
    let fake = Fake::new();
    let (stdout, _) = acme_sh(
        "bash",
        true,
        &[("DCV_HOOK_CONFIG", "/etc/dcv-hook/other.toml")],
        &fake,
    );
    assert!(
        stdout.contains("add=0") && stdout.contains("rm=0"),
        "{stdout}"
    );
    let calls = fake.calls();
    assert!(calls.iter().all(|c| c.config == "/etc/dcv-hook/other.toml"));
    assert_eq!(args_of(calls), acme_calls(&fake, None));
    // Nothing to save when nothing was set.
    assert!(!fake.path().join("account.conf").exists());
}

#[test]
fn acme_sh_saves_its_settings_and_reads_them_back() {
    let fake = Fake::new();
    // First issue: the settings come from the environment and are saved.
    let (stdout, _) = acme_sh(
        "bash",
        true,
        &[
            ("DCVHOOK_CONFIG", "/etc/dcv-hook/acme.toml"),
            ("DCVHOOK_BIN", "{dir}/bin/dcv-hook"),
        ],
        &fake,
    );
    assert!(
        stdout.contains("add=0") && stdout.contains("rm=0"),
        "{stdout}"
    );
    let saved = fs::read_to_string(fake.path().join("account.conf")).unwrap();
    assert!(
        saved.contains("SAVED_DCVHOOK_CONFIG=/etc/dcv-hook/acme.toml\n"),
        "{saved}"
    );
    assert!(
        saved.contains(&fake.expand("SAVED_DCVHOOK_BIN={dir}/bin/dcv-hook\n")),
        "{saved}"
    );
    let log = fs::read_to_string(fake.path().join("acme.log")).unwrap();
    assert!(
        log.contains("INFO: dcv-hook: adding TXT _acme-challenge.www.example.com"),
        "{log}"
    );
    assert!(
        log.contains("DEBUG: DCVHOOK_CONFIG=/etc/dcv-hook/acme.toml"),
        "{log}"
    );

    // Renewal: no environment, and dcv-hook is not on PATH; both come back from the account config.
    fs::remove_file(fake.path().join("calls.log")).unwrap();
    let (stdout, stderr) = acme_sh("bash", true, &[("PATH", "/usr/bin:/bin")], &fake);
    assert!(
        stdout.contains("add=0") && stdout.contains("rm=0"),
        "{stdout}{stderr}"
    );
    assert_eq!(
        args_of(fake.calls()),
        acme_calls(&fake, Some("/etc/dcv-hook/acme.toml"))
    );
}

#[test]
fn acme_sh_failures_return_1_and_say_why() {
    // With acme.sh's _err: the message goes there.
    let fake = Fake::new();
    let (stdout, _) = acme_sh("bash", true, &[("FAKE_DCV_EXIT_AUTH", "75")], &fake);
    assert!(
        stdout.contains("add=1") && stdout.contains("rm=0"),
        "{stdout}"
    );
    let log = fs::read_to_string(fake.path().join("acme.log")).unwrap();
    assert!(
        log.contains("ERR: dcv-hook auth failed for _acme-challenge.www.example.com with exit 75: propagation timed out"),
        "{log}"
    );
    // The failed add is undone at once, then acme.sh's rm runs as usual.
    let [auth, cleanup] = <[Vec<String>; 2]>::try_from(acme_calls(&fake, None)).unwrap();
    assert_eq!(args_of(fake.calls()), [auth, cleanup.clone(), cleanup]);

    // Without it: stderr.
    let fake = Fake::new();
    let (stdout, stderr) = acme_sh("sh", false, &[("FAKE_DCV_EXIT", "78")], &fake);
    assert!(
        stdout.contains("add=1") && stdout.contains("rm=1"),
        "{stdout}"
    );
    assert!(stderr.contains("dcv-hook: error: fake failure"), "{stderr}");
    assert!(
        stderr.contains("dcv-hook cleanup failed for _acme-challenge.www.example.com with exit 78"),
        "{stderr}"
    );

    // No binary.
    let fake = Fake::new();
    let (stdout, stderr) = acme_sh(
        "bash",
        false,
        &[("DCVHOOK_BIN", "/nonexistent/dcv-hook")],
        &fake,
    );
    assert!(
        stdout.contains("add=1") && stdout.contains("rm=1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("dcv-hook not found (/nonexistent/dcv-hook)"),
        "{stderr}"
    );
    assert!(fake.calls().is_empty());
}

const PLAYBOOK: &str = "examples/ansible/validate-order.yml";

/// The JSON fields the playbook reads: every `from_json).FIELD`.
fn playbook_fields(text: &str) -> Vec<String> {
    let mut fields: Vec<String> = text
        .split("from_json).")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

#[test]
fn ansible_playbook_is_yaml_ish_and_reads_the_report() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PLAYBOOK);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("---\n"), "a YAML document start");
    for (n, line) in text.lines().enumerate() {
        assert!(!line.contains('\t'), "line {}: a tab", n + 1);
        assert_eq!(line, line.trim_end(), "line {}: trailing space", n + 1);
        let indent = line.len() - line.trim_start().len();
        assert_eq!(indent % 2, 0, "line {}: odd indentation", n + 1);
    }
    for needle in [
        "ansible.builtin.command",
        "dcv-hook run",
        "--order-id {{ order_id",
        "--provider ",
        "--output json",
        "{{ '--dry-run' if ansible_check_mode else '' }}",
        "check_mode: false",
        "register: dcv",
        "changed_when:",
        "failed_when:",
        "(dcv.stdout | from_json).changed",
        "(dcv.stdout | from_json).ok",
        "(dcv.stdout | from_json).exit_code",
        "ansible.builtin.debug",
        "(dcv.stdout | from_json).records",
    ] {
        assert!(text.contains(needle), "{PLAYBOOK} lacks {needle:?}");
    }
    let fields = playbook_fields(&text);
    for f in ["changed", "exit_code", "ok", "records"] {
        assert!(fields.contains(&f.to_string()), "{fields:?}");
    }

    // A real YAML parser, where one is at hand.
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); \
             t = d[0]['tasks']; assert t[0]['register'] == 'dcv' and t[0]['check_mode'] is False",
        ])
        .arg(&path)
        .output();
    match parsed {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            eprintln!("python3 has no yaml module: YAML parse skipped")
        }
        Ok(out) => panic!(
            "{PLAYBOOK} does not parse: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("no python3: YAML parse skipped"),
    }
}

#[test]
fn every_field_the_playbook_reads_is_in_dcv_hooks_json_also_on_failure() {
    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(PLAYBOOK)).unwrap();
    let fields = playbook_fields(&text);
    let state = tempfile::tempdir().unwrap();
    // No API key: fails fast with 78, before any network.
    let out = Command::new(env!("CARGO_BIN_EXE_dcv-hook"))
        .args(["verify", "--order-id", "1", "--output", "json"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", state.path())
        .env("DCV_HOOK_STATE_DIR", state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    for f in &fields {
        assert!(
            doc.get(f).is_some(),
            "the playbook reads {f:?}, missing from {doc:#}"
        );
    }
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["changed"], false);
    assert_eq!(doc["exit_code"], 78);
    assert_eq!(doc["error"]["kind"], "config", "{doc:#}");
}

/// Every shell script we ship or run: the wrappers, the exec examples, scripts/ and .ci/
/// (scripts/test installs shellcheck, so this never passes by skipping).
#[test]
fn shellcheck_is_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["lego-exec", "dehydrated", "uacme", "dns_dcvhook.sh"]
        .map(hook)
        .into();
    for script in ["hooks/examples/exec-nsupdate", "hooks/examples/lexicon"] {
        files.push(root.join(script));
    }
    for script in ["scripts/test", "scripts/package", ".ci/run"] {
        files.push(root.join(script));
    }
    let out = Command::new("shellcheck")
        .args(&files)
        .output()
        .expect("shellcheck (apt-get install shellcheck; scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
