-- The Rust compiler's verdict on each answer: found by a query (answers without a row here), so a
-- restarted app goes on checking where it stopped.
CREATE TABLE checks (
    response_id INTEGER PRIMARY KEY REFERENCES responses (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL DEFAULT '',
    has_code    INTEGER NOT NULL,
    compiles    INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    warnings    INTEGER NOT NULL DEFAULT 0,
    lints       INTEGER NOT NULL DEFAULT -1,
    first_error TEXT NOT NULL DEFAULT '',
    timed_out   INTEGER NOT NULL DEFAULT 0,
    checked_at  TEXT NOT NULL
);
