//! The pattern parser and the block matcher: any pattern string either
//! compiles or is refused with a one-line usage error (no panic), and a
//! compiled pattern finds, in a block of lines, exactly the lines that it
//! matches one at a time.
//!
//! Input: `pattern \0 exclude \0 flags-byte text`; the text is made into a
//! block of whole lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logs2eca::react::pattern::{Matcher, Pattern, Syntax, strip_cr};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(pattern), Some(exclude), Some(rest)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let (Ok(pattern), Ok(exclude)) = (std::str::from_utf8(pattern), std::str::from_utf8(exclude))
    else {
        return;
    };
    // Huge repetitions only measure the regex compiler.
    if pattern.len() > 200 || exclude.len() > 200 {
        return;
    }
    let Some((&flags, text)) = rest.split_first() else {
        return;
    };
    let syntax = Syntax {
        literal: flags & 1 == 1,
        ignore_case: flags & 2 == 2,
    };
    let pattern = match Pattern::new(pattern, syntax) {
        Ok(p) => p,
        Err(err) => {
            assert!(
                !err.message.contains('\n'),
                "multi-line error: {}",
                err.message
            );
            return;
        }
    };
    let exclude = if flags & 4 == 4 {
        match Pattern::new(exclude, syntax) {
            Ok(x) => Some(x),
            Err(_) => return,
        }
    } else {
        None
    };
    let matcher = Matcher { pattern, exclude };

    let mut block = text.to_vec();
    if block.last() != Some(&b'\n') {
        block.push(b'\n');
    }
    let mut found: Vec<Vec<u8>> = Vec::new();
    matcher.for_each_match(&block, |line| found.push(line.to_vec()));
    let expected: Vec<Vec<u8>> = block
        .split_inclusive(|&b| b == b'\n')
        .map(|line| strip_cr(&line[..line.len() - 1]))
        .filter(|line| matcher.matches(line))
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(found, expected);
});
