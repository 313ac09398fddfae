-- Anonymous visitors of a public server (serve --public). A visitor's browser holds a random token
-- in a cookie; only its sha256 is stored, and only once the visitor changes something (starts a chat
-- or a battle). The visitor's chats and battles belong to a users row of its own that nobody can log
-- in as (its password hash is not bcrypt); user lists and the first-run check leave such rows out.
-- ip is the address the visitor came from when the row was made: the arena's daily cap counts the
-- votes of every visitor of one address, so clearing cookies does not reset it.
CREATE TABLE visitors (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    ip         TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX visitors_ip ON visitors (ip);
