-- The arena: what a turn's providers may see under each context policy, votes, the leaderboard.

-- name: conversation_thread
-- Everything a turn's providers may see, with the conversation's settings on every row. No row
-- at all: no such conversation (or another owner's); one row with a NULL role: no messages
-- yet. Under 'isolated' only the asked providers' answers are read; the other policies read
-- every answer, and 'winner' the provider its turn's vote chose (winner_provider, on the
-- prompt's row). Only the turns on the new turn's path are read (migration 0014): its parent
-- (:parent_id when :explicit_parent, an edit's; else the conversation's current leaf, returned
-- as parent_id on every row) and that one's ancestors; of a provider's runs in a turn, the
-- one its user picked, if any.
WITH RECURSIVE conv AS (
    SELECT c.id, c.blind, c.context_policy,
           CASE WHEN :explicit_parent::bool THEN :parent_id::text
                ELSE coalesce(
                    (SELECT t.id FROM turns t
                     WHERE t.id = c.current_turn_id AND t.conversation_id = c.id),
                    (SELECT t.id FROM turns t WHERE t.conversation_id = c.id
                     ORDER BY t.user_message_id DESC NULLS LAST, t.created_at DESC, t.id DESC
                     LIMIT 1)) END AS parent_id
    FROM conversations c
    WHERE c.id = :conversation_id AND coalesce(c.owner_key_id, 0) = :owner
), path AS (
    SELECT t.id, t.parent_id FROM turns t JOIN conv ON t.id = conv.parent_id
                                                  AND t.conversation_id = conv.id
    UNION ALL
    SELECT t.id, t.parent_id FROM turns t JOIN path ON t.id = path.parent_id
)
SELECT c.blind, c.context_policy, c.parent_id, m.turn_id, m.role, m.provider, m.model, m.status,
       m.content, v.winner_provider, m.echo,
       ARRAY(SELECT upload_id FROM message_images
             WHERE message_id = m.id ORDER BY position) AS upload_ids
FROM conv c
LEFT JOIN (messages m JOIN turns mt ON mt.id = m.turn_id)
       ON m.conversation_id = c.id
      AND m.turn_id IN (SELECT id FROM path)
      AND (m.role = 'user' OR c.context_policy <> 'isolated'
           OR m.provider = ANY(:providers::text[]))
      AND (m.role = 'user' OR NOT mt.picked_runs ? m.provider
           OR (mt.picked_runs ->> m.provider)::int = m.run)
LEFT JOIN LATERAL (
    SELECT winner_provider FROM votes
    WHERE votes.turn_id = m.turn_id AND m.role = 'user' AND c.context_policy = 'winner'
    ORDER BY created_at LIMIT 1
) v ON true
ORDER BY m.id;

-- name: insert_vote
-- No row back: this voter has voted on this turn already.
INSERT INTO votes (turn_id, voter, verdict, winner, winner_provider, ranking, participants, ranks)
VALUES (:turn_id, :voter, :verdict, :winner, :winner_provider, :ranking::jsonb,
        :participants::jsonb, :ranks::jsonb)
ON CONFLICT (turn_id, voter) DO NOTHING
RETURNING verdict, winner, ranking, created_at;

-- name: turn_vote
SELECT verdict, winner, ranking, created_at FROM votes
WHERE turn_id = :turn_id AND voter = :voter;

-- name: voted_turns
-- Which of these turns this voter has voted on (a conversation's messages reveal those).
SELECT DISTINCT turn_id FROM votes WHERE turn_id = ANY(:turn_ids::text[]) AND voter = :voter;

-- name: leaderboard_votes
-- One voter's votes in a window (NULL: since the beginning), oldest first.
SELECT participants, ranks, verdict, created_at FROM votes
WHERE voter = :voter AND (:since::timestamptz IS NULL OR created_at >= :since::timestamptz)
ORDER BY created_at, turn_id;
