//! One error type with the exit status it maps to, so that every failure
//! reaches the user as a single `logs2eca: ...` line and the right code:
//! 2 for a bad setting (fix the configuration), 1 for a failure at run time
//! (the environment is wrong; a service manager may retry).

use std::fmt;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// A runtime failure: cannot watch, cannot read.
    Failure = 1,
    /// A usage or configuration error, found before anything started.
    Usage = 2,
}

#[derive(Debug)]
pub struct Error {
    pub status: ExitStatus,
    pub message: String,
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            status: ExitStatus::Usage,
            message: message.into(),
        }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Error {
            status: ExitStatus::Failure,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.status as u8)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
