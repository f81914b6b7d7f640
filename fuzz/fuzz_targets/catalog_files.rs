//! `cargo +nightly fuzz run catalog_files`: catalog files as people export them —
//! CSV, JSON Lines and CommerceML in any encoding — must never panic, and what
//! reading accepts must be self-consistent (rows counted, every barcode owned by
//! a product row seen before it, every error naming a line).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tsd_core::catalog::record::Row;
use tsd_core::catalog::rows::{parse_reader, RowSink};
use tsd_core::catalog::{Format, ReadOptions, TextEncoding};

#[derive(Default)]
struct Check {
    products: Vec<String>,
    rows: u64,
}

impl RowSink for Check {
    fn row(&mut self, row: Row<'_>, line: u64) -> tsd_core::Result<()> {
        assert!(line >= 1, "rows come from a line");
        self.rows += 1;
        match row {
            Row::Product(p) => self.products.push(p.id.clone()),
            Row::Barcode { product, .. } => assert!(self.products.iter().any(|p| p == product), "a barcode of a product not read"),
            _ => {}
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let format = [Format::Csv, Format::Jsonl, Format::CommerceMl][selector as usize % 3];
    let encoding = [None, Some(TextEncoding::Utf8), Some(TextEncoding::Windows1251), Some(TextEncoding::Utf16Le)][(selector as usize / 3) % 4];
    let options = ReadOptions {
        encoding,
        strict: selector & 0x80 != 0,
        ..ReadOptions::default()
    };
    let mut check = Check::default();
    match parse_reader(Path::new("fuzz"), body, format, &options, &mut check, &mut |_| true) {
        Ok(summary) => assert!(check.rows == 0 || summary.rows > 0, "rows that reached the sink were counted"),
        Err(tsd_core::Error::Import { line, .. }) => assert!(line >= 1),
        Err(_) => {}
    }
});
