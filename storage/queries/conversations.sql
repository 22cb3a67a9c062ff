-- Conversations belong to a client key: every query names the owner, as the key's id or 0 for
-- open mode (no keys, loopback), and a conversation of another owner is as good as absent.

-- name: create_conversation
INSERT INTO conversations (title, owner_key_id) VALUES (:title, nullif(:owner::bigint, 0))
RETURNING id, title, created_at, updated_at;

-- name: list_conversations
-- Newest activity first; a turn touches updated_at, so an active conversation rises to the top.
SELECT c.id, c.title, c.created_at, c.updated_at,
       (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
FROM conversations c
WHERE coalesce(c.owner_key_id, 0) = :owner
ORDER BY c.updated_at DESC, c.id DESC
LIMIT :limit OFFSET :offset;

-- name: count_conversations
SELECT count(*) FROM conversations WHERE coalesce(owner_key_id, 0) = :owner;

-- name: get_conversation
SELECT id, title, created_at, updated_at FROM conversations
WHERE id = :id AND coalesce(owner_key_id, 0) = :owner;

-- name: rename_conversation
UPDATE conversations SET title = :title, updated_at = now()
WHERE id = :id AND coalesce(owner_key_id, 0) = :owner
RETURNING id, title, created_at, updated_at;

-- name: delete_conversation
DELETE FROM conversations WHERE id = :id AND coalesce(owner_key_id, 0) = :owner RETURNING id;

-- name: conversation_messages
-- Called once the conversation was found for its owner.
SELECT id, turn_id, role, provider, model, status, content, finish_reason,
       error_type, error_message, error_status_code, ttft_ms, latency_ms,
       input_tokens, output_tokens, citations, cost_usd, run, created_at
FROM messages
WHERE conversation_id = :conversation_id
ORDER BY id;
