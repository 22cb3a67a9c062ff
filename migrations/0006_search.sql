-- Full-text search over prompts and answers (GET /conversations/?q=): one GIN index on the
-- English text search vector of every message, the very expression the search query uses.
CREATE INDEX messages_search_idx ON messages USING gin (to_tsvector('english', content));
