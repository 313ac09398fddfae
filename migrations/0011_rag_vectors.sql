-- Dense vectors of the retrieval chunks, one per chunk, with the embedding model that made it:
-- a chunk whose vector comes from another model is embedded again.
CREATE TABLE rag_vectors (
    chunk  INTEGER PRIMARY KEY REFERENCES rag_chunks (id) ON DELETE CASCADE,
    model  TEXT NOT NULL,
    vector BLOB NOT NULL
);
