//! The shell completions in `completions/` are generated from the clap
//! definitions and committed, so that a package (or a user without a Rust
//! toolchain) can install them as files. This test regenerates them in memory
//! and fails when the committed files have drifted from the command line.
//!
//! To regenerate after changing a flag:
//!
//! ```sh
//! UPDATE_COMPLETIONS=1 cargo test --test it completions
//! ```

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use logs2eca::settings::cli::Cli;

/// The shells the package installs completions for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

fn completions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("completions")
}

fn generate(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "logs2eca", &mut script);
    script
}

#[test]
fn committed_completions_match_the_command_line() {
    let update = std::env::var_os("UPDATE_COMPLETIONS").is_some_and(|v| !v.is_empty());
    let mut stale = Vec::new();
    for shell in SHELLS {
        let path = completions_dir().join(shell.file_name("logs2eca"));
        let expected = generate(shell);
        if update {
            std::fs::create_dir_all(completions_dir()).expect("create completions/");
            std::fs::write(&path, &expected).expect("write a completion script");
            continue;
        }
        match std::fs::read(&path) {
            Ok(committed) if committed == expected => {}
            Ok(_) => stale.push(format!("{} is out of date", path.display())),
            Err(err) => stale.push(format!("{}: {err}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nthe completions no longer match the command line; regenerate them with\n\
         \x20   UPDATE_COMPLETIONS=1 cargo test --test it completions\n\
         and commit completions/",
        stale.join("\n")
    );
}

#[test]
fn completions_offer_every_long_option() {
    // A guard on the generator itself: if clap_complete ever emitted a
    // script without our options, the drift test above would happily
    // compare two empty lists.
    let bash = String::from_utf8(generate(Shell::Bash)).expect("bash script is UTF-8");
    for arg in Cli::command().get_arguments() {
        if let Some(long) = arg.get_long() {
            assert!(
                bash.contains(&format!("--{long}")),
                "--{long} is not offered"
            );
        }
    }
}
