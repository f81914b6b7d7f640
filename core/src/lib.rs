#![forbid(unsafe_code)]
pub mod barcode;
pub mod error;
pub mod store;
pub use error::{Error, Result};
