//! Unit tests of the settings, with no network: where the token or key comes from, every way
//! settings are refused, API URLs, secrets kept out of `Debug`, and the flags.

use super::*;
use crate::error::Kind;
use std::path::PathBuf;

/// Checks one row: the settings from `env` and the credentials file `file` authenticate with
/// `kind` (`token` or `key`) and `secret`, read from a source ending in `source`.
fn check_auth(
    desc: &str,
    env: &FakeEnv,
    file: Option<PathBuf>,
    (kind, secret, source): (&str, &str, &str),
) {
    let settings = CloudflareSettings::from_args(&args(file, None), env, 60)
        .unwrap_or_else(|e| panic!("{desc}: {e}"));
    match (&settings.auth, kind) {
        (CloudflareAuth::Token { token, source: s }, "token") => {
            assert_eq!(token.expose(), secret, "{desc}");
            assert!(s.ends_with(source), "{desc}: {s}");
        }
        (
            CloudflareAuth::Key {
                email,
                key,
                source: s,
            },
            "key",
        ) => {
            assert_eq!(email, "admin@example.com", "{desc}");
            assert_eq!(key.expose(), secret, "{desc}");
            assert!(s.ends_with(source), "{desc}: {s}");
        }
        (other, _) => panic!("{desc}: got {other:?}"),
    }
    assert_eq!(settings.api_url, DEFAULT_API_URL, "{desc}");
    assert_eq!(settings.ttl, 60, "{desc}");
}

#[test]
fn token_from_the_environment_table() {
    // (description, env, expected auth: (kind, secret, source suffix))
    let cases = [
        (
            "CLOUDFLARE_API_TOKEN first",
            env(&[
                ("CLOUDFLARE_API_TOKEN", "a"),
                ("CF_DNS_API_TOKEN", "b"),
                ("CF_Token", "c"),
            ]),
            ("token", "a", "CLOUDFLARE_API_TOKEN"),
        ),
        (
            "then lego's CF_DNS_API_TOKEN",
            env(&[("CF_DNS_API_TOKEN", "b"), ("CF_Token", "c")]),
            ("token", "b", "CF_DNS_API_TOKEN"),
        ),
        (
            "then acme.sh's CF_Token",
            env(&[("CF_Token", "c")]),
            ("token", "c", "CF_Token"),
        ),
        (
            "a blank variable is skipped",
            env(&[("CLOUDFLARE_API_TOKEN", "  "), ("CF_Token", "c")]),
            ("token", "c", "CF_Token"),
        ),
    ];
    for (desc, env, want) in cases {
        check_auth(desc, &env, None, want);
    }
}

#[test]
fn token_or_key_from_a_credentials_file_table() {
    let dir = tempfile::tempdir().unwrap();
    let token_ini = ini_file(
        &dir,
        "token.ini",
        "# certbot-dns-cloudflare\ndns_cloudflare_api_token = \"file-token\"\n",
    );
    let legacy_ini = ini_file(
        &dir,
        "legacy.ini",
        "dns_cloudflare_email = admin@example.com\ndns_cloudflare_api_key = 0123abcd # global key\n",
    );
    // (description, env, credentials file, expected auth: (kind, secret, source suffix))
    let cases = [
        (
            "an explicit credentials file wins over the environment",
            env(&[("CLOUDFLARE_API_TOKEN", "a")]),
            token_ini,
            ("token", "file-token", "token.ini"),
        ),
        (
            "the legacy email + key pair",
            env(&[]),
            legacy_ini,
            ("key", "0123abcd", "legacy.ini"),
        ),
    ];
    for (desc, env, file, want) in cases {
        check_auth(desc, &env, Some(file), want);
    }
}

/// Checks one row: settings from `args`, `env` and `ttl` are refused with `kind`, and the
/// message holds every one of `words`.
fn check_refused(
    desc: &str,
    args: &CloudflareArgs,
    env: &FakeEnv,
    ttl: u32,
    kind: Kind,
    words: &[&str],
) {
    let err = CloudflareSettings::from_args(args, env, ttl).expect_err(desc);
    assert_eq!(err.kind(), kind, "{desc}: {err}");
    for word in words {
        assert!(err.message().contains(word), "{desc}: {err}");
    }
}

