//! How changes are noticed (`--poll`): inotify where it can see every
//! write, our own look at the files every interval where it cannot.
//!
//! A look is exactly what an inotify event asks for: the loop refreshes the
//! path (`stat` of the path, `fstat` and the fingerprint of the open file,
//! a read at the offset) and reads the rotated files, so polling goes
//! through the same rotation, truncation and identity rules as inotify and
//! keeps the same exactly-once promise. It costs one wake-up per interval
//! and a few syscalls; inotify costs nothing while nothing happens, which is
//! why `auto` polls only where inotify cannot be used: no inotify instance
//! or watch left, a directory that cannot be watched, or a remote file
//! system (see `fstype`), whose other hosts' writes raise no event.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::settings::duration::parse_duration;

/// The interval of `auto` when inotify cannot be used, as GNU tail's.
pub const FALLBACK: Duration = Duration::from_secs(1);

/// The shortest interval accepted: below it a daemon that should idle would
/// spend its time looking (100 looks a second is already a busy process).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The `--poll` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Poll {
    /// inotify, and polling every [`FALLBACK`] where it cannot be used.
    #[default]
    Auto,
    /// inotify only: where it cannot be used, stop (exit 1).
    Never,
    /// No inotify: look every interval.
    Every(Duration),
}

impl Poll {
    pub fn parse(value: &str) -> Result<Self> {
        if value.eq_ignore_ascii_case("auto") {
            return Ok(Poll::Auto);
        }
        if value.eq_ignore_ascii_case("never") {
            return Ok(Poll::Never);
        }
        let every = parse_duration("--poll", value)
            .map_err(|err| Error::usage(format!("{}; or auto, or never", err.message)))?;
        if every < MIN_INTERVAL {
            return Err(Error::usage(format!(
                "invalid --poll '{value}': an interval must be at least {}ms (or auto, or never)",
                MIN_INTERVAL.as_millis()
            )));
        }
        Ok(Poll::Every(every))
    }
}

/// When the loop looks for changes itself: never while inotify sees
/// everything, every interval otherwise.
#[derive(Debug)]
pub struct Schedule {
    setting: Poll,
    every: Option<Duration>,
    next: Option<Instant>,
    /// A remote file system under `--poll never` is warned about once.
    remote_warned: bool,
}

impl Schedule {
    pub fn new(setting: Poll, now: Instant) -> Self {
        let every = match setting {
            Poll::Every(every) => Some(every),
            Poll::Auto | Poll::Never => None,
        };
        Schedule {
            setting,
            every,
            next: every.map(|every| now + every),
            remote_warned: false,
        }
    }

    /// Is inotify to be used at all?
    pub fn wants_inotify(&self) -> bool {
        !matches!(self.setting, Poll::Every(_))
    }

    #[cfg(test)]
    pub fn is_polling(&self) -> bool {
        self.every.is_some()
    }

    /// inotify cannot see everything we follow, because of `why`: with
    /// `auto`, look every second from now on (said once); with `never`,
    /// that is the end.
    pub fn without_inotify(&mut self, why: &str, now: Instant) -> Result<()> {
        match self.setting {
            Poll::Never => Err(Error::failure(format!(
                "{why}; not polling instead (--poll never)"
            ))),
            Poll::Auto if self.every.is_none() => {
                log::warn!(
                    "{why}; looking for changes every {}s instead",
                    FALLBACK.as_secs()
                );
                self.start(FALLBACK, now);
                Ok(())
            }
            _ => {
                log::debug!("{why}; already polling");
                Ok(())
            }
        }
    }

    /// The directory `dir` is on the remote file system `fs`: inotify
    /// works there, but sees only this host's writes.
    pub fn remote(&mut self, dir: &Path, fs: &str, now: Instant) {
        let why = format!(
            "{} is on a remote file system ({fs}), where inotify does not see other hosts' writes",
            dir.display()
        );
        match self.setting {
            // The operator said so: maybe the writer is on this host.
            Poll::Never => {
                if !std::mem::replace(&mut self.remote_warned, true) {
                    log::warn!("{why}; only this host's writes are seen (--poll never)");
                }
            }
            // Cannot fail: `auto` falls back, `Every` already polls.
            _ => {
                let _ = self.without_inotify(&why, now);
            }
        }
    }

    /// inotify sees everything we follow (again): the fallback of `auto`
    /// ends. An interval asked for (`--poll DURATION`) stays.
    pub fn inotify_sees_all(&mut self) {
        if matches!(self.setting, Poll::Auto) && self.every.take().is_some() {
            self.next = None;
            log::info!(
                "inotify sees every change again: no longer looking every {}s",
                FALLBACK.as_secs()
            );
        }
    }

