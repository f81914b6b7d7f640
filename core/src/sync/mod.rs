//! Moving packages between the terminal and the outside world: the exchange folder
//! ([`folder`], "without server" mode) and HTTP(S) to a sync server ([`http`] is the
//! client, [`engine`] the sync itself). Both carry the same packages; [`bridge`]
//! joins them when a PC carries a server-mode terminal's folder over a cable.

pub mod bridge;
pub mod config;
pub mod engine;
pub mod folder;
pub mod http;
pub mod tasks;

pub use engine::{Progress, Step, SyncReport, SyncStatus};
pub use http::{Backoff, ServerSettings};
