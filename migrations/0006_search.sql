-- Full-text search over prompts and answers (GET /conversations/?q=): each message's English
-- text search vector, computed once when the row is written (not again for every search,
-- which ranks every match), and a GIN index on it.
ALTER TABLE messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
CREATE INDEX messages_search_idx ON messages USING gin (search);
