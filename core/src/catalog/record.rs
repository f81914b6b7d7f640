//! The catalog's rows and the record enum that is the catalog packages' wire format
//! (postcard-encoded, docs/protocol.md "Records"): what the parsers produce, what
//! packages carry, and what the import and the package writer consume. Kept apart
//! from the parsers so the format is one small file: append variants, never
//! reorder.

use super::rows::Validator;
use super::BarcodeKey;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A product as a file or package gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProductRow {
    /// Id in the accounting system.
    pub id: String,
    /// Article.
    pub code: String,
    /// Name.
    pub name: String,
    /// Base unit.
    pub unit: String,
    /// `FLAG_WEIGHTED` | `FLAG_MARKED`.
    pub flags: i64,
}

/// What a delta removes. Removing a product removes its packagings and barcodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Deletion {
    /// A product, by id.
    Product(String),
    /// A cell, by id.
    Cell(String),
    /// A record of a generic catalog.
    Record {
        /// Catalog name.
        catalog: String,
        /// Record id.
        id: String,
    },
}

/// One validated, normalised catalog row, borrowed from the parser.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// Something a delta removes.
    Delete(&'a Deletion),
    /// A product whose packagings and barcodes stay as the catalog has them (a
    /// delta that changed only the product's own fields).
    ProductOnly(&'a ProductRow),
    /// A product (each product once per group of rows).
    Product(&'a ProductRow),
    /// Edits of a product's own fields against what the catalog has (deltas).
    ProductPatch(&'a super::patch::ProductPatch),
    /// A packaging of `product` (the product came before it).
    Packaging {
        /// Product id.
        product: &'a str,
        /// Packaging id.
        id: &'a str,
        /// Name.
        name: &'a str,
        /// Base units per packaging, thousandths.
        factor: i64,
    },
    /// A barcode of `product` (and `packaging`), already normalised.
    Barcode {
        /// Lookup key.
        key: &'a BarcodeKey,
        /// Product id.
        product: &'a str,
        /// Packaging id, `None` for the base unit.
        packaging: Option<&'a str>,
    },
    /// A storage cell.
    Cell {
        /// Cell id.
        id: &'a str,
        /// Name.
        name: &'a str,
        /// Label, if any.
        barcode: Option<&'a str>,
    },
    /// A record of a generic catalog.
    Record {
        /// Catalog name.
        catalog: &'a str,
        /// Record id.
        id: &'a str,
        /// Fields as a JSON object.
        fields: &'a str,
    },
}

/// A catalog row as a package carries it (owned; postcard-encoded). The variant
/// order is part of the package format: append, never reorder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CatalogRecord {
    /// A product.
    Product(ProductRow),
    /// A packaging of a product.
    Packaging {
        /// Product id.
        product: String,
        /// Packaging id.
        id: String,
        /// Name.
        name: String,
        /// Base units per packaging, thousandths.
        factor: i64,
    },
    /// A barcode of a product (and packaging).
    Barcode {
        /// The lookup key: a GTIN as its number, any other code as text.
        key: BarcodeKey,
        /// Product id.
        product: String,
        /// Packaging id.
        packaging: Option<String>,
    },
    /// A storage cell.
    Cell {
        /// Cell id.
        id: String,
        /// Name.
        name: String,
        /// Label.
        barcode: Option<String>,
    },
    /// A record of a generic catalog.
    Record {
        /// Catalog name.
        catalog: String,
        /// Record id.
        id: String,
        /// Fields as a JSON object.
        fields: String,
    },
    /// Up to 4096 products with their packagings and barcodes, column by column
    /// (what snapshots carry; the single-row variants above stay for small packages).
    Block(Box<super::columns::ProductBlock>),
    /// Something a delta removes.
    Delete(Deletion),
    /// A product whose packagings and barcodes stay as they are (deltas).
    ProductOnly(ProductRow),
    /// Up to 4096 product patches, column by column (deltas).
    Patch(Box<super::patch::PatchBlock>),
    /// One product patch.
    ProductPatch(super::patch::ProductPatch),
}

impl CatalogRecord {
    /// The owned form of a row.
    pub fn from_row(row: Row<'_>) -> CatalogRecord {
        match row {
            Row::Product(p) => CatalogRecord::Product(p.clone()),
            Row::Packaging { product, id, name, factor } => CatalogRecord::Packaging {
                product: product.into(),
                id: id.into(),
                name: name.into(),
                factor,
            },
            Row::Barcode { key, product, packaging } => CatalogRecord::Barcode {
                key: key.clone(),
                product: product.into(),
                packaging: packaging.map(Into::into),
            },
            Row::Cell { id, name, barcode } => CatalogRecord::Cell {
                id: id.into(),
                name: name.into(),
                barcode: barcode.map(Into::into),
            },
            Row::Delete(d) => CatalogRecord::Delete(d.clone()),
            Row::ProductOnly(p) => CatalogRecord::ProductOnly(p.clone()),
            Row::ProductPatch(p) => CatalogRecord::ProductPatch(p.clone()),
            Row::Record { catalog, id, fields } => CatalogRecord::Record {
                catalog: catalog.into(),
                id: id.into(),
                fields: fields.into(),
            },
        }
    }

    /// The row this record is, for the single-row variants (`None` for a block).
    pub fn as_row(&self) -> Option<Row<'_>> {
        Some(match self {
            CatalogRecord::Product(p) => Row::Product(p),
            CatalogRecord::ProductOnly(p) => Row::ProductOnly(p),
            CatalogRecord::Packaging { product, id, name, factor } => Row::Packaging {
                product,
                id,
                name,
                factor: *factor,
            },
            CatalogRecord::Barcode { key, product, packaging } => Row::Barcode {
                key,
                product,
                packaging: packaging.as_deref(),
            },
            CatalogRecord::Cell { id, name, barcode } => Row::Cell {
                id,
                name,
                barcode: barcode.as_deref(),
            },
            CatalogRecord::Record { catalog, id, fields } => Row::Record { catalog, id, fields },
            CatalogRecord::Delete(d) => Row::Delete(d),
            CatalogRecord::ProductPatch(p) => Row::ProductPatch(p),
            CatalogRecord::Block(_) | CatalogRecord::Patch(_) => return None,
        })
    }

    /// Feeds the record through the same checks a file's rows get.
    pub fn validate_into(self, v: &mut Validator<'_>, line: u64) -> Result<()> {
        match self {
            CatalogRecord::Product(p) => v.product(p, line),
            CatalogRecord::Packaging { product, id, name, factor } => v.packaging_milli(&product, &id, &name, factor, line),
            CatalogRecord::Barcode { key, product, packaging } => v.barcode(&key.to_string(), &product, packaging.as_deref(), line),
            CatalogRecord::Cell { id, name, barcode } => v.cell(&id, &name, barcode.as_deref(), line),
            CatalogRecord::Record { catalog, id, fields } => v.record_json(&catalog, &id, &fields, line),
            CatalogRecord::Block(block) => block.validate_into(v, line),
            CatalogRecord::Delete(d) => v.delete(&d, line),
            CatalogRecord::ProductOnly(p) => v.product_only(p, line),
            CatalogRecord::Patch(block) => block.validate_into(v, line),
            CatalogRecord::ProductPatch(p) => v.product_patch(p, line),
        }
    }
}
