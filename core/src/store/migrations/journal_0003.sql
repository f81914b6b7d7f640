-- Online lookups (HYDB): server answers kept on the terminal for their time to
-- live. A cache, not data: rows may be deleted at any time.
CREATE TABLE hydb_cache (
    key        TEXT PRIMARY KEY,   -- 'p:' + barcode key, or 'c:' + cell label
    answer     TEXT NOT NULL,      -- JSON: the product hit or the cell
    product    TEXT,               -- the product id, to name document lines
    expires_at INTEGER NOT NULL    -- unix milliseconds
) WITHOUT ROWID;
CREATE INDEX hydb_cache_expiry ON hydb_cache (expires_at);
CREATE INDEX hydb_cache_product ON hydb_cache (product) WHERE product IS NOT NULL;
