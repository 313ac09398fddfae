-- Comparisons: the answers one job wrote to one prompt, with answer and label counts kept by
-- triggers, so the labelling queue is an index seek instead of a scan over every answer and label.
-- ready: the job wrote all its answers (at least two) to the prompt.
-- open:  ready, and fewer labels than the overlap setting (labels each comparison needs).
CREATE TABLE comparisons (
    job_id    INTEGER NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    prompt_id INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    answers   INTEGER NOT NULL DEFAULT 0,
    labels    INTEGER NOT NULL DEFAULT 0,
    ready     INTEGER NOT NULL DEFAULT 0,
    open      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, prompt_id)
) WITHOUT ROWID;
CREATE INDEX comparisons_open ON comparisons (open, job_id, prompt_id);

-- The overlap setting as the triggers read it: at least 1, default 1 (as store.Overlap does).
CREATE VIEW overlap_setting AS
    SELECT max(1, coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'overlap'), 1)) AS k;

CREATE TRIGGER comparisons_answer_added AFTER INSERT ON responses WHEN new.job_id IS NOT NULL BEGIN
    INSERT INTO comparisons (job_id, prompt_id, answers) VALUES (new.job_id, new.prompt_id, 1)
        ON CONFLICT (job_id, prompt_id) DO UPDATE SET answers = answers + 1;
    UPDATE comparisons SET
        ready = (answers >= 2 AND answers >= (SELECT n FROM generation_jobs WHERE id = new.job_id)),
        open = (answers >= 2 AND answers >= (SELECT n FROM generation_jobs WHERE id = new.job_id)
            AND labels < (SELECT k FROM overlap_setting))
        WHERE job_id = new.job_id AND prompt_id = new.prompt_id;
END;

CREATE TRIGGER comparisons_answer_removed AFTER DELETE ON responses WHEN old.job_id IS NOT NULL BEGIN
    UPDATE comparisons SET answers = answers - 1, ready = 0, open = 0
        WHERE job_id = old.job_id AND prompt_id = old.prompt_id;
END;

CREATE TRIGGER comparisons_label_added AFTER INSERT ON labels BEGIN
    UPDATE comparisons SET labels = labels + 1, open = ready AND labels + 1 < (SELECT k FROM overlap_setting)
        WHERE job_id = new.job_id AND prompt_id = new.prompt_id;
END;

CREATE TRIGGER comparisons_label_removed AFTER DELETE ON labels BEGIN
    UPDATE comparisons SET labels = labels - 1, open = ready AND labels - 1 < (SELECT k FROM overlap_setting)
        WHERE job_id = old.job_id AND prompt_id = old.prompt_id;
END;

CREATE TRIGGER comparisons_overlap_set AFTER INSERT ON settings WHEN new.key = 'overlap' BEGIN
    UPDATE comparisons SET open = ready AND labels < (SELECT k FROM overlap_setting);
END;

CREATE TRIGGER comparisons_overlap_changed AFTER UPDATE ON settings WHEN new.key = 'overlap' BEGIN
    UPDATE comparisons SET open = ready AND labels < (SELECT k FROM overlap_setting);
END;

-- Existing answers and labels.
INSERT INTO comparisons (job_id, prompt_id, answers, labels)
    SELECT r.job_id, r.prompt_id, count(*),
        (SELECT count(*) FROM labels l WHERE l.job_id = r.job_id AND l.prompt_id = r.prompt_id)
    FROM responses r WHERE r.job_id IS NOT NULL GROUP BY r.job_id, r.prompt_id;
UPDATE comparisons SET ready = (answers >= 2 AND answers >= (SELECT n FROM generation_jobs j WHERE j.id = comparisons.job_id));
UPDATE comparisons SET open = ready AND labels < (SELECT k FROM overlap_setting);
