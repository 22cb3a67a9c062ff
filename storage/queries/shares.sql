-- Share links (migration 0015). Made and revoked by their owner (a key's id, or 0 with
-- AUTH=off, as conversations.sql names owners); opened by token hash, with no key at all.

-- name: create_share
INSERT INTO shares (token_hash, owner_key_id, kind, conversation_id, turn_id, show_costs,
                    show_settings, live, snapshot, expires_at)
VALUES (:token_hash, nullif(:owner::bigint, 0), :kind, :conversation_id, :turn_id, :show_costs,
        :show_settings, :live, :snapshot,
        CASE WHEN :expires_in::integer IS NULL THEN NULL
             ELSE now() + make_interval(secs => :expires_in::integer) END)
RETURNING id, kind, conversation_id, turn_id, show_costs, show_settings, live, created_at,
          expires_at;

-- name: owned_conversation_turn
-- Whether the owner has this conversation and, when a turn is named, that the turn is in it.
SELECT c.id FROM conversations c
WHERE c.id = :conversation_id AND coalesce(c.owner_key_id, 0) = :owner::bigint
  AND (:turn_id::text IS NULL
       OR EXISTS (SELECT 1 FROM turns t WHERE t.id = :turn_id::text AND t.conversation_id = c.id));

-- name: share_by_hash
-- A live link: not revoked, not expired, and its owner's key not revoked either. Anything else
-- is as unknown as a token never made (the caller answers the same 404).
SELECT s.id, coalesce(s.owner_key_id, 0) AS owner, s.kind, s.conversation_id, s.turn_id,
       s.show_costs, s.show_settings, s.live, s.snapshot, s.created_at, s.expires_at
FROM shares s
LEFT JOIN client_keys k ON k.id = s.owner_key_id
WHERE s.token_hash = :token_hash
  AND s.revoked_at IS NULL
  AND (s.expires_at IS NULL OR s.expires_at > now())
  AND (s.owner_key_id IS NULL OR k.revoked_at IS NULL);

-- name: list_shares
-- The owner's links that still open (never their tokens: those are not kept), newest first;
-- of one conversation when :conversation_id is given.
SELECT id, kind, conversation_id, turn_id, show_costs, show_settings, live, created_at,
       expires_at
FROM shares
WHERE coalesce(owner_key_id, 0) = :owner::bigint
  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
  AND (:conversation_id::bigint IS NULL OR conversation_id = :conversation_id::bigint)
ORDER BY created_at DESC, id DESC
LIMIT 200;

-- name: revoke_share
UPDATE shares SET revoked_at = now()
WHERE id = :id AND coalesce(owner_key_id, 0) = :owner::bigint AND revoked_at IS NULL
RETURNING id;

-- name: revoke_conversation_shares
-- Every live link of the conversation, or of one of its turns with :turn_id.
UPDATE shares SET revoked_at = now()
WHERE conversation_id = :conversation_id AND coalesce(owner_key_id, 0) = :owner::bigint
  AND revoked_at IS NULL AND (:turn_id::text IS NULL OR turn_id = :turn_id::text)
RETURNING id;

-- name: revoke_leaderboard_shares
UPDATE shares SET revoked_at = now()
WHERE kind = 'leaderboard' AND coalesce(owner_key_id, 0) = :owner::bigint
  AND revoked_at IS NULL
RETURNING id;

-- name: conversation_verdicts
-- The owner's votes on the conversation's blind turns, for a shared view to say how each was
-- judged (only shown for turns whose answers are revealed, which the vote is what does).
SELECT v.turn_id, v.verdict, v.winner, v.ranking
FROM votes v JOIN turns t ON t.id = v.turn_id
WHERE t.conversation_id = :conversation_id AND v.voter = :owner::bigint;
