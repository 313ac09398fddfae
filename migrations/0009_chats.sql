-- Side-by-side chats: one question goes to up to three columns, each column its own conversation
-- with its own model. A chat with a share token is readable by anyone holding the link.
CREATE TABLE chats (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    share_token TEXT UNIQUE,
    created_at  TEXT NOT NULL
);
CREATE INDEX chats_user ON chats (user_id, id);

-- One message of one column. seq orders the chat's turns (it grows across columns); a column's
-- conversation is its turns in seq order. finish_reason and tokens belong to assistant turns
-- ('stopped' when the reader stopped the answer).
CREATE TABLE chat_turns (
    chat_id       INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    "column"      INTEGER NOT NULL CHECK ("column" BETWEEN 0 AND 2),
    model_id      INTEGER REFERENCES models (id) ON DELETE SET NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content       TEXT NOT NULL,
    finish_reason TEXT NOT NULL DEFAULT '',
    tokens        INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (chat_id, seq)
);
CREATE INDEX chat_turns_column ON chat_turns (chat_id, "column", seq);
