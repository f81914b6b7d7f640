//! Column blocks for catalog snapshots: up to [`BLOCK`] products at a time, each
//! field in its own column, so that zstd sees names next to names and barcodes next
//! to barcodes, and no product id is repeated per packaging or barcode. A GTIN is
//! stored without its check digit (it is recomputed) as the difference to the
//! previous one in the block: codes of one manufacturer are close, and a box code
//! differs from its unit code by a constant. Product ids are front-coded (the
//! length shared with the previous id, then the rest): sequential ids cost a byte.

use super::record::{CatalogRecord, ProductRow, Row};
use super::rows::{RowSink, Validator};
use super::BarcodeKey;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Products per block.
pub const BLOCK: usize = 4096;

/// Up to [`BLOCK`] products with their packagings and barcodes, column by column.
/// Barcode owners are, for each product in order, its base unit and then each of
/// its packagings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProductBlock {
    /// Product ids, front-coded: bytes shared with the previous id.
    pub id_shared: Vec<u16>,
    /// The rest of each id after the shared bytes.
    pub ids: Vec<String>,
    /// Articles.
    pub codes: Vec<String>,
    /// Names.
    pub names: Vec<String>,
    /// Base units.
    pub units: Vec<String>,
    /// Flags (1 weighed, 2 marked).
    pub flags: Vec<u8>,
    /// True for a product that comes without packagings and barcodes and keeps the
    /// ones the terminal has (a delta that changed only its own fields); such a
    /// product has no entries in the packaging and barcode columns.
    pub only: Vec<bool>,
    /// Number of packagings of each product.
    pub packagings: Vec<u32>,
    /// Packaging ids, all products' in order.
    pub packaging_ids: Vec<String>,
    /// Packaging names.
    pub packaging_names: Vec<String>,
    /// Packaging factors, thousandths of the base unit.
    pub factors: Vec<i64>,
    /// Number of barcodes of each owner.
    pub barcodes: Vec<u32>,
    /// Each barcode: 0 for a text barcode (taken from `texts` in order), else a GTIN
    /// without its check digit as the difference `d` to the previous such number of
    /// the block, written as `d + 1` when `d >= 0` and `d` when negative.
    pub gtins: Vec<i64>,
    /// Text (non-GTIN) barcodes.
    pub texts: Vec<String>,
}

impl ProductBlock {
    /// Number of products.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the block holds no product.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Expands the block into rows and runs them through the validator.
    pub fn validate_into(self, v: &mut Validator<'_>, line: u64) -> Result<()> {
        let bad = |v: &Validator<'_>, what: &str| v.err(line, format!("damaged product block: {what}"));
        let n = self.ids.len();
        if [
            self.id_shared.len(),
            self.only.len(),
            self.codes.len(),
            self.names.len(),
            self.units.len(),
            self.flags.len(),
            self.packagings.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return Err(bad(v, "columns of different lengths"));
        }
        let (mut pack, mut owner, mut code, mut text, mut gtin) = (0usize, 0usize, 0usize, 0usize, 0i64);
        let mut take_barcodes = |v: &mut Validator<'_>, product: &str, packaging: Option<&str>| -> Result<()> {
            let count = *self.barcodes.get(owner).ok_or_else(|| bad(v, "missing barcode count"))? as usize;
            owner += 1;
            for _ in 0..count {
                let delta = *self.gtins.get(code).ok_or_else(|| bad(v, "missing barcode"))?;
                code += 1;
                let raw = if delta == 0 {
                    let t = self.texts.get(text).ok_or_else(|| bad(v, "missing text barcode"))?.clone();
                    text += 1;
                    t
                } else {
                    gtin = gtin.wrapping_add(if delta > 0 { delta - 1 } else { delta });
                    let body = format!("{gtin:013}");
                    format!("{body}{}", crate::barcode::check_digit(body.as_bytes()) as char)
                };
                v.barcode(&raw, product, packaging, line)?;
            }
            Ok(())
        };
        let mut ids = Vec::with_capacity(n);
        let mut prev = String::new();
        for (shared, rest) in self.id_shared.iter().zip(&self.ids) {
            let keep = prev.get(..*shared as usize).ok_or_else(|| bad(v, "id prefix out of range"))?;
            let id = format!("{keep}{rest}");
            prev.clone_from(&id);
            ids.push(id);
        }
        for (i, id) in ids.iter().enumerate() {
            let row = ProductRow {
                id: id.clone(),
                code: self.codes[i].clone(),
                name: self.names[i].clone(),
                unit: self.units[i].clone(),
                flags: i64::from(self.flags[i]),
            };
            if self.only[i] {
                v.product_only(row, line)?;
                continue;
            }
            v.product(row, line)?;
            take_barcodes(v, id, None)?;
            for _ in 0..self.packagings[i] {
                let (Some(pid), Some(pname), Some(factor)) =
                    (self.packaging_ids.get(pack), self.packaging_names.get(pack), self.factors.get(pack))
                else {
                    return Err(bad(v, "missing packaging"));
                };
                pack += 1;
                v.packaging_milli(id, pid, pname, *factor, line)?;
                take_barcodes(v, id, Some(pid))?;
            }
        }
        Ok(())
    }
}

