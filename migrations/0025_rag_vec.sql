-- Dense vectors of the retrieval chunks move into a sqlite-vec vec0 table, rag_vec (rowid = chunk,
-- the vector, the chunk's source). Its dimension is known only when the first vector arrives, so
-- the store makes the table then, with a trigger that deletes a chunk's vector with the chunk.
-- rag_vector_model records the embedding model and dimension of the vectors in rag_vec (no row:
-- no table yet); vectors of another model or size replace the table, and the chunks are embedded
-- again. When the store opens, the rows of rag_vectors (one model's) are moved into rag_vec and
-- rag_vectors is dropped.
CREATE TABLE rag_vector_model (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    model TEXT NOT NULL,
    dim   INTEGER NOT NULL CHECK (dim > 0)
);
