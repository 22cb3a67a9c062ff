-- name: start_turn
-- The prompt (with its images, in order), its turn (with its settings), and a new
-- conversation when none is given, in one round trip (the gateway's added time to first token
-- is mostly round trips). Foreign keys are checked at the end of the statement, so the
-- message and the turn can point at each other. The UPDATE of an existing conversation locks
-- its row, which serialises the turn with a delete. No row back means no such conversation
-- (or not one of this owner's: see conversations.sql). The turn continues :parent_id (its
-- conversation's current leaf, or an edited turn's parent) and becomes the current leaf.
WITH new_conversation AS (
    INSERT INTO conversations (title, owner_key_id, current_turn_id)
    SELECT :title, nullif(:owner::bigint, 0), :turn_id WHERE :conversation_id::bigint IS NULL
    RETURNING id
), existing_conversation AS (
    UPDATE conversations SET updated_at = now(), current_turn_id = :turn_id
    WHERE id = :conversation_id::bigint AND coalesce(owner_key_id, 0) = :owner::bigint
    RETURNING id
), target AS (
    SELECT id FROM new_conversation UNION ALL SELECT id FROM existing_conversation
), prompt AS (
    INSERT INTO messages (conversation_id, turn_id, role, content)
    SELECT id, :turn_id, 'user', :content FROM target
    RETURNING id, conversation_id
), images AS (
    INSERT INTO message_images (message_id, position, upload_id)
    SELECT prompt.id, a.position, a.upload_id
    FROM prompt, unnest(:attachments::text[]) WITH ORDINALITY AS a(upload_id, position)
), turn AS (
    INSERT INTO turns (id, conversation_id, user_message_id, providers, lease_until, settings,
                       parent_id)
    SELECT :turn_id, conversation_id, id, :providers,
           now() + make_interval(secs => :lease_seconds::float8), :settings::jsonb,
           :parent_id::text
    FROM prompt
    RETURNING conversation_id, user_message_id
)
SELECT conversation_id, user_message_id FROM turn;

-- name: store_batch
-- A whole batch of the writer in one statement (one round trip, atomic without BEGIN/COMMIT):
-- the answers, the turns that ended, and the conversations' activity time. Re-running it after
-- an ambiguous failure returns the answers already stored instead of adding a second copy.
WITH answers AS (
    INSERT INTO messages (
        conversation_id, turn_id, role, provider, model, status, content, finish_reason,
        error_type, error_message, error_status_code, ttft_ms, latency_ms,
        input_tokens, output_tokens, citations, cost_usd, run,
        thinking, reasoning_tokens, echo, settings_ignored)
    SELECT conversation_id, turn_id, 'assistant', provider, model, status, content, finish_reason,
           error_type, error_message, error_status_code, ttft_ms, latency_ms,
           input_tokens, output_tokens, citations::jsonb, cost_usd, run,
           thinking, reasoning_tokens, echo::jsonb, settings_ignored::jsonb
    FROM unnest(:conversation_ids::bigint[], :turn_ids::text[], :providers::text[], :models::text[],
                :statuses::text[], :contents::text[], :finish_reasons::text[], :error_types::text[],
                :error_messages::text[], :error_status_codes::int[], :ttfts::float8[],
                :latencies::float8[], :input_tokens::int[], :output_tokens::int[], :citations::text[],
                :costs::float8[], :runs::int[], :thinkings::text[], :reasoning_tokens::int[],
                :echoes::text[], :settings_ignored::text[])
         AS batch(conversation_id, turn_id, provider, model, status, content, finish_reason,
                  error_type, error_message, error_status_code, ttft_ms, latency_ms,
                  input_tokens, output_tokens, citations, cost_usd, run,
                  thinking, reasoning_tokens, echo, settings_ignored)
    WHERE EXISTS (SELECT 1 FROM turns t WHERE t.id = batch.turn_id)
    ON CONFLICT (turn_id, provider, run) WHERE role = 'assistant'
    DO UPDATE SET turn_id = EXCLUDED.turn_id
    RETURNING id, turn_id, provider, run
), ended AS (
    UPDATE turns AS t
    SET status = 'finished', finished_at = now(), lease_until = NULL,
        done_event_ids = f.done_event_ids::jsonb, end_event_id = f.end_event_id
    FROM unnest(:ended_turn_ids::text[], :done_event_ids::text[], :end_event_ids::int[])
         AS f(turn_id, done_event_ids, end_event_id)
    WHERE t.id = f.turn_id
), checkpoints_done AS (
    DELETE FROM answer_checkpoints WHERE turn_id = ANY(:ended_turn_ids::text[])
), touched AS (
    UPDATE conversations SET updated_at = now() WHERE id = ANY(:touched_ids::bigint[])
)
SELECT id, turn_id, provider, run FROM answers;