/// One product being collected: its packagings and each owner's barcodes.
#[derive(Default)]
struct Pending {
    product: Option<ProductRow>,
    only: bool,
    packagings: Vec<(String, String, i64)>,
    /// Barcodes by owner: index 0 the base unit, then one per packaging.
    owners: Vec<Vec<BarcodeKey>>,
}

/// A [`RowSink`] that groups rows into column blocks and passes cells and records
/// through; `emit` receives each finished package record.
pub struct BlockBuilder<'e> {
    block: ProductBlock,
    pending: Pending,
    last_gtin: i64,
    last_id: String,
    emit: &'e mut dyn FnMut(CatalogRecord) -> Result<()>,
}

impl<'e> BlockBuilder<'e> {
    /// A builder handing finished records to `emit`.
    pub fn new(emit: &'e mut dyn FnMut(CatalogRecord) -> Result<()>) -> Self {
        BlockBuilder {
            block: ProductBlock::default(),
            pending: Pending::default(),
            last_gtin: 0,
            last_id: String::new(),
            emit,
        }
    }

    fn close_product(&mut self) {
        let Some(p) = self.pending.product.take() else { return };
        let b = &mut self.block;
        let shared = p.id.bytes().zip(self.last_id.bytes()).take_while(|(a, b)| a == b).count();
        // Only whole characters may be shared (ids are UTF-8) and the count fits u16.
        let shared = (0..=shared.min(u16::MAX as usize))
            .rev()
            .find(|&k| p.id.is_char_boundary(k))
            .unwrap_or(0);
        b.id_shared.push(shared as u16);
        b.ids.push(p.id[shared..].to_string());
        self.last_id = p.id;
        b.codes.push(p.code);
        b.names.push(p.name);
        b.units.push(p.unit);
        b.flags.push(p.flags as u8);
        b.only.push(self.pending.only);
        b.packagings.push(self.pending.packagings.len() as u32);
        for (id, name, factor) in self.pending.packagings.drain(..) {
            b.packaging_ids.push(id);
            b.packaging_names.push(name);
            b.factors.push(factor);
        }
        for owner in self.pending.owners.drain(..) {
            b.barcodes.push(owner.len() as u32);
            for key in owner {
                match key {
                    BarcodeKey::Gtin(g) => {
                        let body = g / 10;
                        let d = body - self.last_gtin;
                        b.gtins.push(if d >= 0 { d + 1 } else { d });
                        self.last_gtin = body;
                    }
                    BarcodeKey::Text(t) => {
                        b.gtins.push(0);
                        b.texts.push(t);
                    }
                }
            }
        }
    }

    fn flush_block(&mut self) -> Result<()> {
        if !self.block.is_empty() {
            (self.emit)(CatalogRecord::Block(Box::new(std::mem::take(&mut self.block))))?;
            self.last_gtin = 0;
            self.last_id.clear();
        }
        Ok(())
    }

    /// Emits what is still collected.
    pub fn finish(mut self) -> Result<()> {
        self.close_product();
        self.flush_block()
    }
}

impl RowSink for BlockBuilder<'_> {
    fn row(&mut self, row: Row<'_>, _line: u64) -> Result<()> {
        match row {
            Row::Product(p) | Row::ProductOnly(p) => {
                self.close_product();
                if self.block.len() >= BLOCK {
                    self.flush_block()?;
                }
                self.pending.product = Some(p.clone());
                self.pending.only = matches!(row, Row::ProductOnly(_));
                if !self.pending.only {
                    self.pending.owners.push(Vec::new());
                }
            }
            Row::Packaging { id, name, factor, .. } => {
                self.pending.packagings.push((id.to_string(), name.to_string(), factor));
                self.pending.owners.push(Vec::new());
            }
            Row::Barcode { key, packaging, .. } => {
                let owner = match packaging {
                    None => 0,
                    // The latest packaging of that id: the one this row declared.
                    Some(p) => self.pending.packagings.iter().rposition(|(id, _, _)| id == p).map_or(0, |i| i + 1),
                };
                if let Some(list) = self.pending.owners.get_mut(owner) {
                    list.push(key.clone());
                }
            }
            Row::Cell { .. } | Row::Record { .. } | Row::Delete(_) | Row::ProductPatch(_) => (self.emit)(CatalogRecord::from_row(row))?,
        }
        Ok(())
    }
}
