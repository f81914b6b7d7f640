//! Moving packages between the terminal and the outside world: the exchange folder
//! ([`folder`], "without server" mode) and HTTP(S) to a sync server ([`http`] is the
//! client, [`engine`] the sync itself). Both carry the same packages.

pub mod config;
pub mod engine;
pub mod folder;
pub mod http;

pub use engine::{Progress, Step, SyncReport, SyncStatus};
pub use http::{Backoff, ServerSettings};
