-- The fusion running on a turn (its judge, model and sources), set when it starts and cleared
-- once it is stored. A fusion is not one of the turn's providers (they are listed to clients),
-- and its checkpoint has only its text: without this, a process that dies mid-fusion with no
-- Redis stream to take it over from leaves nothing that interrupt_expired_turns could store.
ALTER TABLE turns ADD COLUMN fusion jsonb;
