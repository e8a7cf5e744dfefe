//! Resolution tests, driven through the binary's path (config file keys added, clap, resolve):
//! precedence, the sample configs, bad combinations, method defaults, the API key, bad numbers.

use super::*;
use crate::dcv::Method;

/// What the binary does with `args`: the config file's keys added, parsed, resolved.
fn resolve_args(args: &[&str], env: &[(&'static str, &'static str)]) -> Result<Config> {
    let env = FakeEnv(env.iter().copied().collect());
    let args: Vec<std::ffi::OsString> = std::iter::once("dcv-hook")
        .chain(args.iter().copied())
        .map(std::ffi::OsString::from)
        .collect();
    let mut cli = crate::cli::parse(args).expect("parses");
    crate::cli::config_file::apply(&mut cli, &env)?;
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
        ("ttl = 0", "ttl: "),
        ("poll-interval = -1", "poll-interval: "),
        ("propagation-timeout = 0", "propagation-timeout: "),
        ("exec-timeout = 0", "exec-timeout: "),
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

/// `args` resolved with a config file holding `file` (in `dir`) and `env`.
fn resolve_with_file(
    dir: &Path,
    file: &str,
    args: &[&str],
    env: &[(&'static str, &'static str)],
) -> Result<Config> {
    let path = dir.join("accounts.toml");
    std::fs::write(&path, file).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config", path.to_str().unwrap()]);
    let mut env = env.to_vec();
    env.push(("HOME", "/h"));
    resolve_args(&all, &env)
}

#[test]
fn the_region_picks_the_platform_and_api_url_still_wins() {
    let table = [
        (vec![], DEFAULT_API_URL),
        (
            vec!["--region", "us"],
            "https://www.digicert.com/services/v2",
        ),
        (
            vec!["--region", "eu"],
            "https://certcentral.digicert.eu/services/v2",
        ),
        (
            vec!["--region", "eu", "--api-url", "https://proxy.example/v2"],
            "https://proxy.example/v2/",
        ),
    ];
    for (flags, want) in table {
        let mut args = vec!["status", "--order-id", "1"];
        args.extend(flags.iter().copied());
        let cfg = resolve_args(&args, &[("HOME", "/h")]).unwrap();
        assert_eq!(cfg.api_url, want, "{flags:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = resolve_with_file(
        dir.path(),
        "region = \"eu\"\n",
        &["status", "-d", "a.example"],
        &[],
    )
    .unwrap();
    assert_eq!(cfg.api_url, accounts::EU_API_URL);
}

/// Two accounts: `main` (key in env DCV_KEY_MAIN, US) and `eu` (key in `dir`/eu.key, region eu).
fn two_accounts(dir: &Path) -> String {
    let key = dir.join("eu.key");
    std::fs::write(&key, "eu-key\n").unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    format!(
        "[[account]]\nname = \"main\"\napi-key-env = \"DCV_KEY_MAIN\"\n\n[[account]]\nname = \"eu\"\napi-key-file = \"{}\"\nregion = \"eu\"\n",
        key.display()
    )
}

#[test]
fn accounts_resolve_each_key_and_platform_and_one_is_chosen_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_accounts(dir.path());
    let env = [("DCV_KEY_MAIN", "main-key")];
    let all = resolve_with_file(
        dir.path(),
        &file,
        &["status", "--expiring-within", "30"],
        &env,
    )
    .unwrap();
    assert_eq!(all.account, None);
    let got: Vec<(&str, &str)> = all
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.api_url.as_str()))
        .collect();
    assert_eq!(
        got,
        [("main", DEFAULT_API_URL), ("eu", accounts::EU_API_URL)]
    );
    assert_eq!(all.accounts[0].api_key().unwrap().expose(), "main-key");
    let eu = resolve_with_file(
        dir.path(),
        &file,
        &["verify", "--order-id", "1", "--account", "eu"],
        &env,
    )
    .unwrap();
    assert_eq!(eu.account.as_deref(), Some("eu"));
    assert_eq!(eu.api_url, accounts::EU_API_URL);
    assert_eq!(eu.api_key().unwrap().expose(), "eu-key");
    // --api-url wins over an account's region, not over its own api-url.
    let proxied = resolve_with_file(
        dir.path(),
        &file,
        &[
            "status",
            "--order-id",
            "1",
            "--account",
            "eu",
            "--api-url",
            "https://proxy.example/v2",
        ],
        &env,
    )
    .unwrap();
    assert_eq!(proxied.api_url, "https://proxy.example/v2/");
}

