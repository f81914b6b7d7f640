-- Print jobs (printing through the server): written before the call returns,
-- uploaded with the next sync, their status updated from the server's answers.
CREATE TABLE print_jobs (
    id          TEXT PRIMARY KEY,        -- made on the terminal (UUID)
    job         TEXT NOT NULL,           -- the job as sent (JSON)
    created_at  INTEGER NOT NULL,        -- unix ms
    uploaded    INTEGER NOT NULL DEFAULT 0, -- 1 once the server has it
    status      TEXT NOT NULL DEFAULT 'waiting', -- waiting, queued, printing, sent, failed
    message     TEXT,                    -- the server's reason, if any
    updated_at  INTEGER NOT NULL
);  -- a rowid table: rowid is the order the jobs were made in
CREATE INDEX print_jobs_waiting ON print_jobs (uploaded) WHERE uploaded = 0;
