//! Cleanup undoes each record with what published it: a flagless cleanup groups the recorded
//! records by provider and everything the provider recorded (server, TSIG key, where its secret is
//! read from), and one group failing never stops the others. Through the binary, against BIND
//! whose `update-policy` ties the names under `k2.` to a second key. (Two Cloudflare credentials
//! files: `cloudflare.rs`.)

use crate::support::bind::{BindFixture, BindOptions, KEY_NAME, SECOND_KEY_LABEL, SECOND_KEY_NAME};
use crate::support::world::bare_cmd;
use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn two_tsig_keys_on_one_primary_each_remove_their_own_record() {
    let bind = BindFixture::start(BindOptions { lag: None });
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cmd = || {
        let mut cmd: Command = bare_cmd();
        cmd.args(["--resolver", &bind.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(&state);
        cmd
    };
    let second_name = format!("_acme-challenge.x.{SECOND_KEY_LABEL}.example.test");
    let records = [
        (
            KEY_NAME,
            bind.secret().to_string(),
            "_acme-challenge.one.example.test",
            "value-one",
        ),
        (
            SECOND_KEY_NAME,
            bind.second_secret(),
            second_name.as_str(),
            "value-two",
        ),
    ];
    let key_file = |i: usize| dir.path().join(format!("key{i}.secret"));
    for (i, (key, secret, name, value)) in records.iter().enumerate() {
        std::fs::write(key_file(i), secret).unwrap();
        std::fs::set_permissions(
            key_file(i),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        cmd()
            .args(["auth", "--no-propagation-check", "--provider", "rfc2136"])
            .args(["--rfc2136-server", &bind.primary().to_string()])
            .args(["--tsig-key", key])
            .arg("--tsig-secret-file")
            .arg(key_file(i))
            .args(["--acme-fqdn", name, "--acme-value", value])
            .assert()
            .success();
        assert_eq!(bind.txt_values(bind.primary(), name), [*value]);
    }
    // The second key's file is gone: its group fails, naming the file; the first is still removed.
    let moved = dir.path().join("moved");
    std::fs::rename(key_file(1), &moved).unwrap();
    cmd()
        .arg("cleanup")
        .assert()
        .code(78)
        .stderr(predicate::str::contains("key1.secret"));
    assert!(bind.txt_values(bind.primary(), records[0].2).is_empty());
    assert_eq!(bind.txt_values(bind.primary(), &second_name), ["value-two"]);

    std::fs::rename(&moved, key_file(1)).unwrap();
    cmd()
        .arg("cleanup")
        .assert()
        .success()
        .stdout(predicate::str::contains("removed"));
    assert!(bind.txt_values(bind.primary(), &second_name).is_empty());
    assert_eq!(std::fs::read_dir(state.join("records")).unwrap().count(), 0);
}
