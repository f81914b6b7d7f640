//! A small external sort for the bulk load's barcodes: records are kept in memory
//! up to a budget, sorted, spilled to temporary files as runs, and merged back in
//! key order. SQLite appends sorted keys to a B-tree several times faster than
//! random ones, and sorting here avoids staging millions of rows in a temp table.

use super::BarcodeKey;
use crate::error::{Error, Result};
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

/// One staged barcode: lookup key, product and packaging keys, source line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    /// Normalised barcode (the sort key).
    pub key: BarcodeKey,
    /// Source line (second sort key: the first occurrence wins ties).
    pub line: u64,
    /// `products.pk`.
    pub product: i64,
    /// `packagings.pk`, or 0 for the base unit.
    pub packaging: i64,
}

/// In-memory bytes per run before it is spilled (keeps peak RSS bounded).
const RUN_BYTES: usize = 16 << 20;
/// Rough heap cost of one record besides its key bytes.
const REC_OVERHEAD: usize = 64;

/// Collects records, then yields them sorted by (key, line).
pub struct Sorter {
    budget: usize,
    buf: Vec<Rec>,
    bytes: usize,
    runs: Vec<tempfile::NamedTempFile>,
    context: PathBuf,
}

fn io(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Sorter {
    /// `context` names the import file in I/O errors.
    pub fn new(context: PathBuf) -> Self {
        Sorter {
            budget: RUN_BYTES,
            buf: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
            context,
        }
    }

    /// Adds one record, spilling a sorted run when the budget is reached.
    pub fn push(&mut self, rec: Rec) -> Result<()> {
        self.bytes += REC_OVERHEAD + if let BarcodeKey::Text(t) = &rec.key { t.len() } else { 0 };
        self.buf.push(rec);
        if self.bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.buf.sort_unstable();
        let file = tempfile::NamedTempFile::new().map_err(io(&self.context))?;
        let mut w = BufWriter::with_capacity(1 << 16, file.as_file());
        for r in self.buf.drain(..) {
            match &r.key {
                BarcodeKey::Gtin(n) => {
                    w.write_all(&[0]).map_err(io(file.path()))?;
                    w.write_all(&n.to_le_bytes()).map_err(io(file.path()))?;
                }
                BarcodeKey::Text(t) => {
                    w.write_all(&[1]).map_err(io(file.path()))?;
                    w.write_all(&(t.len() as u32).to_le_bytes()).map_err(io(file.path()))?;
                    w.write_all(t.as_bytes()).map_err(io(file.path()))?;
                }
            }
            for n in [r.line as i64, r.product, r.packaging] {
                w.write_all(&n.to_le_bytes()).map_err(io(file.path()))?;
            }
        }
        w.flush().map_err(io(file.path()))?;
        drop(w);
        self.runs.push(file);
        self.bytes = 0;
        Ok(())
    }

    /// Calls `f` with every record in (key, line) order.
    pub fn finish(mut self, mut f: impl FnMut(Rec) -> Result<()>) -> Result<()> {
        if self.runs.is_empty() {
            self.buf.sort_unstable();
            return self.buf.into_iter().try_for_each(f);
        }
        if !self.buf.is_empty() {
            self.spill()?;
        }
        let mut readers = Vec::with_capacity(self.runs.len());
        for run in &self.runs {
            let file = std::fs::File::open(run.path()).map_err(io(run.path()))?;
            readers.push((BufReader::with_capacity(1 << 16, file), run.path().to_path_buf()));
        }
        let mut heap = BinaryHeap::new();
        for (i, (r, path)) in readers.iter_mut().enumerate() {
            if let Some(rec) = read_rec(r, path)? {
                heap.push(std::cmp::Reverse((rec, i)));
            }
        }
        while let Some(std::cmp::Reverse((rec, i))) = heap.pop() {
            let (r, path) = &mut readers[i];
            if let Some(next) = read_rec(r, path)? {
                heap.push(std::cmp::Reverse((next, i)));
            }
            f(rec)?;
        }
        Ok(())
    }
}

fn read_rec(r: &mut impl Read, path: &std::path::Path) -> Result<Option<Rec>> {
    let mut tag = [0u8; 1];
    match r.read_exact(&mut tag) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    }
    let damaged = || io(path)(std::io::Error::new(std::io::ErrorKind::InvalidData, "damaged sort run"));
    let key = if tag[0] == 0 {
        let mut n = [0u8; 8];
        r.read_exact(&mut n).map_err(io(path))?;
        BarcodeKey::Gtin(i64::from_le_bytes(n))
    } else {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).map_err(io(path))?;
        let mut text = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut text).map_err(io(path))?;
        BarcodeKey::Text(String::from_utf8(text).map_err(|_| damaged())?)
    };
    let mut nums = [0i64; 3];
    for n in &mut nums {
        let mut b = [0u8; 8];
        r.read_exact(&mut b).map_err(io(path))?;
        *n = i64::from_le_bytes(b);
    }
    Ok(Some(Rec {
        key,
        line: nums[0] as u64,
        product: nums[1],
        packaging: nums[2],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_spilled_runs_in_order() {
        let mut s = Sorter::new(PathBuf::from("test"));
        s.budget = 1 << 20;
        let mut expected = Vec::new();
        let mut x = 12345u64;
        for line in 0..100_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key = if line % 7 == 0 {
                BarcodeKey::Text(format!("T{}", (x >> 20) % 1000))
            } else {
                BarcodeKey::Gtin(((x >> 20) % 1_000_000) as i64)
            };
            let rec = Rec {
                key,
                line,
                product: line as i64,
                packaging: 0,
            };
            expected.push(rec.clone());
            s.push(rec).unwrap();
        }
        assert!(s.runs.len() > 1, "the test must exercise spilling");
        expected.sort();
        let mut got = Vec::new();
        s.finish(|r| {
            got.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, expected);
    }
}
