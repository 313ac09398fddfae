-- The Rust compiler's verdict on chat answers and on arena answers (job answers keep theirs in
-- checks), with the same fields. A chat answer is checked when its page first asks for the badge;
-- the row goes with the turn (a regenerated answer is a new turn and gets a new check). An arena
-- answer is checked only after the battle's vote.
CREATE TABLE chat_checks (
    chat_id     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    code_hash   TEXT NOT NULL DEFAULT '',
    has_code    INTEGER NOT NULL,
    compiles    INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    warnings    INTEGER NOT NULL DEFAULT 0,
    lints       INTEGER NOT NULL DEFAULT -1,
    first_error TEXT NOT NULL DEFAULT '',
    timed_out   INTEGER NOT NULL DEFAULT 0,
    checked_at  TEXT NOT NULL,
    PRIMARY KEY (chat_id, seq),
    FOREIGN KEY (chat_id, seq) REFERENCES chat_turns (chat_id, seq) ON DELETE CASCADE
);
CREATE INDEX chat_checks_code ON chat_checks (code_hash);

-- side: 0 is answer A, 1 is answer B.
CREATE TABLE arena_checks (
    battle_id   INTEGER NOT NULL REFERENCES arena_battles (id) ON DELETE CASCADE,
    side        INTEGER NOT NULL CHECK (side IN (0, 1)),
    code_hash   TEXT NOT NULL DEFAULT '',
    has_code    INTEGER NOT NULL,
    compiles    INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    warnings    INTEGER NOT NULL DEFAULT 0,
    lints       INTEGER NOT NULL DEFAULT -1,
    first_error TEXT NOT NULL DEFAULT '',
    timed_out   INTEGER NOT NULL DEFAULT 0,
    checked_at  TEXT NOT NULL,
    PRIMARY KEY (battle_id, side)
);
CREATE INDEX arena_checks_code ON arena_checks (code_hash);

-- A verdict found for the same code (same hash) is reused instead of compiling again.
CREATE INDEX checks_code ON checks (code_hash);

-- The sampling settings an answer was written with (assistant turns; NULL for questions and for
-- answers stored before this migration).
ALTER TABLE chat_turns ADD COLUMN temperature REAL;
ALTER TABLE chat_turns ADD COLUMN top_p REAL;
ALTER TABLE chat_turns ADD COLUMN max_tokens INTEGER;
