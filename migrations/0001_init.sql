-- Users, sessions and settings.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'annotator', 'viewer')),
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The prompt spreadsheet. norm is the normalized text used to refuse duplicates.
CREATE TABLE prompts (
    id         INTEGER PRIMARY KEY,
    text       TEXT NOT NULL CHECK (text <> ''),
    norm       TEXT NOT NULL UNIQUE,
    category   TEXT NOT NULL DEFAULT '',
    tags       TEXT NOT NULL DEFAULT '',
    split      TEXT NOT NULL DEFAULT 'train' CHECK (split IN ('train', 'heldout')),
    source     TEXT NOT NULL DEFAULT '',
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX prompts_category ON prompts (category, id);
CREATE INDEX prompts_split ON prompts (split, id);

CREATE VIRTUAL TABLE prompts_fts USING fts5 (
    text, category, tags,
    content = 'prompts', content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2 tokenchars '_'"
);
-- While fts_bulk has a row (only inside an import's transaction) inserts skip the per-row
-- index trigger; the import then indexes all its rows with one statement, which is far faster.
CREATE TABLE fts_bulk (active INTEGER NOT NULL);
CREATE TRIGGER prompts_ai AFTER INSERT ON prompts WHEN NOT EXISTS (SELECT 1 FROM fts_bulk) BEGIN
    INSERT INTO prompts_fts (rowid, text, category, tags) VALUES (new.id, new.text, new.category, new.tags);
END;
CREATE TRIGGER prompts_ad AFTER DELETE ON prompts BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, text, category, tags) VALUES ('delete', old.id, old.text, old.category, old.tags);
END;
CREATE TRIGGER prompts_au AFTER UPDATE OF text, category, tags ON prompts BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, text, category, tags) VALUES ('delete', old.id, old.text, old.category, old.tags);
    INSERT INTO prompts_fts (rowid, text, category, tags) VALUES (new.id, new.text, new.category, new.tags);
END;

-- Models reachable for generation.
CREATE TABLE models (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    provider      TEXT NOT NULL CHECK (provider IN ('openai', 'builtin')),
    endpoint      TEXT NOT NULL DEFAULT '',
    served_name   TEXT NOT NULL DEFAULT '',
    api_key_env   TEXT NOT NULL DEFAULT '',
    base          TEXT NOT NULL DEFAULT '',
    adapter       TEXT NOT NULL DEFAULT '',
    chat_template TEXT NOT NULL DEFAULT '',
    parent_id     INTEGER REFERENCES models (id) ON DELETE SET NULL,
    notes         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);

-- Generation jobs: durable rows first, workers second.
CREATE TABLE generation_jobs (
    id          INTEGER PRIMARY KEY,
    model_id    INTEGER NOT NULL REFERENCES models (id),
    filter_json TEXT NOT NULL,
    params_json TEXT NOT NULL,
    n           INTEGER NOT NULL CHECK (n BETWEEN 1 AND 4),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    total       INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX generation_jobs_status ON generation_jobs (status, id);

-- The prompts a job answers, fixed when the job is created.
CREATE TABLE job_prompts (
    job_id    INTEGER NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    prompt_id INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, prompt_id)
) WITHOUT ROWID;

CREATE TABLE responses (
    id            INTEGER PRIMARY KEY,
    prompt_id     INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    model_id      INTEGER NOT NULL REFERENCES models (id),
    job_id        INTEGER REFERENCES generation_jobs (id) ON DELETE CASCADE,
    slot          INTEGER NOT NULL,
    params_json   TEXT NOT NULL,
    text          TEXT NOT NULL,
    tokens        INTEGER NOT NULL DEFAULT 0,
    latency_ms    INTEGER NOT NULL DEFAULT 0,
    finish_reason TEXT NOT NULL DEFAULT '',
    rag_json      TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    UNIQUE (job_id, prompt_id, slot)
);
CREATE INDEX responses_prompt ON responses (prompt_id);

-- Labels: one per annotator per comparison (a prompt's answers from one job).
CREATE TABLE labels (
    id           INTEGER PRIMARY KEY,
    prompt_id    INTEGER NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    job_id       INTEGER NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    annotator_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    verdict      TEXT NOT NULL CHECK (verdict IN ('pair', 'tie', 'both_bad', 'skip')),
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
CREATE INDEX labels_item ON labels (job_id, prompt_id);
CREATE INDEX labels_annotator ON labels (annotator_id, created_at);

-- Immutable dataset snapshots that training runs point to.
CREATE TABLE datasets (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('dpo', 'sft')),
    options_json TEXT NOT NULL,
    stats_json   TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    rows         INTEGER NOT NULL,
    path         TEXT NOT NULL,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   TEXT NOT NULL
);