#[test]
fn no_usable_credentials_table() {
    let dir = tempfile::tempdir().unwrap();
    let token = env(&[("CLOUDFLARE_API_TOKEN", "t")]);
    let none = env(&[]);
    // (description, env, file, kind, words in the message); no URL, TTL 60
    type Row<'a> = (&'a str, &'a FakeEnv, Option<PathBuf>, Kind, &'a [&'a str]);
    let cases: Vec<Row> = vec![
        (
            "no token anywhere",
            &none,
            None,
            Kind::Config,
            &["CLOUDFLARE_API_TOKEN", "--cloudflare-credentials"],
        ),
        (
            "unreadable file",
            &token,
            Some(dir.path().join("nope.ini")),
            Kind::Config,
            &["nope.ini"],
        ),
    ];
    for (desc, env, file, kind, words) in cases {
        check_refused(desc, &args(file, None), env, 60, kind, words);
    }
}

#[test]
fn credentials_file_contents_table() {
    let dir = tempfile::tempdir().unwrap();
    let none = env(&[]);
    // (description, file name, file text, kind, words in the message); empty env, no URL, TTL 60
    let cases: &[(&str, &str, &str, Kind, &[&str])] = &[
        (
            "file without any key",
            "empty.ini",
            "# nothing here\n",
            Kind::DataErr,
            &[
                "dns_cloudflare_api_token",
                "dns_cloudflare_email",
                "empty.ini",
            ],
        ),
        (
            "half a legacy pair",
            "half.ini",
            "dns_cloudflare_email = a@example.com\n",
            Kind::DataErr,
            &["dns_cloudflare_api_key", "half.ini"],
        ),
        (
            "token and legacy pair",
            "both.ini",
            "dns_cloudflare_api_token = t\ndns_cloudflare_email = a@example.com\ndns_cloudflare_api_key = k\n",
            Kind::DataErr,
            &["not both"],
        ),
        (
            "email that is not one",
            "email.ini",
            "dns_cloudflare_email = admin\ndns_cloudflare_api_key = k\n",
            Kind::Config,
            &["dns_cloudflare_email"],
        ),
        (
            "token with a space",
            "spaced.ini",
            "dns_cloudflare_api_token = \"a b\"\n",
            Kind::Config,
            &["spaces"],
        ),
    ];
    for (desc, name, text, kind, words) in cases {
        let file = ini_file(&dir, name, text);
        check_refused(desc, &args(Some(file), None), &none, 60, *kind, words);
    }
}

#[test]
fn api_url_errors_table() {
    let token = env(&[("CLOUDFLARE_API_TOKEN", "t")]);
    // (description, --cloudflare-api-url, kind, words in the message); token from env, TTL 60
    let cases: &[(&str, &str, Kind, &[&str])] = &[
        (
            "not a URL",
            "api.cloudflare.com",
            Kind::Usage,
            &["--cloudflare-api-url"],
        ),
        (
            "plain http to a remote host",
            "http://api.example.com/client/v4/",
            Kind::Usage,
            &["unencrypted"],
        ),
        ("ftp", "ftp://127.0.0.1/", Kind::Usage, &["https"]),
        (
            "user in the URL",
            "https://u:p@api.example.com/",
            Kind::Usage,
            &["user name"],
        ),
        (
            "query in the URL",
            "https://api.example.com/v4?x=1",
            Kind::Usage,
            &["query"],
        ),
    ];
    for (desc, url, kind, words) in cases {
        check_refused(desc, &args(None, Some(url)), &token, 60, *kind, words);
    }
}

#[test]
fn ttl_errors_table() {
    let token = env(&[("CLOUDFLARE_API_TOKEN", "t")]);
    // (description, --ttl, kind, words in the message); token from env, default URL
    let cases: &[(&str, u32, Kind, &[&str])] = &[
        (
            "ttl too short",
            10,
            Kind::Usage,
            &["--ttl 10", "1 (automatic)"],
        ),
        ("ttl too long", 90000, Kind::Usage, &["--ttl 90000"]),
    ];
    for (desc, ttl, kind, words) in cases {
        check_refused(desc, &args(None, None), &token, *ttl, *kind, words);
    }
}

#[test]
fn api_urls_table() {
    let token = env(&[("CLOUDFLARE_API_TOKEN", "t")]);
    for (given, want) in [
        (
            "https://api.cloudflare.com/client/v4",
            "https://api.cloudflare.com/client/v4/",
        ),
        (
            "https://api.cloudflare.com/client/v4/",
            "https://api.cloudflare.com/client/v4/",
        ),
        (
            "http://127.0.0.1:8080/client/v4",
            "http://127.0.0.1:8080/client/v4/",
        ),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://localhost:1/x", "http://localhost:1/x/"),
    ] {
        let s = CloudflareSettings::from_args(&args(None, Some(given)), &token, 1).unwrap();
        assert_eq!(s.api_url, want, "{given}");
        assert_eq!(s.ttl, 1);
    }
}

#[test]
fn secrets_stay_out_of_settings_debug() {
    let settings = CloudflareSettings::from_args(
        &args(None, None),
        &env(&[("CLOUDFLARE_API_TOKEN", TOKEN)]),
        60,
    )
    .unwrap();
    let debug = format!("{settings:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("CLOUDFLARE_API_TOKEN"), "{debug}");
    // The provider itself has no Debug (nothing can print its client's token).
}

#[test]
fn args_parse_under_their_own_heading() {
    use clap::{CommandFactory, Parser};
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        cloudflare: CloudflareArgs,
    }
    Cli::command().debug_assert();
    let cli = Cli::try_parse_from([
        "dcv-hook",
        "--cloudflare-credentials",
        "/etc/cf.ini",
        "--cloudflare-api-url",
        "https://cf.example/client/v4",
    ])
    .unwrap();
    assert_eq!(
        cli.cloudflare.cloudflare_credentials,
        Some(PathBuf::from("/etc/cf.ini"))
    );
    assert_eq!(
        cli.cloudflare.cloudflare_api_url.as_deref(),
        Some("https://cf.example/client/v4")
    );
    let help = Cli::command().render_help().to_string();
    assert!(help.contains("Provider: cloudflare"), "{help}");
    assert!(help.contains("dns_cloudflare_api_token"), "{help}");
}
