//! What a package ships around the binary (SPEC §9): `--version`, and the
//! places where the version and the installed path are written down again
//! (the man page header, debian/changelog, the units' `ExecStart=`), held to
//! the one truth in Cargo.toml so that a release cannot ship them out of
//! step; the two units, kept alike and without a sandbox, and the opt-in
//! strict drop-in. The package itself is tested under a real systemd by
//! `.ci/systemd-test`.

use crate::common::{Sandbox, run};

const VERSION_LINE: &str = concat!("logs2eca ", env!("CARGO_PKG_VERSION"));

fn source_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn version_prints_the_name_and_the_package_version() {
    let sandbox = Sandbox::new();
    for flag in ["--version", "-V"] {
        let outcome = run(&sandbox, &[flag], &[]);
        assert_eq!(outcome.status.code(), Some(0), "{flag}: {}", outcome.stderr);
        assert_eq!(outcome.stdout_text(), format!("{VERSION_LINE}\n"), "{flag}");
        assert_eq!(outcome.stderr, "", "{flag}");
    }
}

#[test]
fn the_man_page_header_names_the_package_version() {
    let header = source_file("man/logs2eca.1")
        .lines()
        .find(|line| line.starts_with(".TH "))
        .map(str::to_owned)
        .expect("the man page has a .TH line");
    assert!(
        header.contains(&format!("\"{VERSION_LINE}\"")),
        "bump the version in the man page's .TH line: {header}"
    );
}

#[test]
fn the_debian_changelog_names_the_package_version() {
    let top = source_file("debian/changelog")
        .lines()
        .next()
        .map(str::to_owned)
        .unwrap_or_default();
    let expected = concat!("logs2eca (", env!("CARGO_PKG_VERSION"), "-");
    assert!(
        top.starts_with(expected),
        "add an entry for this version to debian/changelog: {top}"
    );
}

#[test]
fn the_units_start_the_binary_where_the_package_installs_it() {
    let manifest = source_file("Cargo.toml");
    assert!(
        manifest.contains(r#"["target/release/logs2eca", "usr/bin/", "755"]"#),
        "the package no longer installs /usr/bin/logs2eca; update the units"
    );
    for unit in ["logs2eca.service", "logs2eca@.service"] {
        let exec_start: Vec<_> = source_file(unit)
            .lines()
            .filter(|line| line.starts_with("ExecStart="))
            .map(str::to_owned)
            .collect();
        assert_eq!(exec_start, ["ExecStart=/usr/bin/logs2eca"], "{unit}");
    }
}

/// The settings of a unit file: its lines that are not comments.
fn settings(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The settings that take something away from the command (SPEC §9): the
/// default units set none of them; `examples/strict.conf` sets the rest.
const SANDBOXING: [&str; 16] = [
    "UMask=",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "NoNewPrivileges=",
    "ProtectSystem=",
    "ProtectHome=",
    "PrivateTmp=",
    "PrivateDevices=",
    "PrivateNetwork=",
    "ProcSubset=",
    "ProtectProc=",
    "ProtectKernelTunables=",
    "ProtectControlGroups=",
    "RestrictAddressFamilies=",
    "MemoryDenyWriteExecute=",
    "SystemCallFilter=",
];

#[test]
fn both_units_set_the_same_settings_and_no_sandbox() {
    // The single unit and the template are kept by hand: they must not
    // drift apart but where the instance name goes.
    let single = settings(&source_file("logs2eca.service"));
    let template: Vec<String> = settings(&source_file("logs2eca@.service"))
        .into_iter()
        .map(|line| {
            line.replace("/etc/logs2eca/%i.env", "/etc/logs2eca/logs2eca.env")
                .replace("=logs2eca/%i", "=logs2eca")
        })
        .collect();
    let without_description = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !l.starts_with("Description="))
            .cloned()
            .collect()
    };
    assert_eq!(without_description(&single), without_description(&template));
    assert!(single.contains(&"AssertPathExists=/etc/logs2eca/logs2eca.env".to_owned()));
    for line in &single {
        assert!(
            !SANDBOXING.iter().any(|key| line.starts_with(key)),
            "the default units leave the command a root shell's powers, but set {line}"
        );
    }
}

#[test]
fn the_strict_drop_in_keeps_what_journalctl_needs() {
    let strict = settings(&source_file("examples/strict.conf"));
    assert_eq!(strict.first().map(String::as_str), Some("[Service]"));
    // Hide /proc/sys or, in a container, the boot id journalctl reads.
    for key in [
        "ProcSubset=",
        "ProtectProc=",
        "ProtectKernelTunables=",
        "ProtectControlGroups=",
    ] {
        assert!(!strict.iter().any(|line| line.starts_with(key)), "{key}");
    }
    let sandboxing = SANDBOXING
        .iter()
        .filter(|key| strict.iter().any(|line| line.starts_with(*key)))
        .count();
    assert!(
        sandboxing >= 10,
        "strict.conf sets only {sandboxing} sandboxing settings"
    );
    assert!(
        source_file("Cargo.toml")
            .contains(r#"["examples/strict.conf", "usr/share/doc/logs2eca/examples/", "644"]"#),
        "the package does not ship examples/strict.conf"
    );
}
