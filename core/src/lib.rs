#![forbid(unsafe_code)]
pub mod barcode;
pub mod catalog;
pub mod error;
pub mod store;
pub use error::{Error, Result};
