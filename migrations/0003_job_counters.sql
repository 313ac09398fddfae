-- Answers and tokens written per job, kept by a trigger, so a job's progress is read from its row
-- instead of counting its answers after every answer (which grows with the job's size).
ALTER TABLE generation_jobs ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generation_jobs ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER generation_jobs_answer_added AFTER INSERT ON responses WHEN new.job_id IS NOT NULL BEGIN
    UPDATE generation_jobs SET done = done + 1, tokens = tokens + new.tokens WHERE id = new.job_id;
END;

CREATE TRIGGER generation_jobs_answer_removed AFTER DELETE ON responses WHEN old.job_id IS NOT NULL BEGIN
    UPDATE generation_jobs SET done = done - 1, tokens = tokens - old.tokens WHERE id = old.job_id;
END;

UPDATE generation_jobs SET
    done = (SELECT count(*) FROM responses r WHERE r.job_id = generation_jobs.id),
    tokens = (SELECT coalesce(sum(r.tokens), 0) FROM responses r WHERE r.job_id = generation_jobs.id);