    fn start(&mut self, every: Duration, now: Instant) {
        self.every = Some(every);
        self.next = Some(now + every);
    }

    /// When the next look is due, if looks are.
    pub fn deadline(&self) -> Option<Instant> {
        self.next
    }

    /// Is a look due at `now`? If so, the next one is scheduled an interval
    /// later: looks do not pile up after a busy turn.
    pub fn due(&mut self, now: Instant) -> bool {
        if self.next.is_none_or(|at| at > now) {
            return false;
        }
        self.next = self.every.map(|every| now + every);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        let ms = Duration::from_millis;
        for (text, expected) in [
            ("auto", Poll::Auto),
            ("AUTO", Poll::Auto),
            ("never", Poll::Never),
            ("1", Poll::Every(ms(1000))),
            ("200ms", Poll::Every(ms(200))),
            ("10ms", Poll::Every(ms(10))),
            ("0.5", Poll::Every(ms(500))),
            ("2m", Poll::Every(ms(120_000))),
        ] {
            assert_eq!(Poll::parse(text).unwrap(), expected, "{text}");
        }
        for (text, why) in [
            ("0", "at least 10ms"),
            ("9ms", "at least 10ms"),
            ("0.001", "at least 10ms"),
            ("sometimes", "or auto, or never"),
            ("-1", "negative"),
            ("366d", "longer than 365 days"),
        ] {
            let err = Poll::parse(text).unwrap_err();
            assert_eq!(err.status, crate::error::ExitStatus::Usage, "{text}");
            assert!(
                err.message.contains(&format!("--poll '{text}'")) && err.message.contains(why),
                "{text}: {}",
                err.message
            );
        }
    }

    #[test]
    fn inotify_alone_never_wakes_up() {
        let t0 = Instant::now();
        for setting in [Poll::Auto, Poll::Never] {
            let mut s = Schedule::new(setting, t0);
            assert!(s.wants_inotify());
            assert_eq!(s.deadline(), None);
            assert!(!s.due(t0 + Duration::from_secs(3600)));
        }
    }

    #[test]
    fn an_interval_is_one_look_per_interval() {
        let every = Duration::from_millis(200);
        let t0 = Instant::now();
        let mut s = Schedule::new(Poll::Every(every), t0);
        assert!(!s.wants_inotify());
        assert_eq!(s.deadline(), Some(t0 + every));
        assert!(!s.due(t0 + every / 2));
        // Late by a second: one look, and the next an interval later.
        let late = t0 + Duration::from_secs(1);
        assert!(s.due(late));
        assert!(!s.due(late));
        assert_eq!(s.deadline(), Some(late + every));
    }

    #[test]
    fn auto_falls_back_to_every_second_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Poll::Auto, t0);
        s.without_inotify("cannot start inotify", t0).unwrap();
        assert!(s.is_polling());
        assert_eq!(s.deadline(), Some(t0 + FALLBACK));
        let t1 = t0 + Duration::from_millis(300);
        s.remote(Path::new("/mnt/nfs"), "nfs", t1);
        assert_eq!(s.deadline(), Some(t0 + FALLBACK), "not rescheduled");
        assert!(s.due(t0 + FALLBACK));
    }

    #[test]
    fn the_fallback_ends_when_inotify_sees_all_again() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Poll::Auto, t0);
        s.without_inotify("cannot watch /var/log: no space", t0)
            .unwrap();
        assert!(s.is_polling());
        s.inotify_sees_all();
        assert!(!s.is_polling());
        assert_eq!(s.deadline(), None);
        // And it can fall back again.
        s.without_inotify("cannot watch /var/log: no space", t0)
            .unwrap();
        assert_eq!(s.deadline(), Some(t0 + FALLBACK));
        // An interval asked for is kept.
        let mut every = Schedule::new(Poll::Every(Duration::from_secs(5)), t0);
        every.inotify_sees_all();
        assert!(every.is_polling());
    }

    #[test]
    fn auto_polls_on_a_remote_file_system() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Poll::Auto, t0);
        s.remote(Path::new("/mnt/nfs"), "nfs", t0);
        assert!(s.is_polling());
        assert!(s.wants_inotify(), "local writes are still seen at once");
    }

    #[test]
    fn never_refuses_to_poll_but_trusts_a_remote_file_system() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Poll::Never, t0);
        let err = s
            .without_inotify("cannot start inotify: too many inotify instances", t0)
            .unwrap_err();
        assert_eq!(err.status, crate::error::ExitStatus::Failure);
        assert!(err.message.contains("too many inotify instances"));
        assert!(err.message.contains("--poll never"));
        s.remote(Path::new("/mnt/nfs"), "nfs", t0);
        assert!(!s.is_polling());
    }
}
