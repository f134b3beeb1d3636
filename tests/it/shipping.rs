//! What a package ships around the binary (SPEC §9): `--version`, and the
//! places where the version and the installed path are written down again
//! (the man page header, debian/changelog, the units' `ExecStart=`), held to
//! the one truth in Cargo.toml so that a release cannot ship them out of
//! step; and the sandbox, written into both units. The package itself is
//! tested under a real systemd by `.ci/systemd-test`.

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

#[test]
fn both_units_have_the_same_sandbox() {
    // The single unit and the template are kept by hand; their hardening
    // must not drift apart (verify-units checks the score of each).
    let sandbox = |unit: &str| -> Vec<String> {
        source_file(unit)
            .lines()
            .skip_while(|line| !line.starts_with("UMask="))
            .take_while(|line| !line.starts_with('['))
            .map(str::to_owned)
            .collect()
    };
    let single = sandbox("logs2eca.service");
    assert!(single.len() > 10, "no sandbox found in logs2eca.service");
    assert_eq!(single, sandbox("logs2eca@.service"));
}
