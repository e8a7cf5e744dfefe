//! Installing like system software: shell completions and man pages generated from the clap
//! definitions through the binary, and the Debian package's contents (what `scripts/package` puts
//! where README says).

use crate::support::world::bare_cmd;

/// The commands `--help` lists (clap's own `help` aside).
fn commands() -> Vec<String> {
    dcv_hook::cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn completions_know_every_command_and_its_flags() {
    let out = bare_cmd()
        .args(["completions", "bash"])
        // A config file that does not exist: completions read none.
        .env("DCV_HOOK_CONFIG", "/nonexistent/dcv-hook.toml")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bash = String::from_utf8(out.stdout).unwrap();
    assert!(bash.contains("complete -F _dcv__hook"), "not a bash script");
    for command in commands() {
        assert!(bash.contains(&command), "bash completion lacks {command}");
    }
    for flag in [
        "--order-id",
        "--provider",
        "--tsig-key",
        "--cloudflare-credentials",
        "--propagation-timeout",
        "--expiring-within",
    ] {
        assert!(bash.contains(flag), "bash completion lacks {flag}");
    }
    // The provider names complete as --provider's values.
    let names: Vec<&str> = dcv_hook::publish::PROVIDERS
        .iter()
        .map(|p| p.name)
        .collect();
    let values = format!("compgen -W \"{}\"", names.join(" "));
    assert!(bash.contains(&values), "bash completion lacks {values}");

    for (shell, marker) in [
        ("zsh", "#compdef dcv-hook"),
        ("fish", "complete -c dcv-hook"),
    ] {
        let out = bare_cmd().args(["completions", shell]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(marker),
            "{shell}: {out:?}"
        );
        assert!(text.contains("order-id"), "{shell} lacks --order-id");
    }

    let out = bare_cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcsh") && err.lines().count() == 1, "{err}");
}

/// The script `dcv-hook completions SHELL` prints, in a file of `dir`.
fn completion_script(dir: &std::path::Path, shell: &str) -> std::path::PathBuf {
    let out = bare_cmd().args(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = dir.join(format!("dcv-hook.{shell}"));
    std::fs::write(&file, out.stdout).unwrap();
    file
}

/// What bash completes for the last word of `words` (the word under the cursor), by calling the
/// completion function as bash does on TAB: COMP_WORDS, COMP_CWORD, then (command, word, previous).
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_dcv__hook dcv-hook \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// What fish completes for the command line `line` (`complete -C`), the candidates without their
/// descriptions.
fn fish_completes(script: &std::path::Path, line: &str) -> Vec<String> {
    let program = format!("source '{}'; complete -C '{line}'", script.display());
    let out = std::process::Command::new("fish")
        .args(["--no-config", "-c", &program])
        .output()
        .expect("fish (scripts/test installs it)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect()
}

/// Completes a command line in an interactive zsh (compinit, the script on $fpath) run in a
/// pseudo-terminal (zpty), as TAB does: `compadd` is wrapped to print each candidate it is given,
/// then ^X prints a marker and ends. The markers are split in the typed text so its echo never
/// matches them.
const ZSH_CAPTURE: &str = r#"zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PROMPT= ; RPROMPT= ; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd () { builtin compadd -O __hits "$@"; (( $#__hits )) && print -l -- "<h""it>"${^__hits}; builtin compadd "$@"; }'
zpty -w z 'finish () { print "<d""one>"; zle send-break }; zle -N finish; bindkey "^X" finish'
zpty -n -w z "$2"$'\t\x18'
while zpty -r z line; do
  [[ $line == *'<done>'* ]] && break
  [[ $line == *'<hit>'* ]] && print -r -- "${${line##*<hit>}%%$'\r'}"
done
zpty -d z
"#;

/// What zsh completes for the command line `line`; `fpath` holds `_dcv-hook`.
fn zsh_completes(fpath: &std::path::Path, line: &str) -> Vec<String> {
    let capture = fpath.join("capture.zsh");
    std::fs::write(&capture, ZSH_CAPTURE).unwrap();
    // A zsh that never sees the marker would wait on the terminal for good.
    let out = std::process::Command::new("timeout")
        .args(["20", "zsh", "-f"])
        .arg(&capture)
        .arg(fpath)
        .arg(line)
        .output()
        .expect("zsh (scripts/test installs it)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn completions_complete_commands_their_flags_and_values_in_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    let bash = completion_script(dir.path(), "bash");
    let fish = completion_script(dir.path(), "fish");
    let fpath = dir.path().join("zsh");
    std::fs::create_dir(&fpath).unwrap();
    std::fs::rename(
        completion_script(dir.path(), "zsh"),
        fpath.join("_dcv-hook"),
    )
    .unwrap();
    // (words typed, the last one under the cursor; a candidate that must be offered)
    let cases: &[(&[&str], &str)] = &[
        (&["dcv-hook", "au"], "auth"),
        (&["dcv-hook", "auth", "--ord"], "--order-id"),
        (&["dcv-hook", "cleanup", "--state"], "--state-dir"),
        (
            &["dcv-hook", "revalidate", "--expiring"],
            "--expiring-within",
        ),
        (&["dcv-hook", "auth", "--provider", ""], "webroot"),
        (&["dcv-hook", "doctor", "--output", ""], "json"),
    ];
    for (words, expected) in cases {
        let got = bash_completes(&bash, words);
        assert!(
            got.iter().any(|c| c == expected),
            "bash: {words:?} offers {got:?}, not {expected}"
        );
        let got = fish_completes(&fish, &words.join(" "));
        assert!(
            got.iter().any(|c| c == expected),
            "fish: {words:?} offers {got:?}, not {expected}"
        );
        let got = zsh_completes(&fpath, &words.join(" "));
        assert!(
            got.iter().any(|c| c == expected),
            "zsh: {words:?} offers {got:?}, not {expected}"
        );
    }
}

#[test]
fn the_man_pages_cover_every_command_and_option() {
    let out = bare_cmd().arg("man").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH dcv-hook 1"), "not a man page:\n{page}");
    for command in commands() {
        assert!(
            page.contains(&format!("dcv\\-hook\\-{}(1)", command.replace('-', "\\-"))),
            "dcv-hook(1) does not name {command}:\n{page}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let out = bare_cmd()
        .args(["man", "--dir"])
        .arg(dir.path().join("man1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for command in commands() {
        let file = dir.path().join(format!("man1/dcv-hook-{command}.1"));
        assert!(file.exists(), "no {}", file.display());
    }
    // Each command's page lists the options its --help shows.
    let auth = std::fs::read_to_string(dir.path().join("man1/dcv-hook-auth.1")).unwrap();
    for flag in ["order\\-id", "tsig\\-key", "propagation\\-timeout"] {
        assert!(auth.contains(flag), "dcv-hook-auth(1) lacks --{flag}");
    }
    let status = std::fs::read_to_string(dir.path().join("man1/dcv-hook-status.1")).unwrap();
    assert!(
        !status.contains("tsig\\-key"),
        "status(1) shows a provider flag"
    );

    // A --dir it cannot write is 73 and one line.
    let out = bare_cmd()
        .args(["man", "--dir", "/proc/version/man1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(73), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn man_dir_replaces_a_planted_symlink_and_leaves_its_target_alone() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    std::fs::create_dir(&man1).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    for page in ["dcv-hook.1", "dcv-hook-auth.1"] {
        std::os::unix::fs::symlink(&victim, man1.join(page)).unwrap();
    }
    let out = bare_cmd()
        .args(["man", "--dir"])
        .arg(&man1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    for page in ["dcv-hook.1", "dcv-hook-auth.1"] {
        let meta = std::fs::symlink_metadata(man1.join(page)).unwrap();
        assert!(meta.file_type().is_file(), "{page} is not a regular file");
        let text = std::fs::read_to_string(man1.join(page)).unwrap();
        assert!(text.contains(".TH dcv-hook"), "{page}: {text}");
    }
    // Nothing but the pages: no temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".1")), "{names:?}");
    assert_eq!(names.len(), commands().len() + 1, "{names:?}");
}

/// `[package.metadata.deb].assets` of Cargo.toml: (source, destination, mode).
fn deb_assets() -> Vec<(String, String, String)> {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("assets");
    assets
        .iter()
        .map(|a| {
            let a: Vec<String> = a
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (a[0].clone(), a[1].clone(), a[2].clone())
        })
        .collect()
}

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files `source` (a path or `DIR/*SUFFIX`) stands for, absolute; `target/` is the build's
/// target dir.
fn expand(source: &str, target_dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let path = match source.strip_prefix("target/") {
        Some(rest) => target_dir.join(rest),
        None => repo().join(source),
    };
    let path = path.to_string_lossy().into_owned();
    let Some((dir, suffix)) = path.split_once("/*") else {
        return vec![path.into()];
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Where `source` lands in the package (cargo-deb gzips man pages).
fn installed_path(source: &std::path::Path, dest: &str) -> String {
    let path = if dest.ends_with('/') {
        let name = source.file_name().unwrap().to_string_lossy();
        format!("/{dest}{name}")
    } else {
        format!("/{dest}")
    };
    if path.starts_with("/usr/share/man/") {
        format!("{path}.gz")
    } else {
        path
    }
}

/// What scripts/package would put in the .deb: every asset exists (the generated ones once
/// `scripts/package --assets-only` ran), and README's Install section names every place. With
/// cargo-deb installed (scripts/test installs it), the package is built from the debug binary
/// (`--no-build --fast`: seconds, where a release build would take minutes of the suite) and
/// unpacked into a scratch root, whose binary and hooks must run.
#[test]
fn the_debian_package_puts_every_file_where_readme_says() {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_dcv-hook"));
    // target/debug/dcv-hook: the target dir the build used.
    let target_dir = bin.parent().unwrap().parent().unwrap().to_path_buf();
    let assets_only = std::process::Command::new(repo().join("scripts/package"))
        .args(["--assets-only", "--profile", "dev"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .unwrap();
    assert!(assets_only.status.success(), "{assets_only:?}");

    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let install = readme
        .split("\n## Install")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Install section");
    let mut expected: Vec<String> = Vec::new();
    for (source, dest, mode) in deb_assets() {
        // The release binary is scripts/package's to build; the debug one stands in for it.
        let files = match source.as_str() {
            "target/release/dcv-hook" => vec![bin.clone()],
            _ => expand(&source, &target_dir),
        };
        assert!(!files.is_empty(), "asset {source} matches no file");
        for f in &files {
            assert!(f.exists(), "asset {} missing", f.display());
        }
        assert!(mode == "644" || mode == "755", "{source}: mode {mode}");
        let place = format!("/{}", dest.trim_end_matches('/'));
        let dir = place.rsplit_once('/').map_or(place.as_str(), |(d, _)| d);
        assert!(
            install.contains(&place) || install.contains(dir),
            "README Install does not say where {source} goes ({place})"
        );
        expected.extend(files.iter().map(|f| installed_path(f, &dest)));
    }
    assert!(expected.contains(&"/usr/share/man/man1/dcv-hook-auth.1.gz".to_string()));

    if !std::process::Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("cargo-deb not installed (scripts/test installs it): .deb not built");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let deb = scratch.path().join("dcv-hook.deb");
    let built = std::process::Command::new(repo().join("scripts/package"))
        .args(["--no-build", "--profile", "dev", "--fast", "--output"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let listing = std::process::Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for path in &expected {
        assert!(
            listing.contains(&format!(".{path}\n")),
            "{path} not in the package:\n{listing}"
        );
    }
    let root = scratch.path().join("root");
    let unpacked = std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .unwrap();
    assert!(unpacked.success());
    let version = std::process::Command::new(root.join("usr/bin/dcv-hook"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("dcv-hook {}", env!("CARGO_PKG_VERSION"))
    );
    let hook = std::process::Command::new(root.join("usr/lib/dcv-hook/lego-exec"))
        .arg("bogus")
        .output()
        .unwrap();
    assert_eq!(hook.status.code(), Some(64), "{hook:?}");
    let control = std::process::Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Depends")
        .output()
        .unwrap();
    let depends = String::from_utf8_lossy(&control.stdout);
    assert!(depends.starts_with("libc6"), "depends: {depends}");
}
