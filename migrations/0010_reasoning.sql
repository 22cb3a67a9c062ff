-- Reasoning, stored apart from the answer: its text (NULL: none came), how many tokens it took
-- (they are output tokens too, and priced as such), and what the provider's API wants sent
-- back with the answer on a later turn (thinking signatures, encrypted reasoning: opaque,
-- only ever read by the adapter that wrote it, never shown). settings_ignored: the settings
-- the model was not given, and why ({"temperature": "gpt-5.5 takes only its default ..."}).
ALTER TABLE messages ADD COLUMN thinking text;
ALTER TABLE messages ADD COLUMN reasoning_tokens integer;
ALTER TABLE messages ADD COLUMN echo jsonb;
ALTER TABLE messages ADD COLUMN settings_ignored jsonb;

-- A running answer's reasoning so far is checkpointed with its text.
ALTER TABLE answer_checkpoints ADD COLUMN thinking text;
