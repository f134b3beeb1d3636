//! What a package ships around the binary (SPEC §9): `--version`, and the
//! places where the version and the installed path are written down twice
//! (the man page header, the units' `ExecStart=`), held to the one truth in
//! Cargo.toml so that a release cannot ship them out of step.

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
