//! Unit tests of the webroot provider: writing and cleaning up files, restoring what was
//! replaced, refusing two tokens for one file, and never following symbolic links.

use super::*;
use crate::record::HttpUrl;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn record(domain: &str, token: &str) -> Record {
    let url = HttpUrl {
        host: domain.to_string(),
        path: "/.well-known/pki-validation/fileauth.txt".to_string(),
    };
    Record::new_http(domain, url, token)
}

fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn writes_0644_and_cleanup_leaves_the_root_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("index.html"), "hi").unwrap();
    let before = tree(dir.path());
    let mut w = Webroot::new(dir.path()).unwrap();
    let published = w
        .present(&[record("a.example", "tok"), record("b.example", "tok")])
        .unwrap();
    assert_eq!(published.len(), 2);
    let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
    assert_eq!(fs::read_to_string(&file).unwrap(), "tok");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o644
    );
    w.cleanup(&published).unwrap();
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_replaced_file_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "old token\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let old_mtime =
        fs::metadata(&file).unwrap().modified().unwrap() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(old_mtime)
        .unwrap();
    let mut w = Webroot::new(dir.path()).unwrap();
    let published = w.present(&[record("a.example", "new")]).unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "new");
    w.cleanup(&published).unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "old token\n");
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.modified().unwrap(), old_mtime);
}

#[test]
fn what_prepare_saw_is_enough_to_undo_an_interrupted_present() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "original").unwrap();
    let mut w = Webroot::new(dir.path()).unwrap();
    let prepared = w.prepare(&[record("a.example", "tok")]).unwrap();
    // The process dies right after writing the token, before it could record anything else.
    fs::write(&file, "tok").unwrap();
    w.cleanup(&prepared).unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "original");
}

#[test]
fn directories_an_interrupted_present_created_are_removed_from_what_prepare_saw() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Webroot::new(dir.path()).unwrap();
    let prepared = w.prepare(&[record("a.example", "tok")]).unwrap();
    // The process dies right after creating the directories and writing the token.
    let file = dir.path().join(".well-known/pki-validation/fileauth.txt");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "tok").unwrap();
    w.cleanup(&prepared).unwrap();
    assert!(tree(dir.path()).is_empty(), "{:?}", tree(dir.path()));
}

#[test]
fn two_tokens_for_one_file_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Webroot::new(dir.path()).unwrap();
    let err = w
        .present(&[record("a.example", "one"), record("b.example", "two")])
        .unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::DataErr);
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn an_unwritable_spot_fails_73_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A file where a directory must go fails even for root, unlike permission bits.
    fs::create_dir(dir.path().join(".well-known")).unwrap();
    fs::write(dir.path().join(".well-known/pki-validation"), "x").unwrap();
    let before = tree(dir.path());
    let mut w = Webroot::new(dir.path()).unwrap();
    let err = w.present(&[record("a.example", "tok")]).unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::CantCreat);
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn symlinks_below_the_web_root_are_never_followed() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    // .well-known pointing outside: nothing may be written there.
    std::os::unix::fs::symlink(outside.path(), root.path().join(".well-known")).unwrap();
    let mut w = Webroot::new(root.path()).unwrap();
    let err = w.present(&[record("www.example.test", "tok")]).unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::CantCreat, "{err}");
    assert!(err.message().contains("symbolic link"), "{err}");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);

    // fileauth.txt pointing at a private file: never read into the state, never replaced.
    fs::remove_file(root.path().join(".well-known")).unwrap();
    let dir = root.path().join(".well-known/pki-validation");
    fs::create_dir_all(&dir).unwrap();
    let private = outside.path().join("secret.key");
    fs::write(&private, "private key").unwrap();
    std::os::unix::fs::symlink(&private, dir.join("fileauth.txt")).unwrap();
    assert!(w.prepare(&[record("www.example.test", "tok")]).is_err());
    assert!(w.present(&[record("www.example.test", "tok")]).is_err());
    assert_eq!(fs::read_to_string(&private).unwrap(), "private key");
    assert!(
        fs::symlink_metadata(dir.join("fileauth.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
