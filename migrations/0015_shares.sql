-- Share links: a read-only view of a conversation (or one of its turns) or of the leaderboard,
-- opened by anyone holding the link. The link's token is a credential: only its SHA-256 is
-- kept (as for client keys), so a database leak opens no share.
CREATE TABLE shares (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash       bytea NOT NULL UNIQUE,
    -- Whose it is, as conversations name their owner: coalesce(owner_key_id, 0), 0 being
    -- AUTH=off's. A revoked key's links stop working with it (shares.sql share_by_hash).
    owner_key_id     bigint REFERENCES client_keys (id),
    kind             text NOT NULL CHECK (kind IN ('conversation', 'leaderboard')),
    -- Deleting the conversation deletes its links.
    conversation_id  bigint REFERENCES conversations (id) ON DELETE CASCADE,
    turn_id          text REFERENCES turns (id) ON DELETE CASCADE,  -- one turn only, or all
    show_costs       boolean NOT NULL DEFAULT false,
    show_settings    boolean NOT NULL DEFAULT false,
    -- The leaderboard: live (computed at each view) or the snapshot taken at share time.
    live             boolean NOT NULL DEFAULT false,
    snapshot         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz,                                   -- NULL: until revoked
    revoked_at       timestamptz,
    CHECK ((kind = 'conversation') = (conversation_id IS NOT NULL)),
    CHECK (turn_id IS NULL OR kind = 'conversation')
);
CREATE INDEX shares_owner_idx ON shares ((coalesce(owner_key_id, 0)), created_at DESC);
CREATE INDEX shares_conversation_idx ON shares (conversation_id) WHERE revoked_at IS NULL;
