-- Conversations belong to a client key: every query names the owner, as the key's id or 0 for
-- open mode (no keys, loopback), and a conversation of another owner is as good as absent.

-- name: create_conversation
INSERT INTO conversations (title, owner_key_id, blind, context_policy)
VALUES (:title, nullif(:owner::bigint, 0), :blind, :context_policy)
RETURNING id, title, created_at, updated_at, blind, context_policy;

-- name: list_conversations
-- Newest activity first; a turn touches updated_at, so an active conversation rises to the top.
SELECT c.id, c.title, c.created_at, c.updated_at, c.blind, c.context_policy,
       (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
FROM conversations c
WHERE coalesce(c.owner_key_id, 0) = :owner
ORDER BY c.updated_at DESC, c.id DESC
LIMIT :limit OFFSET :offset;

-- name: count_conversations
SELECT count(*) FROM conversations WHERE coalesce(owner_key_id, 0) = :owner;

-- name: get_conversation
SELECT id, title, created_at, updated_at, blind, context_policy FROM conversations
WHERE id = :id AND coalesce(owner_key_id, 0) = :owner;

-- name: rename_conversation
-- PATCH: a NULL leaves that setting as it was.
UPDATE conversations
SET title = coalesce(:title, title), blind = coalesce(:blind, blind),
    context_policy = coalesce(:context_policy, context_policy), updated_at = now()
WHERE id = :id AND coalesce(owner_key_id, 0) = :owner
RETURNING id, title, created_at, updated_at, blind, context_policy;

-- name: delete_conversation
DELETE FROM conversations WHERE id = :id AND coalesce(owner_key_id, 0) = :owner RETURNING id;

-- name: conversation_messages
-- Called once the conversation was found for its owner. label: the answer's label in a blind
-- turn (NULL otherwise); simulated: its provider was the built-in simulator (NULL: not known);
-- revealed: that turn was voted on, so its identities may be shown.
SELECT m.id, m.turn_id, m.role, m.provider, m.model, m.status, m.content, m.finish_reason,
       m.error_type, m.error_message, m.error_status_code, m.ttft_ms, m.latency_ms,
       m.input_tokens, m.output_tokens, m.citations, m.cost_usd, m.run, m.created_at,
       m.thinking, m.reasoning_tokens, m.settings_ignored, m.kind, m.judge_provider, m.fused_from,
       CASE WHEN m.role = 'user' THEN t.settings END AS settings,
       ARRAY(SELECT upload_id FROM message_images
             WHERE message_id = m.id ORDER BY position) AS attachments,
       (SELECT p ->> 'label' FROM jsonb_array_elements(t.providers) AS p
        WHERE p ->> 'provider' = m.provider) AS label,
       (SELECT (p ->> 'simulated')::boolean FROM jsonb_array_elements(t.providers) AS p
        WHERE p ->> 'provider' = m.provider) AS simulated,
       EXISTS (SELECT 1 FROM votes v WHERE v.turn_id = m.turn_id) AS revealed
FROM messages m
LEFT JOIN turns t ON t.id = m.turn_id
WHERE m.conversation_id = :conversation_id
ORDER BY m.id;

-- name: search_conversations
-- An owner's conversations whose prompts or answers match the words of :q (web-search
-- syntax: "quoted phrases", -excluded, or), best first: the sum of each matching message's
-- rank, so a conversation that says more about it ranks higher. messages.search and its
-- index are migration 0006's; the snippet is the best message's passage, as plain text, and
-- turn_id that message's turn (on whichever branch it is: migration 0014).
WITH query AS (
    SELECT websearch_to_tsquery('english', :q) AS q
), matches AS (
    SELECT m.conversation_id, m.turn_id, m.content, ts_rank(m.search, query.q) AS rank
    FROM messages m
    JOIN conversations c ON c.id = m.conversation_id
    CROSS JOIN query
    WHERE coalesce(c.owner_key_id, 0) = :owner
      AND m.search @@ query.q
), ranked AS (
    SELECT conversation_id, sum(rank) AS rank,
           (array_agg(content ORDER BY rank DESC))[1] AS best,
           (array_agg(turn_id ORDER BY rank DESC))[1] AS best_turn
    FROM matches
    GROUP BY conversation_id
)
SELECT c.id, c.title, c.created_at, c.updated_at,
       (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count,
       r.rank, r.best_turn AS turn_id,
       ts_headline('english', r.best, query.q,
                   'StartSel="", StopSel="", MaxWords=24, MinWords=12, MaxFragments=1') AS snippet,
       count(*) OVER () AS total
FROM ranked r
JOIN conversations c ON c.id = r.conversation_id
CROSS JOIN query
ORDER BY r.rank DESC, c.updated_at DESC, c.id DESC
LIMIT :limit OFFSET :offset;

-- name: export_turns
-- A conversation's turns in order, with their prompts (called once it was found for its owner).
SELECT t.id AS turn_id, t.parent_id, t.created_at, t.providers, p.content AS prompt
FROM turns t
LEFT JOIN messages p ON p.id = t.user_message_id
WHERE t.conversation_id = :conversation_id
ORDER BY t.user_message_id, t.id;
