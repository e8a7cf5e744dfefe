//! Unit tests of the credential files: the certbot ini reader's values, malformed lines and
//! missing keys, secrets kept out of messages, one-secret files and the permission warning.

use super::*;
use crate::error::Kind;
use std::os::unix::fs::PermissionsExt;

const SECRET: &str = "0123456789abcdefSECRETSECRETSECRETSECRET";

fn parse(text: &str) -> Result<Ini> {
    Ini::parse(text, Path::new("/etc/cf.ini"), "dns_cloudflare")
}

/// One value row: (description, file, short key, expected value).
type ValueRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Checks each row: the file parses, and the key reads as the expected value.
fn check_values(cases: &[ValueRow]) {
    for (desc, text, key, want) in cases {
        let ini = parse(text).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(ini.get(key), *want, "{desc}");
    }
}

/// Quoted and unquoted values, as configobj reads them.
#[test]
fn value_quoting_table() {
    check_values(&[
        (
            "plain",
            "dns_cloudflare_api_token = abc\n",
            "api_token",
            Some("abc"),
        ),
        (
            "no spaces",
            "dns_cloudflare_api_token=abc",
            "api_token",
            Some("abc"),
        ),
        (
            "double quotes",
            "dns_cloudflare_api_token = \"abc\"",
            "api_token",
            Some("abc"),
        ),
        (
            "single quotes",
            "dns_cloudflare_api_token = 'abc'",
            "api_token",
            Some("abc"),
        ),
        (
            "triple quotes",
            "dns_cloudflare_api_token = \"\"\"abc\"\"\"",
            "api_token",
            Some("abc"),
        ),
        (
            "quote inside quotes",
            "dns_cloudflare_api_token = \"ab\"c\"",
            "api_token",
            Some("ab\"c"),
        ),
        (
            "spaces inside quotes",
            "dns_cloudflare_api_token = \" a b \"",
            "api_token",
            Some(" a b "),
        ),
        (
            "equals in value",
            "dns_cloudflare_api_token = a=b",
            "api_token",
            Some("a=b"),
        ),
    ]);
}

/// Comments after a value and on their own line.
#[test]
fn comments_table() {
    check_values(&[
        (
            "inline comment",
            "dns_cloudflare_api_token = abc # my token",
            "api_token",
            Some("abc"),
        ),
        (
            "hash without space starts a comment",
            "dns_cloudflare_api_token = abc#def",
            "api_token",
            Some("abc"),
        ),
        (
            "quoted hash is kept",
            "dns_cloudflare_api_token = \"abc#def\" # note",
            "api_token",
            Some("abc#def"),
        ),
        (
            "comments and blank lines",
            "# c\n\n  ; c\n  dns_cloudflare_email = a@b.c  \n",
            "email",
            Some("a@b.c"),
        ),
    ]);
}

/// How a key may be written, and keys of another plugin.
#[test]
fn key_spellings_table() {
    check_values(&[
        (
            "quoted key",
            "\"dns_cloudflare_api_token\" = abc",
            "api_token",
            Some("abc"),
        ),
        (
            "key case ignored",
            "DNS_Cloudflare_API_Token = abc",
            "api_token",
            Some("abc"),
        ),
        (
            "bom",
            "\u{feff}dns_cloudflare_api_token = abc",
            "api_token",
            Some("abc"),
        ),
        (
            "other prefix ignored",
            "dns_rfc2136_secret = abc",
            "secret",
            None,
        ),
    ]);
}

/// A key with no value reads as missing.
#[test]
fn empty_values_table() {
    check_values(&[
        (
            "empty is missing",
            "dns_cloudflare_api_token =",
            "api_token",
            None,
        ),
        (
            "only a comment is empty",
            "dns_cloudflare_api_token = # later",
            "api_token",
            None,
        ),
    ]);
}

/// Keys inside a `[section]` are not certbot's.
#[test]
fn sections_table() {
    check_values(&[
        (
            "section hides keys",
            "[cloudflare]\ndns_cloudflare_api_token = abc",
            "api_token",
            None,
        ),
        (
            "keys before a section count",
            "dns_cloudflare_api_token = abc\n[other]\nx = y",
            "api_token",
            Some("abc"),
        ),
    ]);
}

