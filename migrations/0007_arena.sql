-- The arena: blind conversations, how each provider sees a conversation's history, and votes.
-- A blind turn's labels live in turns.providers ({provider, model, simulated, label}), so a
-- turn and its labels are stored in the same statement.

ALTER TABLE conversations ADD COLUMN blind boolean NOT NULL DEFAULT false;
ALTER TABLE conversations ADD COLUMN context_policy text NOT NULL DEFAULT 'isolated'
    CHECK (context_policy IN ('isolated', 'winner', 'shared'));

-- One vote per turn and voter (the client key's id, 0 in open mode). The outcome is stored
-- resolved to providers and models, as the leaderboard reads it: ranks[i] is the rank (1 =
-- best) of participants[i]; equal ranks are ties, NULL is unranked (the others of a winner).
CREATE TABLE votes (
    turn_id          text NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    voter            bigint NOT NULL,
    verdict          text NOT NULL CHECK (verdict IN ('winner', 'tie', 'all_bad', 'ranking')),
    winner           text,            -- the winning label (verdict winner, or ranking's first)
    winner_provider  text,            -- the same, resolved: what the winner context policy uses
    ranking          jsonb,           -- the labels best first (verdict ranking)
    participants     jsonb NOT NULL,  -- [{label, provider, model}] in label order
    ranks            jsonb NOT NULL,  -- [rank | null], one per participant
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (turn_id, voter)
);

-- The leaderboard reads one voter's votes in a time window.
CREATE INDEX votes_voter_time_idx ON votes (voter, created_at);
