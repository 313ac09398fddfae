-- Retrieval: the FTS5 index stems English words with the porter tokenizer (over the same
-- unicode61 tokenizer, '_' and ':' still inside tokens), so "moved" finds "move" and "structs"
-- finds "struct"; the index is rebuilt from rag_chunks and merged into one segment.
-- rag_vector_generation counts every change to rag_vectors, so a search that keeps the vectors in
-- memory knows with one read whether they are still current.
DROP TRIGGER rag_chunks_ai;
DROP TRIGGER rag_chunks_ad;
DROP TABLE rag_fts;

CREATE VIRTUAL TABLE rag_fts USING fts5 (
    title, text, terms,
    content = 'rag_chunks', content_rowid = 'id',
    tokenize = "porter unicode61 remove_diacritics 2 tokenchars '_:'"
);
CREATE TRIGGER rag_chunks_ai AFTER INSERT ON rag_chunks BEGIN
    INSERT INTO rag_fts (rowid, title, text, terms) VALUES (new.id, new.title, new.text, new.terms);
END;
CREATE TRIGGER rag_chunks_ad AFTER DELETE ON rag_chunks BEGIN
    INSERT INTO rag_fts (rag_fts, rowid, title, text, terms) VALUES ('delete', old.id, old.title, old.text, old.terms);
END;
INSERT INTO rag_fts (rag_fts) VALUES ('rebuild');
INSERT INTO rag_fts (rag_fts) VALUES ('optimize');

CREATE TABLE rag_vector_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO rag_vector_generation (id, generation) VALUES (1, 0);
CREATE TRIGGER rag_vectors_ai AFTER INSERT ON rag_vectors BEGIN
    UPDATE rag_vector_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER rag_vectors_au AFTER UPDATE ON rag_vectors BEGIN
    UPDATE rag_vector_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER rag_vectors_ad AFTER DELETE ON rag_vectors BEGIN
    UPDATE rag_vector_generation SET generation = generation + 1 WHERE id = 1;
END;
