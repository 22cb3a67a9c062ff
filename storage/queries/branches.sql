-- Branches and runs (migration 0014): a conversation's tree of turns, the path on screen, and
-- which run of an answer its history uses.

-- name: conversation_tree
-- Every turn of a conversation, oldest first, with its parent, and the stored current leaf
-- on every row (called once the conversation was found for its owner).
SELECT t.id, t.parent_id, t.picked_runs, c.current_turn_id
FROM turns t JOIN conversations c ON c.id = t.conversation_id
WHERE t.conversation_id = :conversation_id
ORDER BY t.user_message_id NULLS FIRST, t.created_at, t.id;

-- name: set_current_turn
-- The path on screen, kept. No row back: no such conversation (or another owner's).
UPDATE conversations SET current_turn_id = :turn_id
WHERE id = :id AND coalesce(owner_key_id, 0) = :owner
RETURNING id;

-- name: edited_turn
-- What an edit starts from: the edited turn's conversation, parent, providers and settings.
SELECT t.id, t.conversation_id, t.parent_id, t.providers, t.settings,
       ARRAY(SELECT upload_id FROM message_images
             WHERE message_id = t.user_message_id ORDER BY position) AS attachments
FROM turns t JOIN conversations c ON c.id = t.conversation_id
WHERE t.id = :id AND coalesce(c.owner_key_id, 0) = :owner;

-- name: turn_runs
-- Every run of every provider of a turn, oldest first, and the runs its user picked.
SELECT m.id, m.provider, m.model, m.status, m.run, m.content <> '' AS has_text, m.created_at,
       t.picked_runs
FROM turns t LEFT JOIN messages m ON m.turn_id = t.id AND m.role = 'assistant'
WHERE t.id = :turn_id
ORDER BY m.id;

-- name: pick_run
-- The run of a provider's answer its history uses from now on (and the page shows). No row
-- back: the turn has no such run.
UPDATE turns SET picked_runs = picked_runs || jsonb_build_object(:provider::text, :run::int)
WHERE id = :turn_id
  AND EXISTS (SELECT 1 FROM messages m WHERE m.turn_id = :turn_id AND m.role = 'assistant'
              AND m.provider = :provider AND m.run = :run)
RETURNING id;
