//! Progress bars on standard error (indicatif), for work that takes seconds:
//! imports, publishing, package building and applying, syncs, benchmark phases.
//!
//! A bar draws only when standard error is a terminal and `--quiet` was not given
//! ([`set_quiet`]); otherwise every call is a no-op, so scripts and pipes see
//! exactly what they saw before. Nothing is ever written to standard output.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
            Unit::Rows => "rows",
            Unit::Records => "records",
            Unit::Items => "",
            Unit::Bytes => "",
        }
    }
}

/// One line of progress on standard error; cleared when dropped or finished.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar for `what`, counting `unit` up to `total` when known (a counter with
    /// its rate when not).
    pub fn new(what: &str, unit: Unit, total: Option<u64>) -> Bar {
        // Styled while hidden, then shown: the first frame is already the right one.
        let b = Bar {
            bar: ProgressBar::hidden(),
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

const SPINNER: &str = "{spinner} {msg} {elapsed}";

/// The line for a step counting `unit`, with a bar and time left when the total
/// is known.
fn template(unit: Unit, known_total: bool) -> String {
    // `wide_bar` takes what the terminal's width leaves, so the line never wraps.
    let word = unit.word();
    match (unit, known_total) {
        (Unit::Bytes, true) => "{spinner} {msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta} left".to_string(),
        (Unit::Bytes, false) => "{spinner} {msg} {bytes} {bytes_per_sec} {elapsed}".to_string(),
        (_, true) => format!("{{spinner}} {{msg}} {{wide_bar}} {{human_pos}}/{{human_len}} {word} {{rate}} {{eta}} left"),
        (_, false) => format!("{{spinner}} {{msg}} {{human_pos}} {word} {{rate}} {{elapsed}}"),
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
