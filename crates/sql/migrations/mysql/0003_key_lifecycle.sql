-- api-key-auth: a key's life. `replaces` names the key a rotation replaced,
-- `replaced_by` the key that replaced this one (its grace period runs until
-- `expires_ms`); `last_used_ms` is when it was last used (Unix ms, written in
-- batches by the last-use tracker). A statement per
-- column: MySQL commits each at once, and a run cut short is finished by the
-- next, which skips the columns already there.
ALTER TABLE api_keys ADD COLUMN replaces VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
ALTER TABLE api_keys ADD COLUMN replaced_by VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
ALTER TABLE api_keys ADD COLUMN last_used_ms BIGINT NULL;
