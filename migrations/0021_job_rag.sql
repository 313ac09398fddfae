-- A generation job may answer with retrieved Rust documentation in front of each prompt (the model's
-- "+rag" variant), so held-out answers of v2 and v2+RAG can be compared side by side.
ALTER TABLE generation_jobs ADD COLUMN rag INTEGER NOT NULL DEFAULT 0;
