-- Benchmark runs of models (`rustexpert eval`). A run is one model (a registered name, "NAME+rag", or
-- "completions:FILE" for answers scored without a model) on one bench (MultiPL-E file or Exercism
-- folder) with n samples per problem; settings holds the sampling and limits as JSON; summary the
-- figures (pass@k, compile rate, lints per answer, statuses, per category) as JSON once finished.
CREATE TABLE eval_runs (
    id          INTEGER PRIMARY KEY,
    model       TEXT NOT NULL CHECK (model <> ''),
    bench       TEXT NOT NULL CHECK (bench <> ''),
    format      TEXT NOT NULL CHECK (format IN ('multipl-e', 'exercism')),
    n           INTEGER NOT NULL CHECK (n >= 1),
    settings    TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    error       TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT '{}',
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX eval_runs_model ON eval_runs (model, bench, started_at);

-- One scored answer: the problem, the sample's index, the harness's status and the completion text.
CREATE TABLE eval_results (
    run_id     INTEGER NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
    problem    TEXT NOT NULL,
    sample     INTEGER NOT NULL CHECK (sample >= 0),
    category   TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL CHECK (status IN ('ok', 'no_code', 'compile_error', 'test_failed', 'timeout',
                                               'memory_limit', 'output_limit', 'crashed')),
    compiled   INTEGER NOT NULL CHECK (compiled IN (0, 1)),
    passed     INTEGER NOT NULL CHECK (passed IN (0, 1)),
    lints      INTEGER NOT NULL DEFAULT -1,
    seconds    REAL NOT NULL DEFAULT 0,
    detail     TEXT NOT NULL DEFAULT '',
    completion TEXT NOT NULL,
    PRIMARY KEY (run_id, problem, sample)
) WITHOUT ROWID;
