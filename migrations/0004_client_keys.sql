-- Client API keys (not provider keys): who may use the gateway. Only a key's SHA-256 is kept;
-- the key itself is shown once, when it is created. Conversations belong to the key that
-- created them (NULL: created in open mode, on loopback with no keys).
CREATE TABLE client_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,          -- the key's first characters, to tell keys apart
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- A name is given to one live key at a time; a revoked key's name may be used again.
CREATE UNIQUE INDEX client_keys_live_name_idx ON client_keys (name) WHERE revoked_at IS NULL;

ALTER TABLE conversations ADD COLUMN owner_key_id bigint REFERENCES client_keys (id);
DROP INDEX conversations_recent_idx;
-- Every lookup names its owner as coalesce(owner_key_id, 0): 0 is open mode's (no key has id
-- 0), and an index on the expression serves the list of each owner's conversations.
CREATE INDEX conversations_owner_recent_idx
    ON conversations ((coalesce(owner_key_id, 0)), updated_at DESC, id DESC);

-- Secrets every gateway of one database shares: the key that signs session cookies and
-- EventSource tokens, made by the first gateway that needs it.
CREATE TABLE gateway_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
