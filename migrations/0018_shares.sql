-- Read-only share links. Anyone holding a link's token sees one thing read only, without logging in,
-- until the link expires or is revoked. kind names what is shared and target which one:
--   chat         a saved side-by-side chat (target: the chat's id)
--   eval_report  the face-to-face report of /eval (target: its query string, such as run=3&run=4)
--   run          a training run's page (target: the run's id)
--   leaderboard  the arena leaderboard (target: its category, '' for all)
-- title says what the link shows, in words of the moment it was made.
CREATE TABLE shares (
    id             INTEGER PRIMARY KEY,
    token          TEXT NOT NULL UNIQUE CHECK (length(token) >= 22),
    kind           TEXT NOT NULL CHECK (kind IN ('chat', 'eval_report', 'run', 'leaderboard')),
    target         TEXT NOT NULL,
    title          TEXT NOT NULL DEFAULT '',
    created_by     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT,                 -- NULL: never
    revoked_at     TEXT,                 -- NULL: not revoked
    revoked_by     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    views          INTEGER NOT NULL DEFAULT 0,
    last_viewed_at TEXT
);
CREATE INDEX shares_creator ON shares (created_by, id);
CREATE INDEX shares_target ON shares (kind, target, id);

-- Chats shared before this migration keep their links (/share/chat/{token}), now listed and revocable.
-- chats.share_token stays as the chat's current link, which the chat page shows.
INSERT INTO shares (token, kind, target, title, created_by, created_at)
SELECT share_token, 'chat', CAST(id AS TEXT), title, user_id, created_at
FROM chats WHERE share_token IS NOT NULL ORDER BY id;