-- name: store_checkpoints
-- The latest text and reasoning of running answers (one row per leg, the writer sends each
-- leg once per batch). A turn that is no longer running takes no checkpoint: its answers are
-- final.
INSERT INTO answer_checkpoints (turn_id, provider, model, content, thinking)
SELECT c.turn_id, c.provider, c.model, c.content, c.thinking
FROM unnest(:turn_ids::text[], :providers::text[], :models::text[], :contents::text[],
            :thinkings::text[])
     AS c(turn_id, provider, model, content, thinking)
JOIN turns t ON t.id = c.turn_id AND t.status = 'running'
ON CONFLICT (turn_id, provider)
DO UPDATE SET content = EXCLUDED.content, thinking = EXCLUDED.thinking, model = EXCLUDED.model,
              updated_at = now();

-- name: renew_leases
UPDATE turns SET lease_until = now() + make_interval(secs => :lease_seconds)
WHERE id = ANY(:ids::text[]) AND status = 'running';

-- name: interrupt_expired_turns
-- A turn whose owner stopped renewing its lease (a crash, a kill) is over: every provider
-- without a stored answer for the run its leg was on (the turn's row lists a retry's run; a
-- first run's is 0) gets a failed one, so a replay still has one done per provider and a
-- retry cut short is kept as its own run, not lost behind the earlier one. It keeps the text
-- of the answer's last checkpoint. A fusion cut short (the turn's row names it until it is
-- stored) is kept the same way, as the turn's next fusion, with its judge, model and sources.
WITH expired AS (
    UPDATE turns SET status = 'interrupted', finished_at = now(), lease_until = NULL
    WHERE status = 'running' AND lease_until < now()
    RETURNING id, conversation_id, providers, fusion
), missing AS (
    SELECT e.id AS turn_id, e.conversation_id, p ->> 'provider' AS provider,
           p ->> 'model' AS model, coalesce(c.content, '') AS content, c.thinking,
           coalesce((p ->> 'run')::int, 0) AS run
    FROM expired e
    CROSS JOIN jsonb_array_elements(e.providers) AS p
    LEFT JOIN answer_checkpoints c ON c.turn_id = e.id AND c.provider = p ->> 'provider'
    WHERE NOT EXISTS (SELECT 1 FROM messages m
                      WHERE m.turn_id = e.id AND m.provider = p ->> 'provider'
                        AND m.run = coalesce((p ->> 'run')::int, 0))
), stored AS (
    INSERT INTO messages (conversation_id, turn_id, role, provider, model, status, content,
                          thinking, error_type, error_message, run)
    SELECT conversation_id, turn_id, 'assistant', provider, model, 'failed', content, thinking,
           'interrupted',
           'the gateway stopped before this answer finished; its text is kept up to the last checkpoint',
           run
    FROM missing
    ON CONFLICT (turn_id, provider, run) WHERE role = 'assistant' DO NOTHING
), fusion AS (
    INSERT INTO messages (conversation_id, turn_id, role, provider, kind, model, judge_provider,
                          fused_from, status, content, thinking, error_type, error_message, run)
    SELECT e.conversation_id, e.id, 'assistant', 'fuse', 'fuse', e.fusion ->> 'model',
           e.fusion ->> 'judge',
           ARRAY(SELECT f.id::bigint
                 FROM jsonb_array_elements_text(e.fusion -> 'fused_from') WITH ORDINALITY
                      AS f(id, position)
                 ORDER BY f.position),
           'failed', coalesce(c.content, ''), c.thinking, 'interrupted',
           'the gateway stopped before this answer finished; its text is kept up to the last checkpoint',
           (SELECT coalesce(max(run) + 1, 0) FROM messages
            WHERE turn_id = e.id AND provider = 'fuse' AND role = 'assistant')
    FROM expired e
    LEFT JOIN answer_checkpoints c ON c.turn_id = e.id AND c.provider = 'fuse'
    WHERE e.fusion IS NOT NULL
    ON CONFLICT (turn_id, provider, run) WHERE role = 'assistant' DO NOTHING
), checkpoints_done AS (
    DELETE FROM answer_checkpoints c USING expired e WHERE c.turn_id = e.id
)
SELECT id FROM expired;

