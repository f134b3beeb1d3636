//! The line splitter: whatever the bytes and however they are cut into
//! reads, `LineBuffer` hands out the lines of the stream read at once, each
//! cut to `MAX_LINE` bytes, in blocks of whole lines ending in `\n`, and
//! never holds more than `MAX_LINE` bytes.
//!
//! Input: the first byte selects how often to cut and whether the stream
//! is finished; the rest is the stream. Long lines are made by repeating a
//! byte (`0xfe n` expands to a run of `n * 64 KiB` bytes), so that the
//! fuzzer reaches `MAX_LINE` without megabyte inputs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logs2eca::input::file::lines::{LineBuffer, MAX_LINE};

fn expand(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = data.iter();
    while let Some(&b) = bytes.next() {
        if b == 0xfe {
            let n = *bytes.next().unwrap_or(&0) as usize % 40;
            out.extend(std::iter::repeat_n(b'x', n << 16));
        } else {
            out.push(b);
        }
    }
    out
}

fn reference(stream: &[u8], finish: bool) -> Vec<&[u8]> {
    let mut pieces: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let last = pieces.pop().unwrap_or_default();
    if finish && !last.is_empty() {
        pieces.push(last);
    }
    pieces
        .into_iter()
        .map(|line| &line[..line.len().min(MAX_LINE)])
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let stream = expand(rest);
    let finish = control & 1 == 1;
    // Cut every `step` bytes or so, the step varying with the position;
    // at most about 512 reads, so that a megabyte is not fed byte by byte
    // (that only measures how a held partial line is rescanned).
    let step = (1 + (control as usize >> 1) * 4099).max(stream.len() / 512);

    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut on_block = |block: &[u8]| {
        assert_eq!(block.last(), Some(&b'\n'), "a block must end in \\n");
        lines.extend(
            block[..block.len() - 1]
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec),
        );
    };
    let mut buffer = LineBuffer::new();
    let mut at = 0;
    let mut i = 0;
    while at < stream.len() {
        let len = (step + i * 7919 % step).min(stream.len() - at);
        buffer.push(&stream[at..at + len], &mut on_block);
        assert!(buffer.held() <= MAX_LINE);
        at += len;
        i += 1;
    }
    if finish {
        buffer.finish(&mut on_block);
    }
    let expected = reference(&stream, finish);
    assert_eq!(lines.len(), expected.len(), "number of lines");
    for (got, want) in lines.iter().zip(&expected) {
        assert!(
            got == want,
            "line of {} bytes, expected {}",
            got.len(),
            want.len()
        );
    }
});
