-- name: lock_client_keys
-- Key changes that depend on what exists (the first key, the environment key) are made one
-- at a time, across every gateway of the database: within a transaction, until it ends.
SELECT pg_advisory_xact_lock(hashtext('multichat.client_keys'));

-- name: create_client_key
-- Admin when asked, and always for a key made while no live key exists (the first key).
INSERT INTO client_keys (name, key_hash, prefix, admin, origin)
VALUES (
    :name, :key_hash, :prefix,
    :admin::boolean OR NOT EXISTS (SELECT 1 FROM client_keys WHERE revoked_at IS NULL),
    :origin
)
RETURNING id, name, prefix, admin, origin, created_at;

-- name: count_all_client_keys
SELECT count(*) FROM client_keys;

-- name: adopt_open_data
-- The first key of a database takes what was made before keys existed (open mode's, owner 0).
WITH conversations AS (
    UPDATE conversations SET owner_key_id = :key_id WHERE owner_key_id IS NULL RETURNING 1
), votes AS (
    UPDATE votes SET voter = :key_id WHERE voter = 0 RETURNING 1
)
SELECT (SELECT count(*) FROM conversations) AS conversations, (SELECT count(*) FROM votes) AS votes;

-- name: list_client_keys
SELECT id, name, prefix, admin, origin, created_at, revoked_at FROM client_keys ORDER BY id;

-- name: revoke_client_key
-- By name (the live key of that name) or by id; the revoked key's row stays, so the
-- conversations it owns stay owned (and unreachable) instead of becoming anyone's. Its
-- sessions end with it.
WITH revoked AS (
    UPDATE client_keys SET revoked_at = now()
    WHERE revoked_at IS NULL AND (name = :name OR id::text = :name)
    RETURNING id, name
), ended AS (
    UPDATE sessions SET ended_at = now()
    WHERE ended_at IS NULL AND key_id IN (SELECT id FROM revoked)
)
SELECT id, name FROM revoked;

-- name: revoke_client_key_by_id
-- Over HTTP: not the environment's key, which changes with MULTICHAT_KEY (revoked here, the
-- gateways would refuse to start with it); the CLI can.
WITH revoked AS (
    UPDATE client_keys SET revoked_at = now()
    WHERE revoked_at IS NULL AND id = :id AND origin <> 'environment'
    RETURNING id, name
), ended AS (
    UPDATE sessions SET ended_at = now()
    WHERE ended_at IS NULL AND key_id IN (SELECT id FROM revoked)
)
SELECT id, name FROM revoked;

-- name: client_key_by_hash
SELECT id, name, key_hash, admin, revoked_at FROM client_keys WHERE key_hash = :key_hash;

-- name: live_client_key
SELECT id, name, admin FROM client_keys WHERE id = :id AND revoked_at IS NULL;

-- name: count_live_client_keys
SELECT count(*) FROM client_keys WHERE revoked_at IS NULL;

-- name: live_environment_key
SELECT id, key_hash FROM client_keys WHERE origin = 'environment' AND revoked_at IS NULL;

-- name: create_environment_key
INSERT INTO client_keys (name, key_hash, prefix, admin, origin)
VALUES ('MULTICHAT_KEY', :key_hash, :prefix, true, 'environment')
RETURNING id;

-- name: rekey_environment_key
-- MULTICHAT_KEY has a new value: the same key (its data stays its own) under a new hash; the
-- sessions signed in with the old value end.
WITH rekeyed AS (
    UPDATE client_keys SET key_hash = :key_hash, prefix = :prefix, rekeyed_at = now()
    WHERE id = :id
    RETURNING id
)
UPDATE sessions SET ended_at = now()
WHERE ended_at IS NULL AND key_id IN (SELECT id FROM rekeyed);

-- name: revocations_since
-- What every gateway process must forget: keys revoked or re-keyed, sessions ended, since
-- :since (the database's clock, so no process's clock matters).
SELECT
    now() AS now,
    ARRAY(SELECT id FROM client_keys WHERE revoked_at >= :since) AS revoked_keys,
    ARRAY(SELECT id FROM client_keys WHERE rekeyed_at >= :since) AS rekeyed_keys,
    ARRAY(SELECT id FROM sessions WHERE ended_at >= :since) AS ended_sessions;

-- name: database_now
SELECT now();

-- name: create_session
INSERT INTO sessions (key_id, expires_at) VALUES (:key_id, now() + make_interval(secs => :seconds))
RETURNING id;

-- name: live_session
-- A session, if it and its key are live: the key's id, name and role.
SELECT k.id, k.name, k.admin
FROM sessions s JOIN client_keys k ON k.id = s.key_id
WHERE s.id = :id AND s.ended_at IS NULL AND s.expires_at > now() AND k.revoked_at IS NULL;

-- name: end_session
UPDATE sessions SET ended_at = now() WHERE id = :id AND ended_at IS NULL;

-- name: forget_old_sessions
-- Sessions long over: nothing reads them any more.
DELETE FROM sessions
WHERE expires_at < now() - interval '1 day' OR ended_at < now() - interval '1 day';

-- name: shared_secret
-- The first gateway to ask stores its candidate; every gateway gets the one stored. DO UPDATE
-- (which changes nothing) rather than DO NOTHING plus a SELECT: a gateway whose INSERT waited
-- on another's would SELECT with a snapshot from before that commit and find no row, where
-- DO UPDATE locks and returns the committed row.
INSERT INTO gateway_secrets (name, value) VALUES (:name, :candidate)
ON CONFLICT (name) DO UPDATE SET value = gateway_secrets.value
RETURNING value;