#[test]
fn a_command_for_one_order_needs_an_account_named_when_several_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_accounts(dir.path());
    for (args, want) in [
        (
            vec!["verify", "--order-id", "1"],
            "pick one with --account NAME",
        ),
        (
            vec!["status", "--order-id", "1"],
            "pick one with --account NAME",
        ),
        (
            vec!["status", "--domain", "a.example"],
            "pick one with --account NAME",
        ),
        (
            vec!["status", "--expiring-within", "1", "--account", "asia"],
            "its accounts are main, eu",
        ),
    ] {
        let err = resolve_with_file(dir.path(), &file, &args, &[]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Usage, "{args:?}");
        assert!(err.message().contains(want), "{args:?}: {err}");
    }
    let err = resolve_args(
        &["status", "--expiring-within", "1", "--account", "eu"],
        &[("HOME", "/h")],
    )
    .unwrap_err();
    assert!(err.message().contains("names no [[account]]"), "{err}");
}

#[test]
fn bad_account_tables_and_keys_are_config_errors_naming_file_account_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = two_accounts(dir.path());
    let main = "[[account]]\nname = \"main\"\napi-key-env = \"DCV_KEY_MAIN\"\n";
    let table: Vec<(String, &str)> = vec![
        (
            format!("{main}api-keyfile = \"x\"\n"),
            "unknown key \"api-keyfile\"",
        ),
        (format!("{good}{main}"), "main is given twice"),
        (format!("{main}region = \"asia\"\n"), "region \"asia\""),
        (format!("{main}api-key-file = \"/k\"\n"), "not both"),
        ("[[account]]\nname = \"x\"\n".into(), "neither api-key-file"),
        ("[[account]]\napi-key-env = \"K\"\n".into(), "has no name"),
        (format!("{main}api-url = \"ftp://x\"\n"), "api-url"),
    ];
    for (file, want) in &table {
        let err = resolve_with_file(
            dir.path(),
            file,
            &["status", "--expiring-within", "30"],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config, "{file}");
        let m = err.message();
        assert!(
            m.contains(want) && m.contains("accounts.toml"),
            "{file}: {m}"
        );
    }
}

#[test]
fn an_accounts_bad_key_is_kept_until_the_account_is_used_then_78_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open.key");
    std::fs::write(&open, "k").unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let keys = [
        (
            "api-key-env = \"DCV_KEY_UNSET\"",
            "DCV_KEY_UNSET is not set",
        ),
        ("api-key-file = \"/nonexistent/k\"", "/nonexistent/k"),
        (
            &*format!("api-key-file = \"{}\"", open.display()),
            "too open (mode 0644)",
        ),
        (
            "api-key-env = \"0123456789ABCDEF0123456789ABCDEF0123\"",
            "not an environment variable's name",
        ),
    ];
    for (key, want) in keys {
        let file = format!("[[account]]\nname = \"solo\"\n{key}\n");
        let cfg = resolve_with_file(
            dir.path(),
            &file,
            &["status", "--expiring-within", "30"],
            &[],
        )
        .unwrap();
        let err = cfg.api_key().unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config, "{key}");
        let m = err.message();
        assert!(m.contains(want) && m.contains("account solo"), "{key}: {m}");
        assert!(!m.contains("0123456789ABCDEF"), "{m}");
    }
}

#[test]
fn the_sample_accounts_config_names_two_accounts_on_two_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let text = include_str!("../../examples/config/accounts.toml");
    let cfg = resolve_with_file(dir.path(), text, &["revalidate"], &[]).unwrap();
    let got: Vec<(&str, &str)> = cfg
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.api_url.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("corp", DEFAULT_API_URL),
            ("retail-eu", accounts::EU_API_URL)
        ]
    );
    assert_eq!(cfg.zones.len(), 1);
}
