//! Product patches for catalog deltas: a product whose own fields changed (not its
//! packagings or barcodes) travels as edits against the value the terminal has —
//! for each changed text field, how many characters to keep at the front and at the
//! back, and what goes between. Renaming "Чай 200 г" to "Чай 200 г (новая цена)"
//! costs the new words, not the name. A delta applies only on the exact version it
//! was computed from, so the old value is known; a patch for a product the catalog
//! lacks, or an edit that does not fit the old value, refuses the whole package.

use super::record::{CatalogRecord, ProductRow};
use super::rows::Validator;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// An edit of one text field, in characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Edit {
    /// Characters kept from the start of the old value.
    pub front: u32,
    /// Characters kept from the end of the old value.
    pub back: u32,
    /// What goes between them.
    pub mid: String,
}

impl Edit {
    /// The edit that turns `old` into `new`; `None` when they are equal.
    pub fn between(old: &str, new: &str) -> Option<Edit> {
        if old == new {
            return None;
        }
        let (o, n): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
        let front = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
        let room = o.len().min(n.len()) - front;
        let back = o.iter().rev().zip(n.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
        Some(Edit {
            front: front as u32,
            back: back as u32,
            mid: n[front..n.len() - back].iter().collect(),
        })
    }

    /// Applies the edit to `old`; `None` when it does not fit.
    pub fn apply(&self, old: &str) -> Option<String> {
        let chars: Vec<char> = old.chars().collect();
        let (front, back) = (self.front as usize, self.back as usize);
        if front.checked_add(back)? > chars.len() {
            return None;
        }
        let mut out: String = chars[..front].iter().collect();
        out.push_str(&self.mid);
        out.extend(&chars[chars.len() - back..]);
        Some(out)
    }
}

/// The changes to one product's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProductPatch {
    /// Product id.
    pub id: String,
    /// Article edit.
    pub code: Option<Edit>,
    /// Name edit.
    pub name: Option<Edit>,
    /// Unit edit.
    pub unit: Option<Edit>,
    /// New flags.
    pub flags: Option<i64>,
}

impl ProductPatch {
    /// The patch from `old` to `new` (same id).
    pub fn between(old: &ProductRow, new: &ProductRow) -> ProductPatch {
        ProductPatch {
            id: new.id.clone(),
            code: Edit::between(&old.code, &new.code),
            name: Edit::between(&old.name, &new.name),
            unit: Edit::between(&old.unit, &new.unit),
            flags: (old.flags != new.flags).then_some(new.flags),
        }
    }

    /// The product after the patch, or what does not fit.
    pub fn apply(&self, old: &ProductRow) -> std::result::Result<ProductRow, String> {
        let edit = |field: &str, e: &Option<Edit>, value: &str| match e {
            None => Ok(value.to_string()),
            Some(e) => e
                .apply(value)
                .ok_or_else(|| format!("the {field} edit of product {} does not fit its current value", self.id)),
        };
        Ok(ProductRow {
            id: old.id.clone(),
            code: edit("article", &self.code, &old.code)?,
            name: edit("name", &self.name, &old.name)?,
            unit: edit("unit", &self.unit, &old.unit)?,
            flags: self.flags.unwrap_or(old.flags),
        })
    }
}

const CODE: u8 = 1;
const NAME: u8 = 2;
const UNIT: u8 = 4;
const FLAGS: u8 = 8;

/// Up to [`super::columns::BLOCK`] patches, column by column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PatchBlock {
    /// Product ids, front-coded as in product blocks.
    pub id_shared: Vec<u16>,
    /// The rest of each id.
    pub ids: Vec<String>,
    /// Which fields each patch changes: 1 article, 2 name, 4 unit, 8 flags.
    pub fields: Vec<u8>,
    /// Characters kept at the front, one per text edit (article, name, unit order).
    pub fronts: Vec<u32>,
    /// Characters kept at the back, one per text edit.
    pub backs: Vec<u32>,
    /// The new middles, one per text edit.
    pub mids: Vec<String>,
    /// New flags, one per patch with bit 8.
    pub flags: Vec<u8>,
}

