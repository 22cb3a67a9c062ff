-- Branches and runs (issue 25): a conversation is a tree of turns. Each turn has a parent (the
-- turn it continues; NULL for a first turn), so an edited prompt starts a sibling of the turn
-- it edits. The conversation remembers the leaf of the path on screen (current_turn_id: a new
-- turn continues from it). A turn remembers which run of each provider's answer the user
-- picked (picked_runs: {provider: run}); a provider not in it uses its latest complete run.

ALTER TABLE turns ADD COLUMN parent_id text REFERENCES turns (id) ON DELETE CASCADE;
ALTER TABLE turns ADD COLUMN picked_runs jsonb NOT NULL DEFAULT '{}';
-- Not a foreign key: a stale or missing id only means "the newest turn" to its readers.
ALTER TABLE conversations ADD COLUMN current_turn_id text;

-- Existing conversations become a straight line: each turn's parent is the one before it.
UPDATE turns AS t SET parent_id = ordered.previous
FROM (
    SELECT id, lag(id) OVER (PARTITION BY conversation_id
                             ORDER BY user_message_id NULLS FIRST, created_at, id) AS previous
    FROM turns
) AS ordered
WHERE ordered.id = t.id AND ordered.previous IS NOT NULL;

UPDATE conversations AS c SET current_turn_id = (
    SELECT t.id FROM turns t WHERE t.conversation_id = c.id
    ORDER BY t.user_message_id DESC NULLS LAST, t.created_at DESC, t.id DESC LIMIT 1
);

CREATE INDEX turns_parent_idx ON turns (parent_id);
