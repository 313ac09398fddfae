-- The last ingest of each documentation source, so the Docs sources page shows it after a restart:
-- the folder read, who started it, when, the counts of rag.Report, the skipped files (skips: JSON
-- [{"path", "reason"}], the first 1000; skipped counts them all) and, for an ingest that stopped,
-- its error.
CREATE TABLE rag_ingests (
    source      TEXT PRIMARY KEY,
    folder      TEXT NOT NULL,
    started_by  TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    files       INTEGER NOT NULL DEFAULT 0,
    new         INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    removed     INTEGER NOT NULL DEFAULT 0,
    chunks      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    skips       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(skips)),
    error       TEXT NOT NULL DEFAULT ''
);
