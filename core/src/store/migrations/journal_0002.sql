-- Sync state (cursors and the status the shell shows), by key. Values are JSON
-- scalars written by the sync engine.
CREATE TABLE sync_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
