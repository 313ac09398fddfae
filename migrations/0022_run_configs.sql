-- Saved run configurations: a named set of new-run settings (the form's hyperparameters, LoRA shape
-- and, when chosen, its parent model, dataset snapshot and model name) that the /runs form loads
-- and `rustexpert train sft|dpo --config-name NAME` starts from. json is training.SavedConfig.
CREATE TABLE run_configs (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind       TEXT NOT NULL CHECK (kind IN ('sft', 'dpo')),
    json       TEXT NOT NULL CHECK (json_valid(json)),
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);
