-- Journal database (journal.db): precious, never rebuilt or deleted.

-- Configuration received from the accounting system (JSON), by key.
CREATE TABLE config (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

-- Documents: tasks from the accounting system and documents made on the terminal.
CREATE TABLE documents (
    id            TEXT PRIMARY KEY,        -- task id from the accounting system, or a UUID
    type          TEXT NOT NULL,           -- document type id (receiving, picking…)
    number        TEXT NOT NULL,           -- number shown to the operator
    origin        TEXT NOT NULL CHECK (origin IN ('task', 'free')),
    status        TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    created_at    INTEGER NOT NULL,        -- unix milliseconds
    completed_at  INTEGER
) WITHOUT ROWID;

-- Planned lines of task documents.
CREATE TABLE plan_lines (
    doc        TEXT NOT NULL REFERENCES documents(id),
    line       INTEGER NOT NULL,           -- 1-based line number
    product    TEXT NOT NULL,              -- product id (accounting system)
    packaging  TEXT,                       -- packaging id, NULL for base unit
    qty        INTEGER NOT NULL,           -- planned quantity in base units, thousandths
    cell       TEXT,                       -- cell id, if the task names one
    PRIMARY KEY (doc, line)
) WITHOUT ROWID;
CREATE INDEX plan_by_product ON plan_lines(doc, product);

-- The scan journal: append-only; every scan, refusal, undo, correction, cell
-- change and completion is one entry. Actual quantities are sums over it.
CREATE TABLE journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- global order, never reused
    doc        TEXT NOT NULL REFERENCES documents(id),
    at         INTEGER NOT NULL,           -- unix milliseconds
    kind       TEXT NOT NULL CHECK (kind IN ('scan', 'refused', 'undo', 'correct', 'cell', 'complete')),
    raw        TEXT,                       -- the scanner string as received
    product    TEXT,                       -- product id, NULL when not in the catalog
    packaging  TEXT,                       -- packaging id, NULL for base unit
    qty        INTEGER NOT NULL DEFAULT 0, -- base units, thousandths (delta for 'correct')
    cell       TEXT,                       -- cell in force for this entry
    mark       TEXT,                       -- marking identity (GTIN + serial)
    attrs      TEXT,                       -- JSON: batch, expiry, serial, weight, full marking code
    target     INTEGER,                    -- for 'undo': the seq undone
    violation  TEXT                        -- for 'refused': the rule that refused it
);
CREATE INDEX journal_by_doc ON journal(doc, seq);
CREATE INDEX journal_by_mark ON journal(doc, mark) WHERE mark IS NOT NULL;
CREATE INDEX journal_by_product ON journal(doc, product) WHERE product IS NOT NULL;
CREATE INDEX journal_undone ON journal(doc, target) WHERE kind = 'undo';

CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the scan journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the scan journal is append-only'); END;

-- Completed documents waiting to be sent (consumed by sync).
CREATE TABLE outbox (
    doc        TEXT PRIMARY KEY REFERENCES documents(id),
    queued_at  INTEGER NOT NULL
) WITHOUT ROWID;
