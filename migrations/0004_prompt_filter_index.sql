-- The sheet's category + split filter (and its count) as one index range. It also serves the
-- category filter alone, so the category-only index goes (one index less to keep up on import).
CREATE INDEX prompts_category_split ON prompts (category, split, id);
DROP INDEX prompts_category;
