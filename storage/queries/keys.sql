-- name: create_client_key
INSERT INTO client_keys (name, key_hash, prefix) VALUES (:name, :key_hash, :prefix)
RETURNING id, name, prefix, created_at;

-- name: list_client_keys
SELECT id, name, prefix, created_at, revoked_at FROM client_keys ORDER BY id;

-- name: revoke_client_key
-- By name (the live key of that name) or by id; the revoked key's row stays, so the
-- conversations it owns stay owned (and unreachable) instead of becoming anyone's.
UPDATE client_keys SET revoked_at = now()
WHERE revoked_at IS NULL AND (name = :name OR id::text = :name)
RETURNING id, name;

-- name: client_key_by_hash
SELECT id, name, key_hash FROM client_keys WHERE key_hash = :key_hash AND revoked_at IS NULL;

-- name: live_client_key
SELECT id, name FROM client_keys WHERE id = :id AND revoked_at IS NULL;

-- name: count_live_client_keys
SELECT count(*) FROM client_keys WHERE revoked_at IS NULL;

-- name: shared_secret
-- The first gateway to ask stores its candidate; every gateway gets the one stored. DO UPDATE
-- (which changes nothing) rather than DO NOTHING plus a SELECT: a gateway whose INSERT waited
-- on another's would SELECT with a snapshot from before that commit and find no row, where
-- DO UPDATE locks and returns the committed row.
INSERT INTO gateway_secrets (name, value) VALUES (:name, :candidate)
ON CONFLICT (name) DO UPDATE SET value = gateway_secrets.value
RETURNING value;
