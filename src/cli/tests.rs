//! Command-line tests: the clap definition is consistent, options stand before or after the
//! command, a repeated flag takes its last value, and each command's help shows what it uses.

use super::*;

#[test]
fn cli_definition_is_consistent() {
    command().debug_assert();
}

#[test]
fn options_may_come_before_or_after_the_command_and_a_repeated_flag_takes_the_last_value() {
    let cli = parse([
        "dcv-hook",
        "-q",
        "--order-id",
        "7",
        "auth",
        "--ttl",
        "5",
        "--ttl",
        "9",
    ])
    .unwrap();
    let (command, o) = (cli.command, cli.options);
    assert!(o.quiet);
    assert_eq!(command, Command::Auth);
    assert_eq!((o.order_id, o.ttl), (Some(7), Some(9)));
    let cli = parse(["dcv-hook", "--tsig-key", "k", "-d", "a.test", "cleanup"]).unwrap();
    let o = cli.options;
    assert_eq!(o.domains, ["a.test"]);
    assert_eq!(o.providers.rfc2136.tsig_key.as_deref(), Some("k"));
}

#[test]
fn each_command_shows_only_the_options_it_uses() {
    let help = |name: &str| {
        let mut cmd = command();
        cmd.find_subcommand_mut(name)
            .unwrap()
            .render_long_help()
            .to_string()
    };
    let cleanup = help("cleanup");
    for hidden in ["--ttl", "--wait", "--api-url", "--propagation-timeout"] {
        assert!(
            !cleanup.contains(hidden),
            "cleanup shows {hidden}:\n{cleanup}"
        );
    }
    for shown in ["--order-id", "--tsig-key", "--acme-value", "--state-dir"] {
        assert!(cleanup.contains(shown), "cleanup lacks {shown}:\n{cleanup}");
    }
    let auth = help("auth");
    assert!(auth.contains("--ttl") && !auth.contains("--wait"), "{auth}");
    let status = help("status");
    assert!(
        !status.contains("--provider") && status.contains("--api-url"),
        "{status}"
    );
    assert!(matches!(
        parse(["dcv-hook", "help", "--help"]).unwrap_err().kind(),
        clap::error::ErrorKind::DisplayHelp
    ));
    // Hidden is not refused: a line written for auth still works for cleanup.
    assert!(parse(["dcv-hook", "cleanup", "--ttl", "5", "--provider", "webroot"]).is_ok());
}
