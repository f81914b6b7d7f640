//! Progress bars on standard error (indicatif), for work that takes seconds:
//! imports, publishing, package building and applying, syncs, benchmark phases.
//!
//! A bar draws only when standard error is a terminal and `--quiet` was not given
//! ([`set_quiet`]); otherwise every call is a no-op, so scripts and pipes see
//! exactly what they saw before. Nothing is ever written to standard output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tsd_core::catalog::Format;

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress for the rest of the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether bars are drawn: standard error is a terminal and not `--quiet`.
pub fn shown() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Rows of an input file.
    Rows,
    /// Records of a package.
    Records,
    /// Documents, jobs, bundles.
    Items,
    /// Bytes (shown as KiB/MiB, with a byte rate).
    Bytes,
}

impl Unit {
    fn word(self) -> &'static str {
        match self {
            Unit::Rows => " rows",
            Unit::Records => " records",
            Unit::Items => "",
            Unit::Bytes => "",
        }
    }
}

/// One line of progress on standard error; cleared when dropped or finished.
pub struct Bar {
    bar: ProgressBar,
    /// The counting step last started, to come back to after a wait.
    counting: std::cell::RefCell<(String, Unit, Option<u64>)>,
    /// The line shows a spinner ([`Bar::wait`]), not the count.
    waiting: std::cell::Cell<bool>,
}

impl Bar {
    /// A bar for `what`, counting `unit` up to `total` when known (a counter with
    /// its rate when not).
    pub fn new(what: &str, unit: Unit, total: Option<u64>) -> Bar {
        // Styled while hidden, then shown: the first frame is already the right one.
        let b = Bar {
            bar: ProgressBar::hidden(),
            counting: std::cell::RefCell::new((String::new(), unit, None)),
            waiting: std::cell::Cell::new(false),
        };
        b.step(what, unit, total);
        if shown() {
            b.bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            // Ticks keep the spinner and the time moving while a step is silent
            // (a commit, an index build).
            b.bar.enable_steady_tick(Duration::from_millis(120));
        }
        b
    }

    /// Rows read from a catalog `file` against its line count (less CSV's header
    /// line; CommerceML has no lines to count: a counter without a total). The
    /// file is counted only when the bar is shown. A quoted field may hold a line
    /// break, so the total is an estimate that grows when passed.
    pub fn reading(file: &Path, format: Format) -> Bar {
        let header = match format {
            Format::Csv => Some(1),
            Format::Jsonl => Some(0),
            _ => None,
        };
        let total = match header {
            Some(header) if shown() => count_lines(file).map(|n| n.saturating_sub(header)),
            _ => None,
        };
        Bar::new("reading", Unit::Rows, total)
    }

    /// Rows read so far (told every 65,536 rows); within the last batch the line
    /// turns to `then`: what follows the reading, with nothing more to count.
    pub fn read_so_far(&self, rows: u64, then: &str) {
        if self.waiting.get() && self.bar.position() == 0 {
            // The reading starts after a wait (for another publish): back to the count.
            let (what, unit, total) = self.counting.borrow().clone();
            self.step(&what, unit, total);
        }
        self.set(rows);
        if let Some(total) = self.total() {
            if rows > total {
                self.set_total(rows);
            }
            if rows + 65_536 > total {
                self.wait(then);
            }
        }
    }

    /// A spinner for a step that tells nothing but that it runs (with the time
    /// it has taken).
    pub fn spinner(what: &str) -> Bar {
        let b = Bar::new(what, Unit::Items, None);
        b.wait(what);
        b
    }

    /// Starts the next step on the same line: `what`, counting `unit` up to
    /// `total` when known.
    pub fn step(&self, what: &str, unit: Unit, total: Option<u64>) {
        *self.counting.borrow_mut() = (what.to_string(), unit, total);
        self.waiting.set(false);
        self.restyle(&template(unit, total.is_some()));
        self.bar.reset();
        self.bar.set_length(total.unwrap_or(0));
        if total.is_none() {
            self.bar.unset_length();
        }
        self.bar.set_message(what.to_string());
    }

    /// Turns the line into a spinner saying `what` (a step with no count).
    pub fn wait(&self, what: &str) {
        self.waiting.set(true);
        self.restyle(SPINNER);
        self.bar.set_message(what.to_string());
    }

    fn restyle(&self, template: &str) {
        // The templates are constants of this module: a bad one is a bug here,
        // caught by this module's tests, and falls back to the default style.
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", indicatif::HumanCount(state.per_sec() as u64));
            })
            .progress_chars("=> ");
        self.bar.set_style(style);
    }

    /// Units done so far in this step.
    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// The step's total, once known (or better known).
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// The step's total as the bar knows it.
    pub fn total(&self) -> Option<u64> {
        self.bar.length()
    }

    /// A new phase of a long run: the spinner's words on a terminal; a line on
    /// standard error otherwise, so a log keeps the phases; nothing with `--quiet`.
    pub fn phase(&self, what: &str) {
        if shown() {
            self.wait(what);
        } else if !QUIET.load(Ordering::Relaxed) {
            eprintln!("{what}");
        }
    }

    /// Prints `line` on standard error above the bar (a warning while it runs).
    pub fn note(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Clears the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        // Leave no half-drawn line in front of an error message.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// Newlines in a file.
fn count_lines(file: &Path) -> Option<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).ok()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
            Err(_) => return None,
        }
    }
}

const SPINNER: &str = "{spinner} {msg} {elapsed}";

/// The line for a step counting `unit`, with a bar and time left when the total
/// is known.
fn template(unit: Unit, known_total: bool) -> String {
    // `wide_bar` takes what the terminal's width leaves, so the line never wraps.
    let word = unit.word();
    match (unit, known_total) {
        (Unit::Bytes, true) => "{spinner} {msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta} left".to_string(),
        (Unit::Bytes, false) => "{spinner} {msg} {bytes} {bytes_per_sec} {elapsed}".to_string(),
        (_, true) => format!("{{spinner}} {{msg}} {{wide_bar}} {{human_pos}}/{{human_len}}{word} {{rate}} {{eta}} left"),
        (_, false) => format!("{{spinner}} {{msg}} {{human_pos}}{word} {{rate}} {{elapsed}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        // `restyle` falls back to the default style rather than fail a command; the
        // templates themselves must be valid.
        for unit in [Unit::Rows, Unit::Records, Unit::Items, Unit::Bytes] {
            for known in [true, false] {
                let t = template(unit, known);
                assert!(ProgressStyle::with_template(&t).is_ok(), "{t}");
            }
        }
        assert!(ProgressStyle::with_template(SPINNER).is_ok());
    }

    #[test]
    fn lines_are_counted_across_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.csv");
        let line = "x".repeat(1000) + "\n";
        std::fs::write(&f, line.repeat(3000)).unwrap();
        assert_eq!(count_lines(&f), Some(3000));
        assert_eq!(count_lines(&dir.path().join("absent")), None);
    }

    #[test]
    fn a_bar_on_a_pipe_draws_nothing_and_keeps_counting() {
        // Under `cargo test` standard error is not a terminal: the bar is hidden,
        // and still tells its total (callers compare against it).
        let b = Bar::new("reading", Unit::Rows, Some(10));
        b.set(4);
        assert_eq!(b.total(), Some(10));
        b.step("writing", Unit::Bytes, None);
        assert_eq!(b.total(), None);
    }
}
