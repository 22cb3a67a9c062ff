-- name: create_conversation
INSERT INTO conversations (title) VALUES (:title)
RETURNING id, title, created_at, updated_at;

-- name: list_conversations
-- Newest activity first; a turn touches updated_at, so an active conversation rises to the top.
SELECT c.id, c.title, c.created_at, c.updated_at,
       (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
FROM conversations c
ORDER BY c.updated_at DESC, c.id DESC
LIMIT :limit OFFSET :offset;

-- name: count_conversations
SELECT count(*) FROM conversations;

-- name: get_conversation
SELECT id, title, created_at, updated_at FROM conversations WHERE id = :id;

-- name: rename_conversation
UPDATE conversations SET title = :title, updated_at = now() WHERE id = :id
RETURNING id, title, created_at, updated_at;

-- name: delete_conversation
DELETE FROM conversations WHERE id = :id RETURNING id;

-- name: conversation_messages
SELECT id, turn_id, role, provider, model, status, content, finish_reason,
       error_type, error_message, error_status_code, ttft_ms, latency_ms,
       input_tokens, output_tokens, citations, created_at
FROM messages
WHERE conversation_id = :conversation_id
ORDER BY id;
