-- rag_chunk_generation counts every change to rag_chunks (a trigger per chunk inserted, updated or
-- deleted), so a search that keeps a BM25 index of the chunks in memory knows with one read
-- whether it is still current.
CREATE TABLE rag_chunk_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO rag_chunk_generation (id, generation) VALUES (1, 0);
CREATE TRIGGER rag_chunks_generation_ai AFTER INSERT ON rag_chunks BEGIN
    UPDATE rag_chunk_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER rag_chunks_generation_au AFTER UPDATE ON rag_chunks BEGIN
    UPDATE rag_chunk_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER rag_chunks_generation_ad AFTER DELETE ON rag_chunks BEGIN
    UPDATE rag_chunk_generation SET generation = generation + 1 WHERE id = 1;
END;
