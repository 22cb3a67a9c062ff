-- The ids that a finished turn's events carried on the wire, so that a replay from the
-- database (after the in-memory log is gone, or after a restart) resumes with the same ids.
ALTER TABLE turns ADD COLUMN user_message_id bigint REFERENCES messages (id) ON DELETE SET NULL;
ALTER TABLE turns ADD COLUMN done_event_ids jsonb;   -- {provider: id of its done event}
ALTER TABLE turns ADD COLUMN end_event_id integer;
