-- Catalog database (catalog.db): rebuildable from the accounting system.

-- Products as the accounting system knows them.
CREATE TABLE products (
    pk     INTEGER PRIMARY KEY,            -- local key, used by the other tables
    id     TEXT NOT NULL,                  -- id in the accounting system (1C GUID, SAP number)
    code   TEXT NOT NULL DEFAULT '',       -- article / vendor code
    name   TEXT NOT NULL,                  -- display name (Cyrillic or Latin)
    unit   TEXT NOT NULL DEFAULT '',       -- base unit name: шт, кг, л…
    flags  INTEGER NOT NULL DEFAULT 0      -- bit 0: sold by weight, bit 1: subject to marking
);
CREATE UNIQUE INDEX products_by_id ON products(id);
CREATE INDEX products_by_code ON products(code) WHERE code <> '';

-- Packagings of a product: piece, box of 12, pallet. Ids are unique per product.
CREATE TABLE packagings (
    pk       INTEGER PRIMARY KEY,
    product  INTEGER NOT NULL REFERENCES products(pk),
    id       TEXT NOT NULL,                -- packaging id in the accounting system
    name     TEXT NOT NULL DEFAULT '',
    factor   INTEGER NOT NULL              -- base units per packaging, in thousandths
);
CREATE UNIQUE INDEX packagings_by_product ON packagings(product, id);

-- Barcodes: the hot path of every scan. GTINs (every form) are stored as one
-- INTEGER, other codes as TEXT as scanned; the column has no declared type so
-- neither is converted. packaging NULL means the base unit.
CREATE TABLE barcodes (
    barcode   PRIMARY KEY,
    product   INTEGER NOT NULL,
    packaging INTEGER
) WITHOUT ROWID;
-- A product's barcodes: a delta replaces them, a product card lists them.
CREATE INDEX barcodes_by_product ON barcodes(product);

-- Storage cells (bins) and their labels.
CREATE TABLE cells (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL DEFAULT '',
    barcode  TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX cells_by_barcode ON cells(barcode) WHERE barcode IS NOT NULL;

-- Any other catalog a configuration defines (counterparties, reasons, …).
CREATE TABLE records (
    catalog  TEXT NOT NULL,
    id       TEXT NOT NULL,
    fields   TEXT NOT NULL,                -- JSON object of the record's fields
    PRIMARY KEY (catalog, id)
) WITHOUT ROWID;

-- Full-text index over product names; rowid = products.pk. Contentless: it holds
-- the folded name (lower case, ё → е) that search matches word prefixes against.
-- detail=none: only rowids are needed for AND-of-prefixes queries. Articles are
-- found through products_by_code instead.
CREATE VIRTUAL TABLE product_text USING fts5(
    name,
    content = '', contentless_delete = 1, detail = none,
    tokenize = "unicode61 remove_diacritics 2"
);

-- Catalog-wide facts: version counter, last import.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
