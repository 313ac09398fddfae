-- The blind arena: one battle is a question (typed by the voter or a sampled held-out prompt)
-- answered by two models drawn from the registry ("NAME+rag" for a retrieval variant). The names
-- are kept as text so that a battle outlives its models. answer_a/answer_b stay NULL until that
-- side has finished (finish 'failed' when the model failed). The voter is the user who started
-- the battle and votes once; dropped holds the reason a voted battle does not count (an answer
-- names a model), '' when it counts.
CREATE TABLE arena_battles (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question   TEXT NOT NULL CHECK (question <> ''),
    prompt_id  INTEGER REFERENCES prompts (id) ON DELETE SET NULL,
    category   TEXT NOT NULL DEFAULT 'open',
    model_a    TEXT NOT NULL CHECK (model_a <> ''),
    model_b    TEXT NOT NULL CHECK (model_b <> '' AND model_b <> model_a),
    answer_a   TEXT,
    answer_b   TEXT,
    finish_a   TEXT NOT NULL DEFAULT '',
    finish_b   TEXT NOT NULL DEFAULT '',
    tokens_a   INTEGER NOT NULL DEFAULT 0,
    tokens_b   INTEGER NOT NULL DEFAULT 0,
    vote       TEXT CHECK (vote IN ('a', 'b', 'tie', 'both_bad')),
    voted_at   TEXT,
    dropped    TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
-- The daily cap counts a voter's votes since midnight (UTC).
CREATE INDEX arena_battles_voter ON arena_battles (user_id, voted_at) WHERE vote IS NOT NULL;
-- The leaderboard reads the counted votes in order, all or of one category.
CREATE INDEX arena_battles_counted ON arena_battles (category, voted_at) WHERE vote IS NOT NULL AND dropped = '';
