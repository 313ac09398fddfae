-- Machine-suggested labels (suggested_by <> '', such as the compiler's) do not count towards a
-- comparison's labels: the comparison stays in people's queues until enough people labelled it,
-- so a person can accept or change the suggestion. A suggestion a person confirms (suggested_by
-- set to '') counts from then on.
DROP TRIGGER comparisons_label_added;
DROP TRIGGER comparisons_label_removed;

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

UPDATE comparisons SET labels = (SELECT count(*) FROM labels l
    WHERE l.job_id = comparisons.job_id AND l.prompt_id = comparisons.prompt_id AND l.suggested_by = '');
UPDATE comparisons SET open = ready AND labels < (SELECT k FROM overlap_setting);
