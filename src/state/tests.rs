//! The state store's tests: round trips, damaged and old files, ids, and refusing state another
//! user could write, or could redirect on the way to it.

use super::*;
use crate::record::{Published, Record, RecordType};
use std::os::unix::fs::PermissionsExt;

fn entry(value: &str, order: u64) -> Entry {
    let record = Record::new_dns("example.com", RecordType::Txt, "example.com", value);
    pending_entry(
        &Published::new(&record, "rfc2136"),
        &Source {
            order_id: Some(order),
            ..Source::default()
        },
    )
}

#[test]
fn save_load_remove_round_trip_with_private_files() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(&dir.path().join("s")).unwrap();
    let lock = state.lock().unwrap();
    let (a, b) = (entry("a", 1), entry("b", 1));
    state.save(&a, &lock).unwrap();
    state.save(&b, &lock).unwrap();
    state.save(&a, &lock).unwrap(); // same change, same file
    let loaded = state.load_all(&lock).unwrap();
    assert_eq!(loaded.len(), 2);
    let file = dir
        .path()
        .join("s/records")
        .join(format!("{}.json", a.id()));
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    state.remove(&a, &lock).unwrap();
    state.remove(&a, &lock).unwrap();
    assert_eq!(state.load_all(&lock).unwrap(), vec![b]);
}

#[test]
fn a_damaged_state_file_is_skipped_and_the_rest_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let lock = state.lock().unwrap();
    state.save(&entry("a", 1), &lock).unwrap();
    fs::write(dir.path().join("records/x.json"), "{").unwrap();
    fs::write(dir.path().join("records/y.json"), [0xff, 0xfe]).unwrap();
    let loaded = state.load_all(&lock).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id(), entry("a", 1).id());
}

#[test]
fn state_files_from_before_acme_mode_still_read_with_their_ids() {
    // Written by the version before host-tool mode (no "acme" in the source).
    let old = r#"{"version":1,"status":"published","source":{"order_id":7},"created":1,
        "published":{"record":{"domain":"example.com","type":"TXT","name":"example.com",
        "value":"tok"},"provider":"rfc2136","location":"example.com","server":"192.0.2.1:53"}}"#;
    let entry: Entry = serde_json::from_str(old).unwrap();
    assert_eq!(entry.source.acme, None);
    assert_eq!(entry.id(), "txt-bb5e37af8965d1d5");
    let mut acme = entry.clone();
    acme.source = Source {
        acme: Some(AcmeSource::default()),
        ..Source::default()
    };
    assert_ne!(acme.id(), entry.id());
    assert!(acme.same_change(&entry));
}

#[test]
fn state_another_user_could_write_is_refused_as_config() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s");
    let state = StateDir::open(&root).unwrap();
    assert_eq!(
        fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700,
        "a new state dir is private"
    );
    state.save(&entry("a", 1), &state.lock().unwrap()).unwrap();
    let file = root
        .join("records")
        .join(format!("{}.json", entry("a", 1).id()));
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    let err = state.load_all(&state.lock().unwrap()).unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::Config, "{err}");
    assert!(err.message().contains("chmod 600"), "{err}");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    for dir in [root.clone(), root.join("records")] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        for open in [
            StateDir::open(&root).err(),
            StateDir::open_existing(&root).err(),
        ] {
            let err = open.expect("refused");
            assert_eq!(err.kind(), crate::error::Kind::Config, "{err}");
            assert!(
                err.message()
                    .contains(&format!("chmod 700 {}", dir.display())),
                "{err}"
            );
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    assert_eq!(
        StateDir::open(&root)
            .unwrap()
            .load_all(&state.lock().unwrap())
            .unwrap()
            .len(),
        1
    );
    if rustix::process::geteuid().is_root() {
        // Another user's directory, private as it may be, is theirs to fill.
        std::os::unix::fs::chown(&root, Some(65534), None).unwrap();
        let err = StateDir::open_existing(&root).err().expect("refused");
        assert!(err.message().contains("belongs to uid 65534"), "{err}");
    }
}

/// The user the tests plant things as (nobody), when the tests run as root and can.
const OTHER: u32 = 65534;

/// `dir` with `mode` (set after creating it, so the umask does not apply).
fn dir_with_mode(dir: &Path, mode: u32) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
    dir.to_path_buf()
}

/// `open` refuses `root` as a config error whose message holds `words`, and so does
/// `open_existing` unless it finds no state there.
fn refused(root: &Path, words: &[&str]) {
    let check = |err: crate::error::Error| {
        assert_eq!(err.kind(), crate::error::Kind::Config, "{err}");
        for w in words {
            assert!(err.message().contains(w), "{w:?} not in: {err}");
        }
    };
    check(StateDir::open(root).err().expect("open refuses"));
    match StateDir::open_existing(root) {
        Ok(Some(_)) => panic!("open_existing accepts {}", root.display()),
        Ok(None) => {}
        Err(err) => check(err),
    }
}

#[test]
fn a_world_writable_directory_on_the_way_is_refused_unless_sticky() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir_with_mode(&dir.path().join("open"), 0o777);
    refused(
        &open.join("state"),
        &[&open.display().to_string(), "not sticky", "chmod go-w"],
    );
    assert!(!open.join("state").exists(), "nothing is created under it");
    // Deeper down, through a relative path with `..`, still on the way.
    let deep = open.join("a/../b/state");
    refused(&deep, &[&open.display().to_string()]);

    // Sticky, like /tmp: others may add names but not replace ours.
    let sticky = dir_with_mode(&dir.path().join("sticky"), 0o1777);
    let state = StateDir::open(&sticky.join("state")).unwrap();
    state.save(&entry("a", 1), &state.lock().unwrap()).unwrap();
    assert!(
        StateDir::open_existing(&sticky.join("state"))
            .unwrap()
            .is_some()
    );
}

#[test]
fn a_link_or_directory_another_user_owns_on_the_way_is_refused() {
    if !rustix::process::geteuid().is_root() {
        return; // planting as another user needs root
    }
    let dir = tempfile::tempdir().unwrap();
    let sticky = dir_with_mode(&dir.path().join("tmp"), 0o1777);
    // Ours: a link of ours in a sticky directory leads to a state dir of ours.
    let mine = dir_with_mode(&dir.path().join("mine"), 0o700);
    std::os::unix::fs::symlink(&mine, sticky.join("ours")).unwrap();
    StateDir::open(&sticky.join("ours")).unwrap();
    assert!(mine.join("records").is_dir());

    // Another user's link in the sticky directory, to a directory of ours: refused, nothing made.
    let victim = dir_with_mode(&dir.path().join("victim"), 0o700);
    let planted = sticky.join("dcv-hook");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(OTHER), None).unwrap();
    refused(
        &planted,
        &["a symbolic link on the way", "belongs to uid 65534"],
    );
    refused(&planted.join("state"), &["belongs to uid 65534"]);
    assert_eq!(
        fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing made through the link"
    );

    // Another user's directory on the way, private as it is.
    let theirs = dir_with_mode(&sticky.join("theirs"), 0o755);
    std::os::unix::fs::chown(&theirs, Some(OTHER), None).unwrap();
    refused(
        &theirs.join("state"),
        &[&theirs.display().to_string(), "belongs to uid 65534"],
    );
    assert!(!theirs.join("state").exists());
}

#[test]
fn ids_differ_by_source_and_value() {
    assert_ne!(entry("a", 1).id(), entry("a", 2).id());
    assert_ne!(entry("a", 1).id(), entry("b", 1).id());
    assert!(entry("a", 1).same_change(&entry("a", 2)));
}
