//! The config file read into the options: precedence, typed values checked by each option's rule,
//! and errors naming the file and the key.

use super::*;
use crate::env::FakeEnv;

/// The options of `args` with the config file `file` applied, in the environment `env`.
fn options(file: &str, args: &[&str], env: &[(&'static str, &'static str)]) -> Result<Options> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, file).unwrap();
    let line = ["dcv-hook"].iter().chain(args).map(|a| a.to_string());
    let line = line.chain(["--config".to_string(), path.display().to_string()]);
    let mut cli = crate::cli::parse(line).expect("the command line parses");
    apply(&mut cli, &FakeEnv(env.iter().copied().collect()))?;
    Ok(cli.options)
}

#[test]
fn keys_fill_what_the_command_line_and_the_environment_leave() {
    let file = "ttl = 120\nresolver = [\"192.0.2.53\", \"192.0.2.54\"]\nno-propagation-check = true\nwait = false\napi-url = \"https://file.example\"\nquiet = true\npoll-interval = 0.5\n";
    let o = options(
        file,
        &["auth", "--ttl", "30", "-q"],
        &[("DIGICERT_API_URL", "https://env.example")],
    )
    .unwrap();
    assert_eq!(o.ttl, Some(30), "the flag wins");
    assert_eq!(
        o.api_url, None,
        "the environment's variable wins over the file"
    );
    assert!(o.no_propagation_check && o.quiet && !o.wait);
    assert_eq!(o.resolver, ["192.0.2.53", "192.0.2.54"]);
    assert_eq!(o.poll_interval, Some(0.5));
    let o = options(file, &["auth"], &[]).unwrap();
    assert_eq!(o.ttl, Some(120));
    assert_eq!(o.api_url.as_deref(), Some("https://file.example"));
}

#[test]
fn values_are_typed_as_the_flags_are_numbers_may_be_text_and_names_numbers() {
    let file = "order-id = \"7\"\nhttp-port = 8080\ntsig-key = 7\nresolver = \"192.0.2.53\"\ntxt-name = \"dnsauth\"\nprovider = \"rfc2136\"\nrfc2136-server = \"192.0.2.1\"\nexec-timeout = \"2.5\"\nregion = \"eu\"\n";
    let o = options(file, &["auth"], &[]).unwrap();
    assert_eq!((o.order_id, o.http_port), (Some(7), Some(8080)));
    assert_eq!(o.providers.rfc2136.tsig_key.as_deref(), Some("7"));
    assert_eq!(o.resolver, ["192.0.2.53"]);
    assert_eq!(o.txt_name, Some(crate::dcv::TxtName::Dnsauth));
    assert_eq!(o.provider.as_deref(), Some("rfc2136"));
    assert_eq!(
        o.providers.rfc2136.rfc2136_server.as_deref(),
        Some("192.0.2.1")
    );
    assert_eq!(o.providers.exec.exec_timeout, Some(2.5));
    assert_eq!(o.region, Some(crate::cli::Region::Eu));
}

#[test]
fn unknown_keys_and_bad_values_are_config_errors_naming_the_file_and_key() {
    let table = [
        ("ttll = 1\n", "ttll"),
        ("ttl = \"soon\"\n", "ttl: --ttl must be between"),
        ("ttl = 0\n", "ttl: --ttl must be between"),
        (
            "poll-interval = -1\n",
            "poll-interval: must be a positive number",
        ),
        (
            "check-concurrency = 65\n",
            "check-concurrency: must be a whole number from 1 to 64",
        ),
        (
            "provider = \"bind\"\n",
            "provider: unknown provider \"bind\"",
        ),
        ("output = \"yaml\"\n", "output: unknown variant"),
        ("wait = \"yes\"\n", "wait: expected true or false"),
        ("resolver = [[1]]\n", "expected a string"),
        ("http-port = 70000\n", "http-port: must be a whole number"),
        ("config = \"/other.toml\"\n", "unknown key \"config\""),
        ("ttl = \n", "c.toml"),
    ];
    for (file, want) in table {
        let err = options(file, &["verify", "--order-id", "1"], &[]).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Config, "{file}");
        assert!(err.message().contains(want), "{file}: {err}");
        assert!(err.message().contains("c.toml"), "{file}: {err}");
    }
}

#[test]
fn a_key_another_command_uses_is_accepted_by_every_command() {
    let o = options("webroot = \"/srv\"\nwait = true\n", &["cleanup"], &[]).unwrap();
    assert_eq!(
        o.providers.webroot.webroot.as_deref(),
        Some(Path::new("/srv"))
    );
    assert!(o.wait);
}

#[test]
fn a_path_that_is_no_text_is_a_usage_error_beside_a_config_file() {
    use std::os::unix::ffi::OsStringExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "ttl = 120\n").unwrap();
    let line: Vec<std::ffi::OsString> = vec![
        "dcv-hook".into(),
        "cleanup".into(),
        "--webroot".into(),
        std::ffi::OsString::from_vec(b"/srv/\xff".to_vec()),
        "--config".into(),
        path.into(),
    ];
    let mut cli = crate::cli::parse(line).unwrap();
    let err = apply(&mut cli, &FakeEnv(Default::default())).unwrap_err();
    assert_eq!(err.kind(), crate::error::Kind::Usage, "{err}");
    assert!(err.message().contains("not UTF-8"), "{err}");
    assert_eq!(cli.options.ttl, None, "the options are left as they were");
}

/// Old state names some provider flags read through (`api_url`, `timeout`) are also options of
/// their own: the file's keys go to the option they name, never to a provider's alias.
#[test]
fn a_key_goes_to_its_own_option_never_to_a_providers_old_state_name() {
    let o = options(
        "api-url = \"https://file.example\"\ntimeout = 9\n",
        &["verify"],
        &[],
    )
    .unwrap();
    assert_eq!(o.api_url.as_deref(), Some("https://file.example"));
    assert_eq!(o.providers.cloudflare.cloudflare_api_url, None);
    assert_eq!(o.timeout, Some(9.0));
    assert_eq!(o.providers.exec.exec_timeout, None);
}
