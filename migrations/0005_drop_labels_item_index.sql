-- Every lookup of a comparison's labels gives both job and prompt, which the UNIQUE
-- (prompt_id, job_id, annotator_id) index serves; one index less to update per label.
DROP INDEX labels_item;
