//! `tsd-core`: the offline runtime of a barcode terminal.
//!
//! It keeps the product catalog in SQLite, resolves every scan locally (EAN/UPC,
//! ITF-14, GS1 element strings, Честный ЗНАК marking codes, in-store weight codes)
//! and stores every scan in an append-only journal that is on disk before the call
//! returns.
//!
//! ```
//! use tsd_core::{Runtime, catalog::Format};
//! let dir = tempfile::tempdir().unwrap();
//! let csv = dir.path().join("catalog.csv");
//! std::fs::write(&csv, "product_id,name,barcode\nP1,Молоко 3.2%,4601234567893\n").unwrap();
//! let rt = Runtime::open(&dir.path().join("data")).unwrap();
//! rt.import_catalog(&csv, Format::Csv, &mut |_| true).unwrap();
//! let doc = rt.new_document("receiving").unwrap();
//! let outcome = rt.scan(&doc.id, "]E04601234567893", None).unwrap();
//! assert_eq!(outcome.resolution.hit().unwrap().product.id, "P1");
//! assert_eq!(rt.document(&doc.id).unwrap().lines[0].actual, 1000); // thousandths
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod barcode;
pub mod calendar;
pub mod catalog;
pub mod config;
pub mod documents;
pub mod error;
pub mod fsx;
pub mod hydb;
pub mod json;
pub mod logs;
pub mod package;
pub mod print;
pub mod protocol;
pub mod resolve;
mod runtime;
pub mod setup;
pub mod shell;
mod state;
pub mod store;
pub mod sync;
pub mod update;

pub use error::{Error, Result};
pub use runtime::Runtime;
