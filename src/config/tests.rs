//! Resolution tests, driven through the binary's path (config file keys added, clap, resolve):
//! precedence, the sample configs, bad combinations, method defaults, the API key, bad numbers.

use super::*;
use crate::dcv::Method;

/// What the binary does with `args`: the config file's keys added, parsed, resolved.
fn resolve_args(args: &[&str], env: &[(&'static str, &'static str)]) -> Result<Config> {
    let env = FakeEnv(env.iter().copied().collect());
    let args = std::iter::once("dcv-hook")
        .chain(args.iter().copied())
        .map(std::ffi::OsString::from)
        .collect();
    let args = crate::config_file::with_file_args(args, &env)?;
    let cli = crate::cli::parse(args).expect("parses");
    resolve(cli, &env)
}

#[test]
fn flag_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "ttl = 120\nresolver = [\"192.0.2.53\"]\npoll-interval = 0.5\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let env = [("HOME", "/home/x")];
    let c = resolve_args(&["verify", "--order-id", "1", "--config", f], &env).unwrap();
    assert_eq!(c.ttl, 120);
    assert_eq!(
        c.resolvers,
        vec!["192.0.2.53:53".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(c.polling.interval, Duration::from_millis(500));
    let c = resolve_args(
        &[
            "verify",
            "--order-id",
            "1",
            "--config",
            f,
            "--ttl",
            "30",
            "--resolver",
            "127.0.0.1:5300",
        ],
        &env,
    )
    .unwrap();
    assert_eq!(c.ttl, 30);
    assert_eq!(
        c.resolvers,
        vec!["127.0.0.1:5300".parse::<SocketAddr>().unwrap()]
    );
    let c = resolve_args(&["verify", "--order-id", "1"], &env).unwrap();
    assert_eq!(c.ttl, DEFAULT_TTL);
    assert_eq!(c.polling.timeout, Duration::from_secs(600));
}

#[test]
fn the_sample_configs_are_accepted_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "webroot.toml",
            include_str!("../../examples/config/webroot.toml"),
        ),
        (
            "rfc2136.toml",
            include_str!("../../examples/config/rfc2136.toml"),
        ),
        (
            "azure.toml",
            include_str!("../../examples/config/azure.toml"),
        ),
        (
            "google.toml",
            include_str!("../../examples/config/google.toml"),
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        for command in ["auth", "verify", "cleanup", "run", "status"] {
            let got = resolve_args(
                &[
                    command,
                    "--order-id",
                    "1",
                    "--config",
                    file.to_str().unwrap(),
                ],
                &[("HOME", "/h")],
            );
            assert!(got.is_ok(), "{name} {command}: {:?}", got.err());
        }
    }
}

#[test]
fn unknown_config_key_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "ttll = 1\n").unwrap();
    let err = resolve_args(
        &[
            "verify",
            "--order-id",
            "1",
            "--config",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::Config);
    assert!(err.message().contains("ttll"), "{err}");
}

#[test]
fn bad_combinations_are_usage_errors() {
    let table: &[&[&str]] = &[
        &[
            "auth",
            "--order-id",
            "1",
            "--domain-id",
            "2",
            "--provider",
            "webroot",
        ],
        &["auth", "--order-id", "1"],
        &[
            "auth",
            "--order-id",
            "1",
            "--provider",
            "webroot",
            "--method",
            "dns-txt-token",
        ],
        &[
            "auth",
            "--order-id",
            "1",
            "--provider",
            "rfc2136",
            "--method",
            "http-token",
        ],
        &["verify"],
        &["verify", "--order-id", "1", "--resolver", "ns.example.com"],
    ];
    for args in table {
        let err = resolve_args(args, &[("HOME", "/h")]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Usage, "{args:?}: {err}");
    }
}

#[test]
fn method_defaults_follow_the_provider() {
    let c = resolve_args(
        &["auth", "--order-id", "1", "--provider", "webroot"],
        &[("HOME", "/h")],
    )
    .unwrap();
    assert_eq!(c.method, Some(Method::HttpToken));
    let c = resolve_args(
        &["auth", "--order-id", "1", "--provider", "rfc2136"],
        &[("HOME", "/h")],
    )
    .unwrap();
    assert_eq!(c.method, Some(Method::DnsTxtToken));
}

#[test]
fn api_key_comes_from_env_or_file_and_is_missing_otherwise() {
    let c = resolve_args(&["verify", "--order-id", "1"], &[("HOME", "/h")]).unwrap();
    assert_eq!(c.api_key().unwrap_err().kind(), crate::error::Kind::Config);
    let c = resolve_args(
        &["verify", "--order-id", "1"],
        &[("HOME", "/h"), ("DIGICERT_API_KEY", "k")],
    )
    .unwrap();
    assert_eq!(c.api_key().unwrap().expose(), "k");
}

#[test]
fn a_bad_number_is_blamed_where_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let f = file.to_str().unwrap();
    for (key, flag) in [
        ("ttl = 0", "--ttl"),
        ("poll-interval = -1", "--poll-interval"),
        ("propagation-timeout = 0", "--propagation-timeout"),
        ("exec-timeout = 0", "--exec-timeout"),
    ] {
        std::fs::write(&file, format!("{key}\n")).unwrap();
        let err = resolve_args(&["verify", "--order-id", "1", "--config", f], &[]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config, "{key}: {err}");
        assert!(
            err.message().contains(f) && err.message().contains(flag),
            "{err}"
        );
    }
    let cli = crate::cli::parse(["dcv-hook", "verify", "--order-id", "1", "--ttl", "0"]);
    let err = cli.unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    assert!(err.to_string().contains("--ttl must be between"), "{err}");
}

#[test]
fn an_api_url_is_checked_before_any_request() {
    // (--api-url, words in the message): refused when resolved, naming the flag (64).
    let cases = [
        ("http://127.0.0.1:99999/", "invalid port number"),
        ("http://[::1:8080/", "invalid IPv6 address"),
        ("http://192.0.2.1/services/v2", "unencrypted"),
        ("https://u:p@www.digicert.com/services/v2", "user name"),
    ];
    for (url, words) in cases {
        let err = resolve_args(&["verify", "--order-id", "1", "--api-url", url], &[]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Usage, "{url}: {err}");
        assert!(
            err.message().starts_with(&format!("--api-url {url:?}"))
                && err.message().contains(words),
            "{err}"
        );
    }
    let c = resolve_args(
        &[
            "verify",
            "--order-id",
            "1",
            "--api-url",
            "http://127.0.0.1:8080/v2",
        ],
        &[],
    );
    assert_eq!(c.unwrap().api_url, "http://127.0.0.1:8080/v2/");
}
