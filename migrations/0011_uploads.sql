-- Images: their bytes once per SHA-256 (the same image uploaded by many keys, or many times,
-- is stored once), and each key's uploads of them (an id per key and image). A message's
-- images are listed in order; a conversation's deletion takes the lists, not the uploads.
CREATE TABLE images (
    sha256      bytea PRIMARY KEY,
    media_type  text NOT NULL CHECK (media_type IN ('image/png', 'image/jpeg', 'image/webp', 'image/gif')),
    bytes       integer NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    data        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Owned as conversations are: the client key's id, NULL in open mode; every lookup names the
-- owner as coalesce(owner_key_id, 0).
CREATE TABLE uploads (
    id            text PRIMARY KEY,             -- random, at least 128 bits, URL-safe
    owner_key_id  bigint REFERENCES client_keys (id),
    sha256        bytea NOT NULL REFERENCES images (sha256),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uploads_owner_image_idx ON uploads ((coalesce(owner_key_id, 0)), sha256);

CREATE TABLE message_images (
    message_id  bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    upload_id   text NOT NULL REFERENCES uploads (id),
    PRIMARY KEY (message_id, position)
);
CREATE INDEX message_images_upload_idx ON message_images (upload_id);
