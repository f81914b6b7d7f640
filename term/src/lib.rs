//! What `tsd` and `tsd-server` share at the terminal: progress on standard error
//! ([`progress`]), aligned tables ([`table`]), the help that ships with the
//! binaries ([`help`]: shell completions and manual pages generated from the
//! commands' definitions) and the checks of `doctor` ([`doctor`]).
//!
//! Standard output stays the commands' own: progress is drawn on standard error,
//! only when it is a terminal, and never with `--quiet`.

#![forbid(unsafe_code)]

pub mod doctor;
pub mod help;
pub mod progress;
pub mod table;

pub use progress::Bar;
pub use table::table;
