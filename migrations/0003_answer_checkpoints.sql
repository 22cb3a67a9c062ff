-- The text of running answers so far, written every few seconds per answer (never per token),
-- so that an answer whose gateway died keeps what its clients had already seen. A row lives
-- while its turn runs: ending the turn, or marking it interrupted, deletes it.
CREATE TABLE answer_checkpoints (
    turn_id     text NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    provider    text NOT NULL,
    model       text NOT NULL,
    content     text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (turn_id, provider)
);
