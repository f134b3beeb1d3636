//! The only place that waits on stderr. Log lines go into a bounded buffer
//! that a writer thread drains: a reader of stderr that stalls (a pipe
//! nobody reads, a wedged journal) stalls that thread alone, never the loop
//! that reads the file, runs commands and answers signals.
//!
//! When the buffer is full a line is dropped and counted; the writer tells
//! how many as soon as it catches up, right after the lines queued before
//! them (once the buffer is full every new line is dropped until the writer
//! takes the buffer, so the count belongs exactly there).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// Renders the line that reports `n` dropped lines.
pub type DropReport = Box<dyn Fn(u64, &mut Vec<u8>) + Send + Sync>;

pub struct Queue {
    shared: Arc<Shared>,
    capacity: usize,
    /// The writer thread is started by the first line queued: a run that
    /// logs nothing (`-q`) starts none.
    started: OnceLock<bool>,
}

/// The writer thread's stack: it copies bytes to stderr and renders the
/// dropped-lines report, nothing deep.
const WRITER_STACK: usize = 64 << 10;

struct Shared {
    /// Where the lines go, until the writer thread takes it.
    out: Mutex<Option<Box<dyn Write + Send>>>,
    state: Mutex<QueueState>,
    /// Signalled when lines arrive and when the writer finishes a batch.
    changed: Condvar,
    report: DropReport,
}

#[derive(Default)]
struct QueueState {
    /// Whole lines, newline included, in order.
    pending: Vec<u8>,
    dropped: u64,
    /// The writer holds a batch it has not finished writing.
    writing: bool,
}

impl Queue {
    /// A queue whose writer thread starts with the first line. `capacity`
    /// bounds the bytes waiting.
    pub fn start(
        out: impl Write + Send + 'static,
        capacity: usize,
        report: DropReport,
    ) -> std::io::Result<Queue> {
        let shared = Arc::new(Shared {
            out: Mutex::new(Some(Box::new(out))),
            state: Mutex::new(QueueState::default()),
            changed: Condvar::new(),
            report,
        });
        Ok(Queue {
            shared,
            capacity,
            started: OnceLock::new(),
        })
    }

    /// Starts the writer thread once; where it cannot start, the lines
    /// queued are written here and now instead.
    fn wake_writer(&self) {
        let started = *self.started.get_or_init(|| {
            let writer = Arc::clone(&self.shared);
            std::thread::Builder::new()
                .name("log writer".into())
                .stack_size(WRITER_STACK)
                .spawn(move || {
                    let out = writer
                        .out
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if let Some(out) = out {
                        drain(&writer, out);
                    }
                })
                .is_ok()
        });
        if started {
            self.shared.changed.notify_all();
            return;
        }
        let mut out = self
            .shared
            .out
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let batch = std::mem::take(&mut self.shared.lock().pending);
        if let Some(out) = out.as_mut() {
            let _ = out.write_all(&batch).and_then(|()| out.flush());
        }
    }

    /// Queues the line `render` appends, or drops and counts it if the
    /// queue is full. Never waits for the writer.
    pub fn push(&self, render: impl FnOnce(&mut Vec<u8>)) {
        self.push_inner(render, false);
    }

    /// Queues a line whatever the queue holds: the last words of the
    /// process, which must not be the line that gets dropped.
    pub fn push_always(&self, render: impl FnOnce(&mut Vec<u8>)) {
        self.push_inner(render, true);
    }

    fn push_inner(&self, render: impl FnOnce(&mut Vec<u8>), always: bool) {
        let mut state = self.shared.lock();
        if always && state.dropped > 0 {
            // The lines were dropped before this one: say so before it.
            let dropped = std::mem::take(&mut state.dropped);
            (self.shared.report)(dropped, &mut state.pending);
        }
        let before = state.pending.len();
        render(&mut state.pending);
        if !always && state.pending.len() > self.capacity && before > 0 {
            state.pending.truncate(before);
            state.dropped += 1;
            return;
        }
        drop(state);
        self.wake_writer();
    }