#[test]
fn malformed_lines_table() {
    // (description, file, words the message must contain)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "colon separator (configobj takes only =)",
            "dns_cloudflare_api_token: abc",
            &["line 1", "key = value"],
        ),
        ("no separator", "\n\njust words", &["line 3"]),
        ("empty key", " = abc", &["line 1"]),
        (
            "unbalanced quote",
            "dns_cloudflare_api_token = \"abc",
            &["line 1", "dns_cloudflare_api_token"],
        ),
        (
            "text after closing quote",
            "dns_cloudflare_api_token = \"abc\" def",
            &["line 1"],
        ),
        (
            "duplicate key",
            "dns_cloudflare_email = a\ndns_cloudflare_email = b",
            &["line 2", "line 1"],
        ),
        ("bad section header", "[oops\n", &["line 1", "section"]),
    ];
    for (desc, text, words) in cases {
        let err = parse(text).expect_err(desc);
        assert_eq!(err.kind(), Kind::DataErr, "{desc}");
        for word in *words {
            assert!(err.message().contains(word), "{desc}: {err}");
        }
        assert!(err.message().contains("/etc/cf.ini"), "{desc}: {err}");
    }
}

#[test]
fn require_lists_every_missing_key_in_one_message() {
    let ini = parse("dns_cloudflare_email =\n[x]\ndns_cloudflare_api_key = k\n").unwrap();
    let err = ini.require(&["email", "api_key", "api_token"]).unwrap_err();
    assert_eq!(err.kind(), Kind::DataErr);
    let m = err.message();
    assert!(m.contains("/etc/cf.ini"), "{m}");
    assert!(m.contains("dns_cloudflare_email (empty)"), "{m}");
    assert!(m.contains("dns_cloudflare_api_key (found under [x]"), "{m}");
    assert!(m.contains("dns_cloudflare_api_token"), "{m}");
    assert!(!m.contains(": k"), "{m}");
    let ini = parse("dns_cloudflare_api_token = t").unwrap();
    ini.require(&["api_token"]).unwrap();
}

#[test]
fn prefix_spellings_agree() {
    for prefix in ["dns_cloudflare", "dns-cloudflare", "dns_cloudflare_"] {
        let ini = Ini::parse("dns_cloudflare_api_token = t", Path::new("f"), prefix).unwrap();
        assert_eq!(ini.full_key("api_token"), "dns_cloudflare_api_token");
        assert_eq!(ini.get("api_token"), Some("t"), "{prefix}");
    }
}

#[test]
fn values_stay_out_of_debug_and_errors() {
    let text = format!("dns_cloudflare_api_token = {SECRET}\ndns_cloudflare_api_token = {SECRET}");
    let err = parse(&text).unwrap_err();
    assert!(!err.message().contains(SECRET), "{err}");
    let ini = parse(&format!("dns_cloudflare_api_token = {SECRET}")).unwrap();
    assert!(!format!("{ini:?}").contains(SECRET));
    assert_eq!(ini.secret("api_token").unwrap().expose(), SECRET);
}

#[test]
fn read_ini_and_secret_files() {
    let dir = tempfile::tempdir().unwrap();
    let ini_path = dir.path().join("cf.ini");
    std::fs::write(&ini_path, format!("dns_cloudflare_api_token = {SECRET}\n")).unwrap();
    std::fs::set_permissions(&ini_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ini = read_ini(&ini_path, "dns_cloudflare").unwrap();
    assert_eq!(ini.get("api_token"), Some(SECRET));
    assert_eq!(ini.path(), ini_path);

    let missing = dir.path().join("nope.ini");
    let err = read_ini(&missing, "dns_cloudflare").unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(err.message().contains("nope.ini"), "{err}");

    let secret_path = dir.path().join("secret");
    std::fs::write(&secret_path, format!("  {SECRET}\n")).unwrap();
    let secret = read_secret_file(&secret_path, "--tsig-secret-file").unwrap();
    assert_eq!(secret.expose(), SECRET);

    std::fs::write(&secret_path, " \n").unwrap();
    let err = read_secret_file(&secret_path, "--tsig-secret-file").unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(err.message().contains("--tsig-secret-file"), "{err}");
    assert!(err.message().contains("empty"), "{err}");

    let err = read_secret_file(&missing, "--tsig-secret-file").unwrap_err();
    assert_eq!(err.kind(), Kind::Config);
    assert!(err.message().contains("nope.ini"), "{err}");
}

#[test]
fn permission_warning_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, "x").unwrap();
    for (mode, want) in [
        (0o600, None),
        (0o400, None),
        (0o640, Some("its group")),
        (0o604, Some("every user")),
        (0o644, Some("every user")),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let got = others_can_read(&path);
        match want {
            None => assert_eq!(got, None, "{mode:o}"),
            Some(who) => {
                let got = got.unwrap_or_default();
                assert!(got.contains(who), "{mode:o}: {got}");
                assert!(got.contains(&format!("{mode:04o}")), "{mode:o}: {got}");
            }
        }
    }
}
