-- What each answer cost, and the answers of retries: a turn may now hold several answers of
-- one provider (POST /turns/{id}/retry), numbered by run (0 the first, then 1, 2 ...). The
-- latest answer is what the turn shows; the latest complete one is what the provider's
-- history uses.
ALTER TABLE messages ADD COLUMN cost_usd double precision;   -- NULL: the model has no price
ALTER TABLE messages ADD COLUMN run integer NOT NULL DEFAULT 0;

-- One answer per provider per run: the writer still retries a batch without duplicating rows.
DROP INDEX messages_answer_once_idx;
CREATE UNIQUE INDEX messages_answer_once_idx
    ON messages (turn_id, provider, run) WHERE role = 'assistant';
