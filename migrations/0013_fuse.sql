-- Fuse (issue 25): a judge model's one answer written from a turn's answers. It is stored as
-- an assistant message of kind 'fuse' (provider 'fuse', its run numbering each fusion of the
-- turn 0, 1 ...), naming the judge's provider and the answers (message ids) it drew on. The
-- 'fused' context policy lets every provider continue from a turn's latest complete fusion.
ALTER TABLE messages ADD COLUMN kind text NOT NULL DEFAULT 'answer'
    CHECK (kind IN ('answer', 'fuse'));
ALTER TABLE messages ADD COLUMN fused_from bigint[];
ALTER TABLE messages ADD COLUMN judge_provider text;
ALTER TABLE messages ADD CONSTRAINT messages_fuse_shape
    CHECK ((kind = 'fuse') = (provider IS NOT DISTINCT FROM 'fuse'));

ALTER TABLE conversations DROP CONSTRAINT conversations_context_policy_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_context_policy_check
    CHECK (context_policy IN ('isolated', 'winner', 'shared', 'fused'));
