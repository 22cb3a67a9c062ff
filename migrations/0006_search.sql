-- Full-text search over prompts and answers (GET /conversations/?q=): each message's English
-- text search vector, computed once when the row is written (not again for every search,
-- which ranks every match), and a GIN index on it. Only the first 200,000 characters count:
-- a tsvector holds at most 1 MB, and a longer text must still be storable.
ALTER TABLE messages
    ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english', left(content, 200000))) STORED;
CREATE INDEX messages_search_idx ON messages USING gin (search);
