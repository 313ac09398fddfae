-- The model registry grows the fields built-in models and lineage need: the
-- context length (0 = the model's own) and the dataset a training run used.
ALTER TABLE models ADD COLUMN context_length INTEGER NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN dataset_id INTEGER REFERENCES datasets (id) ON DELETE SET NULL;
