-- The migration ledger. The runner holds an advisory lock on a dedicated connection while it
-- reads the ledger and applies files, so two processes starting at once never both apply one.

-- name: create_ledger
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT version, name, checksum FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, name, checksum) VALUES (:version, :name, :checksum);

-- name: lock_migrations
SELECT pg_advisory_lock(:key);

-- name: unlock_migrations
SELECT pg_advisory_unlock(:key);