-- name: get_turn
-- The caller compares the owner (coalesce(owner_key_id, 0), as in conversations.sql).
SELECT t.id, t.conversation_id, t.user_message_id, t.providers, t.status, t.done_event_ids,
       t.end_event_id, coalesce(c.owner_key_id, 0) AS owner, t.settings,
       ARRAY(SELECT upload_id FROM message_images
             WHERE message_id = t.user_message_id ORDER BY position) AS attachments
FROM turns t JOIN conversations c ON c.id = t.conversation_id
WHERE t.id = :id;

-- name: turn_answers
-- Every run of every provider, oldest first: a provider's last row is its latest answer.
SELECT id, provider, model, status, content, finish_reason, error_type, error_message,
       error_status_code, ttft_ms, latency_ms, input_tokens, output_tokens, citations,
       cost_usd, run, thinking, reasoning_tokens, settings_ignored, judge_provider, fused_from
FROM messages
WHERE turn_id = :turn_id AND role = 'assistant'
ORDER BY id;

-- name: running_turns_of_conversation
SELECT id FROM turns WHERE conversation_id = :conversation_id AND status = 'running';

-- name: reopen_turn
-- A retry or an added provider: the turn runs again (with a lease, as a new turn), and lists
-- every provider it now has. Unless the caller already runs it (:ours), only a finished turn
-- whose last end is still :expected_end (what the caller holds of it) may be taken; no row
-- back means it runs elsewhere, or changed since the caller read it. The rerun providers'
-- done ids and the end id are cleared until the run ends: should it be interrupted, its
-- replay numbers their dones and its end above every id it had.
UPDATE turns
SET status = 'running', finished_at = NULL, providers = :providers,
    lease_until = now() + make_interval(secs => :lease_seconds::float8),
    done_event_ids = done_event_ids - :rerun::text[], end_event_id = NULL,
    picked_runs = picked_runs - :rerun::text[],  -- a new run is what its history uses now
    -- A turn that was not running runs no fusion (one whose row was never stored is not left
    -- for a later crash to store); on one of ours, the fusion it runs stays (note_fusion).
    fusion = CASE WHEN :ours::bool THEN fusion END
WHERE id = :id
  AND (:ours::bool
       OR (status <> 'running' AND end_event_id IS NOT DISTINCT FROM :expected_end::int))
RETURNING id;

-- name: rerun_thread_rows
-- What a provider re-asked in a past turn may see: the prompts and its own answers of the
-- turns on that turn's path before it (their retries included, however late; of its runs the
-- one the user picked, if any), and that turn's prompt.
WITH RECURSIVE path AS (
    SELECT t.id, t.parent_id FROM turns t
    WHERE t.id = (SELECT parent_id FROM turns WHERE id = :turn_id)
    UNION ALL
    SELECT t.id, t.parent_id FROM turns t JOIN path ON t.id = path.parent_id
)
SELECT m.turn_id, m.role, m.provider, m.status, m.content, m.echo,
       ARRAY(SELECT upload_id FROM message_images
             WHERE message_id = m.id ORDER BY position) AS upload_ids
FROM messages m JOIN turns t ON t.id = m.turn_id
WHERE (m.turn_id IN (SELECT id FROM path) OR (m.turn_id = :turn_id AND m.role = 'user'))
  AND (m.role = 'user'
       OR (m.provider = ANY(:providers::text[])
           AND (NOT t.picked_runs ? m.provider OR (t.picked_runs ->> m.provider)::int = m.run)))
ORDER BY m.id;

-- name: end_rerun
-- A reopened turn whose rerun could not start: finished again, as it was.
UPDATE turns SET status = 'finished', finished_at = now(), lease_until = NULL
WHERE id = :id AND status = 'running';

