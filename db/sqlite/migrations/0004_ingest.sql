-- Server-side ingest tokens and access-log import offsets.

-- Bearer tokens for POST /api/ingest created with `sitelens token create`; only a SHA-256 of the token is kept,
-- so a leaked database does not leak working tokens. Tokens from the config file are never copied here.
CREATE TABLE ingest_tokens (
    id            INTEGER PRIMARY KEY,
    site          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,     -- hex SHA-256 of the token
    label         TEXT    NOT NULL DEFAULT '',
    created       REAL    NOT NULL,
    revoked       REAL                          -- NULL while the token works
);

-- How far each imported access-log file has been read, so importing it again adds nothing.
-- A file is known by device + inode + a hash of its first line; the offset is in (decompressed) bytes.
CREATE TABLE import_files (
    id            INTEGER PRIMARY KEY,
    device        INTEGER NOT NULL,
    inode         INTEGER NOT NULL,
    head_hash     TEXT    NOT NULL,
    path          TEXT    NOT NULL DEFAULT '',  -- last path it was imported from (for display only)
    offset        INTEGER NOT NULL DEFAULT 0,
    lines         INTEGER NOT NULL DEFAULT 0,
    updated       REAL    NOT NULL,
    UNIQUE (device, inode, head_hash)
);
CREATE INDEX import_files_head ON import_files (head_hash);
