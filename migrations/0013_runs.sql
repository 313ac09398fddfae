-- Training runs: one row per fine-tuning run (durable first, the worker process second), and the
-- metrics its worker reported, one row per (run, metric name, step).
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('sft', 'dpo')),
    name            TEXT NOT NULL DEFAULT '', -- name asked for the model the run produces ('' = v1 / v2)
    parent_model_id INTEGER REFERENCES models (id) ON DELETE SET NULL,
    dataset_id      INTEGER REFERENCES datasets (id) ON DELETE SET NULL,
    config_json     TEXT NOT NULL,            -- the run.json the worker gets
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled', 'interrupted')),
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    output_dir      TEXT NOT NULL DEFAULT '',
    checkpoint      TEXT NOT NULL DEFAULT '', -- last checkpoint the worker reported
    step            INTEGER NOT NULL DEFAULT 0,
    max_steps       INTEGER NOT NULL DEFAULT 0,
    metrics_json    TEXT NOT NULL DEFAULT '', -- final metrics of the done event
    error           TEXT NOT NULL DEFAULT '',
    device          TEXT NOT NULL DEFAULT '', -- from the worker's start event
    output_model_id INTEGER REFERENCES models (id) ON DELETE SET NULL
);
CREATE INDEX runs_status ON runs (status, id);

CREATE TABLE run_metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    step   INTEGER NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (run_id, name, step)
) WITHOUT ROWID;
