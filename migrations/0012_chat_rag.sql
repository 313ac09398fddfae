-- A chat column may answer with retrieved documentation in front of its questions: its user turns
-- say so (rag), and its answers keep the sources they were given (JSON list).
ALTER TABLE chat_turns ADD COLUMN rag INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_turns ADD COLUMN sources TEXT NOT NULL DEFAULT '';
