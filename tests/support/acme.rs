//! Helpers for driving real ACME clients (certbot, lego, dehydrated, uacme) against the [`Pebble`]
//! fixture: where certbot is, what names an issued certificate covers, and running a client in a
//! private mount namespace with some system files replaced (lego's propagation check reads
//! /etc/resolv.conf, uacme trusts only /etc/ssl/certs/ca-certificates.crt).
//!
//! [`Pebble`]: super::pebble::Pebble

use std::ffi::OsString;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The certbot of the virtualenv that scripts/test makes (`DCV_TEST_CERTBOT`); panics saying so when
/// it is not there.
pub fn certbot() -> PathBuf {
    let hint = "run the tests through scripts/test, which installs certbot and \
                certbot-dns-rfc2136 in a virtualenv and sets DCV_TEST_CERTBOT";
    let path = std::env::var_os("DCV_TEST_CERTBOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("DCV_TEST_CERTBOT is not set: {hint}"));
    assert!(
        path.is_file(),
        "DCV_TEST_CERTBOT={} does not exist: {hint}",
        path.display()
    );
    path
}

/// The lexicon of the same virtualenv (`DCV_TEST_LEXICON`, PyPI dns-lexicon); panics saying so when
/// missing.
pub fn lexicon() -> PathBuf {
    let hint = "run the tests through scripts/test, which installs dns-lexicon in the virtualenv \
                and sets DCV_TEST_LEXICON";
    let path = std::env::var_os("DCV_TEST_LEXICON")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("DCV_TEST_LEXICON is not set: {hint}"));
    assert!(
        path.is_file(),
        "DCV_TEST_LEXICON={} does not exist: {hint}",
        path.display()
    );
    path
}

/// The DNS names (subjectAltName DNS entries) of the first certificate in the PEM file `pem`, sorted.
pub fn cert_sans(pem: &Path) -> Vec<String> {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(pem)
        .output()
        .expect("openssl is installed (run scripts/test)");
    assert!(
        out.status.success(),
        "openssl cannot read {}: {}",
        pem.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // "X509v3 Subject Alternative Name: \n    DNS:a.example.test, DNS:b.example.test"
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .filter_map(|s| s.trim().strip_prefix("DNS:").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Writes a resolv.conf naming only `nameserver` to `path` (for [`with_mounts`] over /etc/resolv.conf).
pub fn resolv_conf(path: &Path, nameserver: IpAddr) -> PathBuf {
    fs::write(
        path,
        format!("nameserver {nameserver}\noptions attempts:1 timeout:1\n"),
    )
    .unwrap();
    path.to_path_buf()
}

/// `cmd` run in a private mount namespace (`unshare --mount`, private propagation, so nothing leaks
/// to the host) where each `(file, target)` is bind-mounted over the existing `target` first, e.g.
/// `(resolv, "/etc/resolv.conf")`. Program, arguments, environment and working directory are carried
/// over. Needs root.
pub fn with_mounts(cmd: &Command, mounts: &[(&Path, &Path)]) -> Command {
    // sh -c 'mount --bind "$1" "$2" && ... && exec "$@"' sh FILE TARGET ... PROGRAM ARGS
    let mut script = String::new();
    let mut args: Vec<OsString> = Vec::new();
    for (i, (file, target)) in mounts.iter().enumerate() {
        assert!(file.exists(), "{} does not exist", file.display());
        script += &format!("mount --bind \"${}\" \"${}\" && ", 2 * i + 1, 2 * i + 2);
        args.push(file.as_os_str().into());
        args.push(target.as_os_str().into());
    }
    script += &format!("shift {} && exec \"$@\"", 2 * mounts.len());
    let mut wrapped = Command::new("unshare");
    wrapped
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(script)
        .arg("sh")
        .args(args)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}
