-- The arena: what a turn's providers may see under each context policy, votes, the leaderboard.

-- name: conversation_thread
-- Everything a turn's providers may see, with the conversation's settings on every row. No row
-- at all: no such conversation (or another owner's); one row with a NULL role: no messages
-- yet. Under 'isolated' only the asked providers' answers are read; the other policies read
-- every answer, and 'winner' the provider its turn's vote chose (winner_provider, on the
-- prompt's row).
SELECT c.blind, c.context_policy, m.turn_id, m.role, m.provider, m.model, m.status, m.content,
       v.winner_provider, m.echo,
       ARRAY(SELECT upload_id FROM message_images
             WHERE message_id = m.id ORDER BY position) AS upload_ids
FROM conversations c
LEFT JOIN messages m
       ON m.conversation_id = c.id
      AND (m.role = 'user' OR c.context_policy <> 'isolated'
           OR m.provider = ANY(:providers::text[]))
LEFT JOIN LATERAL (
    SELECT winner_provider FROM votes
    WHERE votes.turn_id = m.turn_id AND m.role = 'user' AND c.context_policy = 'winner'
    ORDER BY created_at LIMIT 1
) v ON true
WHERE c.id = :conversation_id AND coalesce(c.owner_key_id, 0) = :owner
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
