//! The `logs2eca` executable. Everything lives in the library, so that
//! tests and fuzz targets reach the same code; this only hands the
//! outcome to the system as an exit status.
#![deny(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    logs2eca::main()
}
