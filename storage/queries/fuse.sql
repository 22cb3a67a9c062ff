-- name: note_fusion
-- The fusion about to run on a claimed turn, named on its row until it is stored, so that a
-- process dying mid-fusion leaves what interrupt_expired_turns needs to store it.
UPDATE turns SET fusion = :fusion::jsonb WHERE id = :id AND status = 'running';

-- name: store_fusion
-- A fused answer, numbered after the turn's earlier fusions (the turn is claimed by the one
-- process that runs the fusion, so no two number at once). No row back: the turn was deleted.
-- Stored, it no longer runs: the turn's row stops naming it (a crash later in a still running
-- turn must not store it twice) and its checkpoint goes (a next fusion on the running turn,
-- cut before its first checkpoint, must not inherit this one's text).
WITH done AS (
    UPDATE turns SET fusion = NULL WHERE id = :turn_id
), checkpoint_done AS (
    DELETE FROM answer_checkpoints WHERE turn_id = :turn_id AND provider = 'fuse'
)
INSERT INTO messages (
    conversation_id, turn_id, role, provider, kind, model, judge_provider, fused_from, status,
    content, finish_reason, error_type, error_message, error_status_code, ttft_ms, latency_ms,
    input_tokens, output_tokens, citations, cost_usd, run, thinking, reasoning_tokens,
    settings_ignored)
SELECT :conversation_id, :turn_id, 'assistant', 'fuse', 'fuse', :model, :judge,
       :fused_from::bigint[], :status, :content, :finish_reason, :error_type, :error_message,
       :error_status_code::int, :ttft_ms::float8, :latency_ms::float8, :input_tokens::int,
       :output_tokens::int, :citations::jsonb, :cost_usd::float8,
       (SELECT coalesce(max(run) + 1, 0) FROM messages
        WHERE turn_id = :turn_id AND provider = 'fuse' AND role = 'assistant'),
       :thinking, :reasoning_tokens::int, :settings_ignored::jsonb
WHERE EXISTS (SELECT 1 FROM turns WHERE id = :turn_id)
RETURNING id, run;

-- name: fusion_prompt
-- The prompt a fusion's judge is shown (its turn's user message).
SELECT content FROM messages WHERE id = :id AND role = 'user';
