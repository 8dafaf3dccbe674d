-- api-key-auth: the key table. Times are Unix milliseconds (UTC); scopes a
-- JSON array of strings; metadata a JSON object of strings. Ids and prefixes
-- are compared byte for byte (a binary collation), as keys are.
CREATE TABLE IF NOT EXISTS api_keys (
    id          VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    prefix      VARCHAR(8)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    hashed_key  VARCHAR(255) NOT NULL,
    name        TEXT         NOT NULL,
    created_ms  BIGINT       NOT NULL,
    expires_ms  BIGINT,
    revoked     BOOLEAN      NOT NULL DEFAULT FALSE,
    scopes      TEXT         NOT NULL,
    owner       TEXT,
    metadata    TEXT         NOT NULL,
    UNIQUE KEY api_keys_prefix (prefix)
) CHARACTER SET utf8mb4;
