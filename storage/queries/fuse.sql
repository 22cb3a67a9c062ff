-- name: store_fusion
-- A fused answer, numbered after the turn's earlier fusions (the turn is claimed by the one
-- process that runs the fusion, so no two number at once). No row back: the turn was deleted.
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