-- name: take_over_turn
-- A running turn whose owner died, finished by another process from what its listeners were
-- sent (the turn's Redis Stream): each provider in :providers gets a failed answer with that
-- text and reasoning (or its last checkpoint's, each if longer), as the run its leg was on (the
-- turn's row lists a retry's run, a first run's is 0: a retry's row is a new run, never lost
-- behind the earlier one; a run already stored, done but not yet sent, is kept as it is), and
-- the turn is interrupted with the ids its
-- dones and end have on the stream. A fusion cut short (:fusion_judge not NULL) is stored the
-- same way, as the turn's next fusion, with the judge, model and sources its start named. No
-- row back: it was no longer running.
WITH taken AS (
    UPDATE turns SET status = 'interrupted', finished_at = now(), lease_until = NULL,
                     done_event_ids = :done_event_ids::text::jsonb, end_event_id = :end_event_id::int
    WHERE id = :id AND status = 'running'
    RETURNING id, conversation_id, providers, fusion
), sent AS (
    SELECT provider, content, thinking
    FROM unnest(:providers::text[], :contents::text[], :thinkings::text[])
         AS s(provider, content, thinking)
), missing AS (
    SELECT t.id AS turn_id, t.conversation_id, p ->> 'provider' AS provider,
           p ->> 'model' AS model,
           CASE WHEN length(coalesce(c.content, '')) > length(s.content) THEN c.content
                ELSE s.content END AS content,
           CASE WHEN length(coalesce(c.thinking, '')) > length(coalesce(s.thinking, ''))
                THEN c.thinking ELSE s.thinking END AS thinking,
           coalesce((p ->> 'run')::int, 0) AS run
    FROM taken t
    CROSS JOIN jsonb_array_elements(t.providers) AS p
    JOIN sent s ON s.provider = p ->> 'provider'
    LEFT JOIN answer_checkpoints c ON c.turn_id = t.id AND c.provider = p ->> 'provider'
    WHERE NOT EXISTS (SELECT 1 FROM messages m
                      WHERE m.turn_id = t.id AND m.provider = p ->> 'provider'
                        AND m.run = coalesce((p ->> 'run')::int, 0))
), stored AS (
    INSERT INTO messages (conversation_id, turn_id, role, provider, model, status, content,
                          thinking, error_type, error_message, run)
    SELECT conversation_id, turn_id, 'assistant', provider, model, 'failed', content, thinking,
           'interrupted',
           'the gateway stopped before this answer finished; its text is kept up to what its listeners were sent',
           run
    FROM missing
    ON CONFLICT (turn_id, provider, run) WHERE role = 'assistant' DO NOTHING
), fusion AS (
    INSERT INTO messages (conversation_id, turn_id, role, provider, kind, model, judge_provider,
                          fused_from, status, content, thinking, error_type, error_message, run)
    SELECT t.conversation_id, t.id, 'assistant', 'fuse', 'fuse', :fusion_model::text,
           :fusion_judge::text, :fused_from::bigint[], 'failed',
           CASE WHEN length(coalesce(c.content, '')) > length(:fusion_content::text)
                THEN c.content ELSE :fusion_content::text END,
           CASE WHEN length(coalesce(c.thinking, '')) > length(coalesce(:fusion_thinking::text, ''))
                THEN c.thinking ELSE :fusion_thinking::text END,
           'interrupted',
           'the gateway stopped before this answer finished; its text is kept up to what its listeners were sent',
           (SELECT coalesce(max(run) + 1, 0) FROM messages
            WHERE turn_id = t.id AND provider = 'fuse' AND role = 'assistant')
    FROM taken t
    LEFT JOIN answer_checkpoints c ON c.turn_id = t.id AND c.provider = 'fuse'
    -- Not one already stored, whose done had not reached the stream: storing it cleared the
    -- row's fusion, and a second, failed row would hide the complete one.
    WHERE :fusion_judge::text IS NOT NULL AND t.fusion IS NOT NULL
    ON CONFLICT (turn_id, provider, run) WHERE role = 'assistant' DO NOTHING
), checkpoints_done AS (
    DELETE FROM answer_checkpoints c USING taken t WHERE c.turn_id = t.id
)
SELECT id FROM taken;
