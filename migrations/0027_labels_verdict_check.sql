-- The labels table again, with its verdict rule written as comparisons instead of IN (...): SQLite
-- builds the lookup table of an IN list anew for every row a CHECK constraint checks, which was a
-- tenth of the cost of storing a label. The same rule and the same rows, indexes and triggers; the
-- table is rebuilt because SQLite cannot change a constraint in place. No other table refers to
-- labels, and dropping a table fires none of its triggers.
CREATE TABLE labels_new (
    id           INTEGER PRIMARY KEY,
    prompt_id    INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    job_id       INTEGER NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    annotator_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    verdict      TEXT NOT NULL CHECK (verdict = 'pair' OR verdict = 'tie' OR verdict = 'both_bad' OR verdict = 'skip'),
    chosen_id    INTEGER REFERENCES responses (id) ON DELETE CASCADE,
    rejected_id  INTEGER REFERENCES responses (id) ON DELETE CASCADE,
    ranking_json TEXT NOT NULL DEFAULT '[]',
    rationale    TEXT NOT NULL DEFAULT '',
    suggested_by TEXT NOT NULL DEFAULT '',
    ms_spent     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (prompt_id, job_id, annotator_id),
    CHECK ((verdict = 'pair') = (chosen_id IS NOT NULL AND rejected_id IS NOT NULL)),
    CHECK (chosen_id IS NULL OR chosen_id <> rejected_id)
);
INSERT INTO labels_new (id, prompt_id, job_id, annotator_id, verdict, chosen_id, rejected_id, ranking_json, rationale,
        suggested_by, ms_spent, created_at, updated_at)
    SELECT id, prompt_id, job_id, annotator_id, verdict, chosen_id, rejected_id, ranking_json, rationale,
        suggested_by, ms_spent, created_at, updated_at FROM labels;
DROP TABLE labels;
ALTER TABLE labels_new RENAME TO labels;
CREATE INDEX labels_annotator ON labels (annotator_id, created_at);

CREATE TRIGGER comparisons_label_added AFTER INSERT ON labels WHEN new.suggested_by = '' BEGIN
    UPDATE comparisons SET labels = labels + 1, open = ready AND labels + 1 < (SELECT k FROM overlap_setting)
        WHERE job_id = new.job_id AND prompt_id = new.prompt_id;
END;

CREATE TRIGGER comparisons_label_removed AFTER DELETE ON labels WHEN old.suggested_by = '' BEGIN
    UPDATE comparisons SET labels = labels - 1, open = ready AND labels - 1 < (SELECT k FROM overlap_setting)
        WHERE job_id = old.job_id AND prompt_id = old.prompt_id;
END;

CREATE TRIGGER comparisons_label_confirmed AFTER UPDATE OF suggested_by ON labels
    WHEN old.suggested_by <> '' AND new.suggested_by = '' BEGIN
    UPDATE comparisons SET labels = labels + 1, open = ready AND labels + 1 < (SELECT k FROM overlap_setting)
        WHERE job_id = new.job_id AND prompt_id = new.prompt_id;
END;

CREATE TRIGGER comparisons_label_unconfirmed AFTER UPDATE OF suggested_by ON labels
    WHEN old.suggested_by = '' AND new.suggested_by <> '' BEGIN
    UPDATE comparisons SET labels = labels - 1, open = ready AND labels - 1 < (SELECT k FROM overlap_setting)
        WHERE job_id = new.job_id AND prompt_id = new.prompt_id;
END;
