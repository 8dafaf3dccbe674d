-- api-key-auth: the key table. Times are Unix milliseconds (UTC); scopes a
-- JSON array of strings; metadata a JSON object of strings.
CREATE TABLE IF NOT EXISTS api_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    prefix      TEXT    NOT NULL,
    hashed_key  TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE,
    scopes      TEXT    NOT NULL DEFAULT '[]',
    owner       TEXT,
    metadata    TEXT    NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (prefix);
