#![forbid(unsafe_code)]
pub mod barcode;
