//! Moving packages between the terminal and the outside world: the exchange folder
//! ([`folder`], "without server" mode) and HTTP(S) to a sync server ([`http`] is the
//! client, [`engine`] the sync itself). Both carry the same packages. The PC side
//! of the folder is [`exchange`]; [`bridge`] joins the two transports when a PC
//! carries a server-mode terminal's folder over a cable.

pub mod bridge;
pub mod config;
pub mod engine;
pub mod exchange;
pub mod folder;
pub mod http;
pub mod tasks;
pub mod tls;

pub use engine::{Progress, Step, SyncReport, SyncStatus};
pub use http::{Backoff, ServerSettings};
