-- Uploaded images (migration 0011). Uploads belong to a client key: every query names the
-- owner as the key's id, or 0 in open mode, as conversations.sql does.

-- name: store_upload
-- The image's bytes once per SHA-256, and the owner's upload of it once: the same image sent
-- again by the same key gets the upload it already has. Foreign keys are checked at the end of
-- the statement, so the upload may point at the image inserted beside it; the second SELECT
-- sees only what existed before the statement, which is the case it is there for.
WITH image AS (
    INSERT INTO images (sha256, media_type, bytes, width, height, data)
    VALUES (:sha256, :media_type, :bytes, :width, :height, :data)
    ON CONFLICT (sha256) DO NOTHING
), upload AS (
    INSERT INTO uploads (id, owner_key_id, sha256)
    VALUES (:id, nullif(:owner::bigint, 0), :sha256)
    ON CONFLICT ((coalesce(owner_key_id, 0)), sha256) DO NOTHING
    RETURNING id, created_at
)
SELECT id, created_at FROM upload
UNION ALL
SELECT id, created_at FROM uploads
WHERE coalesce(owner_key_id, 0) = :owner::bigint AND sha256 = :sha256
LIMIT 1;

-- name: get_upload
SELECT u.id, u.created_at, i.sha256, i.media_type, i.bytes, i.width, i.height, i.data
FROM uploads u JOIN images i ON i.sha256 = u.sha256
WHERE u.id = :id AND coalesce(u.owner_key_id, 0) = :owner::bigint;

-- name: owned_uploads
-- Which of these uploads are the owner's (what a turn may attach), without their bytes.
SELECT u.id, i.media_type, i.bytes, i.width, i.height
FROM uploads u JOIN images i ON i.sha256 = u.sha256
WHERE u.id = ANY(:ids::text[]) AND coalesce(u.owner_key_id, 0) = :owner::bigint;

-- name: upload_images
-- The bytes of uploads a conversation's messages hold (its owner's, checked when attached).
SELECT u.id, i.media_type, i.width, i.height, i.data
FROM uploads u JOIN images i ON i.sha256 = u.sha256
WHERE u.id = ANY(:ids::text[]);
