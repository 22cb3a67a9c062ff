-- Roles, sessions a sign-out ends, and what each gateway process needs to notice revocations.

-- An admin key manages keys and reads /metrics. The first key of a database is one: here,
-- the oldest live key of a database that had keys before roles existed.
ALTER TABLE client_keys ADD COLUMN admin boolean NOT NULL DEFAULT false;
UPDATE client_keys SET admin = true
WHERE id = (SELECT min(id) FROM client_keys WHERE revoked_at IS NULL);

-- Where a key came from: created (the CLI or the API), first (made by a gateway that started
-- with no key at all), environment (MULTICHAT_KEY: one live row, whose hash a new value
-- replaces, so that the data it owns stays its own).
ALTER TABLE client_keys ADD COLUMN origin text NOT NULL DEFAULT 'created'
    CHECK (origin IN ('created', 'first', 'environment'));
CREATE UNIQUE INDEX client_keys_environment_idx ON client_keys (origin)
    WHERE origin = 'environment' AND revoked_at IS NULL;
-- When a key's hash was replaced: every process drops the old one from its memory.
ALTER TABLE client_keys ADD COLUMN rekeyed_at timestamptz;

-- Each gateway process asks, every second, what was revoked or re-keyed lately.
CREATE INDEX client_keys_revoked_idx ON client_keys (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX client_keys_rekeyed_idx ON client_keys (rekeyed_at) WHERE rekeyed_at IS NOT NULL;

-- The page's sign-ins. The cookie names a row (signed, so a made-up one costs no query);
-- signing out ends the row, and every process forgets it within a second.
CREATE TABLE sessions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id      bigint NOT NULL REFERENCES client_keys (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX sessions_key_idx ON sessions (key_id) WHERE ended_at IS NULL;
CREATE INDEX sessions_ended_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