impl PatchBlock {
    /// Expands the block into patches and runs them through the validator.
    pub fn validate_into(self, v: &mut Validator<'_>, line: u64) -> Result<()> {
        let bad = |v: &Validator<'_>, what: &str| v.err(line, format!("damaged patch block: {what}"));
        let n = self.ids.len();
        if self.id_shared.len() != n
            || self.fields.len() != n
            || self.fronts.len() != self.backs.len()
            || self.backs.len() != self.mids.len()
        {
            return Err(bad(v, "columns of different lengths"));
        }
        let (mut text, mut flag) = (0usize, 0usize);
        let mut prev = String::new();
        for i in 0..n {
            let keep = prev
                .get(..self.id_shared[i] as usize)
                .ok_or_else(|| bad(v, "id prefix out of range"))?;
            let id = format!("{keep}{}", self.ids[i]);
            prev.clone_from(&id);
            let mut take = |bit: u8| -> Option<Option<Edit>> {
                if self.fields[i] & bit == 0 {
                    return Some(None);
                }
                let e = Edit {
                    front: *self.fronts.get(text)?,
                    back: *self.backs.get(text)?,
                    mid: self.mids.get(text)?.clone(),
                };
                text += 1;
                Some(Some(e))
            };
            let (Some(code), Some(name), Some(unit)) = (take(CODE), take(NAME), take(UNIT)) else {
                return Err(bad(v, "missing edit"));
            };
            let flags = if self.fields[i] & FLAGS != 0 {
                let f = *self.flags.get(flag).ok_or_else(|| bad(v, "missing flags"))?;
                flag += 1;
                Some(i64::from(f))
            } else {
                None
            };
            v.product_patch(
                ProductPatch {
                    id,
                    code,
                    name,
                    unit,
                    flags,
                },
                line,
            )?;
        }
        Ok(())
    }
}

/// Collects patches into blocks and hands each full block to `emit`.
pub struct PatchBuilder<'e> {
    block: PatchBlock,
    prev: String,
    emit: &'e mut dyn FnMut(CatalogRecord) -> Result<()>,
}

impl<'e> PatchBuilder<'e> {
    /// A builder writing records through `emit`.
    pub fn new(emit: &'e mut dyn FnMut(CatalogRecord) -> Result<()>) -> PatchBuilder<'e> {
        PatchBuilder {
            block: PatchBlock::default(),
            prev: String::new(),
            emit,
        }
    }

    /// Adds one patch.
    pub fn push(&mut self, p: &ProductPatch) -> Result<()> {
        let shared = self
            .prev
            .bytes()
            .zip(p.id.bytes())
            .take_while(|(a, b)| a == b)
            .count()
            .min(u16::MAX as usize);
        let shared = (0..=shared).rev().find(|&s| p.id.is_char_boundary(s)).unwrap_or(0);
        let b = &mut self.block;
        b.id_shared.push(shared as u16);
        b.ids.push(p.id[shared..].to_string());
        self.prev.clone_from(&p.id);
        let mut fields = 0;
        for (bit, e) in [(CODE, &p.code), (NAME, &p.name), (UNIT, &p.unit)] {
            if let Some(e) = e {
                fields |= bit;
                b.fronts.push(e.front);
                b.backs.push(e.back);
                b.mids.push(e.mid.clone());
            }
        }
        if let Some(f) = p.flags {
            fields |= FLAGS;
            b.flags.push(f as u8);
        }
        b.fields.push(fields);
        if b.ids.len() == super::columns::BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.block.ids.is_empty() {
            let block = std::mem::take(&mut self.block);
            self.prev.clear();
            (self.emit)(CatalogRecord::Patch(Box::new(block)))?;
        }
        Ok(())
    }

    /// Writes the last, partial block.
    pub fn finish(mut self) -> Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edits_keep_what_is_common() {
        let e = Edit::between("Чай 200 г", "Чай 200 г (новая цена)").unwrap();
        assert_eq!((e.front, e.back, e.mid.as_str()), (9, 0, " (новая цена)"));
        let e = Edit::between("Молоко 2,5%", "Молоко 3,2%").unwrap();
        assert_eq!((e.front, e.back, e.mid.as_str()), (7, 1, "3,2"));
        assert_eq!(Edit::between("aaa", "aa").unwrap().apply("aaa").unwrap(), "aa");
        assert!(Edit::between("x", "x").is_none());
        assert!(e.apply("Чай").is_none(), "does not fit a shorter value");
    }

    proptest! {
        #[test]
        fn edits_round_trip(old in "\\PC{0,12}", new in "\\PC{0,12}") {
            match Edit::between(&old, &new) {
                None => prop_assert_eq!(&old, &new),
                Some(e) => prop_assert_eq!(e.apply(&old).unwrap(), new),
            }
        }
    }
}