    /// Waits until everything queued is written, at most `limit`. Returns
    /// whether it was.
    pub fn flush(&self, limit: Duration) -> bool {
        let state = self.shared.lock();
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, limit, |s| s.busy())
            .unwrap_or_else(PoisonError::into_inner);
        !state.busy()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl QueueState {
    fn busy(&self) -> bool {
        self.writing || !self.pending.is_empty() || self.dropped > 0
    }
}

/// The writer thread: takes everything queued at once and writes it.
/// Write errors (a closed stderr) lose the batch, which is all that can be
/// done with it.
fn drain(shared: &Shared, mut out: Box<dyn Write + Send>) {
    let mut batch = Vec::new();
    loop {
        let dropped = {
            let mut state = shared
                .changed
                .wait_while(shared.lock(), |s| s.pending.is_empty() && s.dropped == 0)
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut state.pending, &mut batch);
            state.writing = true;
            std::mem::take(&mut state.dropped)
        };
        if dropped > 0 {
            (shared.report)(dropped, &mut batch);
        }
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        shared.lock().writing = false;
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{self, Receiver, Sender};

    /// A stderr whose every write waits for the test's go-ahead.
    struct Gated {
        entered: Sender<()>,
        gate: Receiver<()>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            self.gate
                .recv()
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Harness {
        queue: Queue,
        entered: Receiver<()>,
        gate: Sender<()>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    fn gated(capacity: usize) -> Harness {
        let (entered_tx, entered) = mpsc::channel();
        let (gate, gate_rx) = mpsc::channel();
        let written = Arc::new(Mutex::new(Vec::new()));
        let out = Gated {
            entered: entered_tx,
            gate: gate_rx,
            written: Arc::clone(&written),
        };
        let report: DropReport =
            Box::new(|n, out| out.extend_from_slice(format!("{n} dropped\n").as_bytes()));
        Harness {
            queue: Queue::start(out, capacity, report).unwrap(),
            entered,
            gate,
            written,
        }
    }

    fn line(text: &'static str) -> impl FnOnce(&mut Vec<u8>) {
        move |out: &mut Vec<u8>| out.extend_from_slice(text.as_bytes())
    }

    /// A run that logs nothing (`-q`) starts no writer thread; the first
    /// line starts it, and it writes that line.
    #[test]
    fn the_writer_starts_with_the_first_line() {
        let h = gated(100);
        assert!(h.queue.flush(Duration::from_secs(10)), "nothing to write");
        assert_eq!(h.queue.started.get(), None);
        h.queue.push(line("a\n"));
        assert_eq!(h.queue.started.get(), Some(&true));
        h.entered.recv().unwrap();
        h.gate.send(()).unwrap();
        assert!(h.queue.flush(Duration::from_secs(10)));
        assert_eq!(*h.written.lock().unwrap(), b"a\n");
    }

    #[test]
    fn a_full_queue_drops_lines_and_the_writer_reports_them_in_place() {
        let h = gated(10);
        h.queue.push(line("a\n"));
        // The writer holds "a\n" and is stuck writing it.
        h.entered.recv().unwrap();
        h.queue.push(line("bbbb\n"));
        h.queue.push(line("cccc\n"));
        h.queue.push(line("dddd\n"));
        h.queue.push(line("eeee\n"));
        h.gate.send(()).unwrap();
        h.entered.recv().unwrap();
        h.gate.send(()).unwrap();
        assert!(h.queue.flush(Duration::from_secs(10)));
        assert_eq!(
            String::from_utf8(h.written.lock().unwrap().clone()).unwrap(),
            "a\nbbbb\ncccc\n2 dropped\n"
        );
    }

    #[test]
    fn the_last_words_are_queued_even_when_the_queue_is_full() {
        let h = gated(4);
        h.queue.push(line("a\n"));
        h.entered.recv().unwrap();
        h.queue.push(line("bb\n"));
        h.queue.push(line("cc\n"));
        h.queue.push_always(line("logs2eca: fatal\n"));
        h.gate.send(()).unwrap();
        h.entered.recv().unwrap();
        h.gate.send(()).unwrap();
        assert!(h.queue.flush(Duration::from_secs(10)));
        assert_eq!(
            String::from_utf8(h.written.lock().unwrap().clone()).unwrap(),
            "a\nbb\n1 dropped\nlogs2eca: fatal\n"
        );
    }

    #[test]
    fn a_line_longer_than_the_queue_still_goes_through_an_empty_queue() {
        let h = gated(4);
        h.queue.push(line("a long line\n"));
        h.entered.recv().unwrap();
        h.gate.send(()).unwrap();
        assert!(h.queue.flush(Duration::from_secs(10)));
        assert_eq!(&*h.written.lock().unwrap(), b"a long line\n");
    }

    #[test]
    fn flushing_gives_up_on_a_stalled_stderr() {
        let h = gated(100);
        h.queue.push(line("never written\n"));
        h.entered.recv().unwrap();
        // The writer is stuck for good: the wait ends anyway.
        assert!(!h.queue.flush(Duration::from_millis(20)));
        assert!(h.written.lock().unwrap().is_empty());
    }
}
