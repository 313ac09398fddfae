-- Retrieval: documentation pages (one row per source file, found again by its content hash),
-- their chunks, and an FTS5 index over each chunk's title, text and terms (Rust paths and
-- identifiers split into parts). The tokenizer keeps '_' and ':' inside tokens, so Vec::retain
-- and snake_case are single tokens too. Dense vectors will be a table of their own keyed by chunk.
CREATE TABLE rag_documents (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    path        TEXT NOT NULL,
    url         TEXT NOT NULL,
    title       TEXT NOT NULL,
    licence     TEXT NOT NULL DEFAULT '',
    sha256      TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    UNIQUE (source, path)
);

CREATE TABLE rag_chunks (
    id       INTEGER PRIMARY KEY,
    document INTEGER NOT NULL REFERENCES rag_documents (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    title    TEXT NOT NULL,
    anchor   TEXT NOT NULL DEFAULT '',
    text     TEXT NOT NULL,
    terms    TEXT NOT NULL DEFAULT '',
    tokens   INTEGER NOT NULL,
    UNIQUE (document, seq)
);

CREATE VIRTUAL TABLE rag_fts USING fts5 (
    title, text, terms,
    content = 'rag_chunks', content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2 tokenchars '_:'"
);
CREATE TRIGGER rag_chunks_ai AFTER INSERT ON rag_chunks BEGIN
    INSERT INTO rag_fts (rowid, title, text, terms) VALUES (new.id, new.title, new.text, new.terms);
END;
CREATE TRIGGER rag_chunks_ad AFTER DELETE ON rag_chunks BEGIN
    INSERT INTO rag_fts (rag_fts, rowid, title, text, terms) VALUES ('delete', old.id, old.title, old.text, old.terms);
END;
