-- Photos and documents of a lot, and the destruction record's photos (of a plan): the bytes are in the
-- one blob store (shared/blobstore.py) under their SHA-256; here, which owner has which file.
CREATE TABLE files (
    owner        text        NOT NULL,     -- a lot id or a destruction plan id
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    kind         text        NOT NULL CHECK (kind IN ('photo', 'document')),
    content_type text        NOT NULL,     -- as sniffed from the bytes
    size_bytes   integer     NOT NULL,
    removed      text[]      NOT NULL DEFAULT '{}',   -- metadata stripped (exif, xmp, iptc, comment, text, time)
    added_by     text        NOT NULL,
    added_at     timestamptz NOT NULL,
    PRIMARY KEY (owner, sha256)
);
