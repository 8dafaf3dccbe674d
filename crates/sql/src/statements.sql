-- Every statement the SQL stores run, by database and schema.
-- Pinned by api-key-auth-sql's statements::tests; after a deliberate change run
--   UPDATE_SQL=1 cargo test -p api-key-auth-sql --all-features --lib statements

-- ==== Sqlite, native ====
-- find
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE prefix = ?1;
-- find by id
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id = ?1;
-- list
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys ORDER BY created_ms, id;
-- insert
INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17);
-- revoke
UPDATE api_keys SET revoked = TRUE WHERE id = ?1 RETURNING prefix;
-- rotation, the old row locked
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id = ?1;
-- rotation, the old row retired
UPDATE api_keys SET revoked = ?1, expires_ms = ?2, replaced_by = ?3 WHERE id = ?4;
-- legacy hash upgraded
UPDATE api_keys SET hashed_key = ?1 WHERE prefix = ?2 AND hashed_key = ?3 AND length(?4) > 0;
-- suspend
UPDATE api_keys SET suspended = TRUE WHERE id = ?1;
-- resume
UPDATE api_keys SET suspended = FALSE WHERE id = ?1;
-- last use, two keys
UPDATE api_keys SET last_used_ms = v.ms FROM (SELECT column1 AS id, column2 AS ms FROM (VALUES (?1, ?2), (?3, ?4))) AS v WHERE api_keys.id = v.id AND (api_keys.last_used_ms IS NULL OR api_keys.last_used_ms < v.ms);
-- page, all, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 ORDER BY api_keys.id LIMIT ?2;
-- page, active, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?2) AND suspended = FALSE ORDER BY api_keys.id LIMIT ?3;
-- page, revoked, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = TRUE ORDER BY api_keys.id LIMIT ?2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND expires_ms IS NOT NULL AND expires_ms <= ?2 ORDER BY api_keys.id LIMIT ?3;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?2) AND suspended = TRUE ORDER BY api_keys.id LIMIT ?3;
-- page, active and unused, binding [Cursor, Now, UnusedSince, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?2) AND suspended = FALSE AND COALESCE(last_used_ms, created_ms) < ?3 ORDER BY api_keys.id LIMIT ?4;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?2) AND suspended = FALSE AND expires_ms IS NOT NULL AND expires_ms > ?3 AND expires_ms <= ?4 ORDER BY api_keys.id LIMIT ?5;
-- page, active and owned, binding [Cursor, Now, Owner, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, CASE WHEN typeof(suspended) = 'integer' AND suspended IN (0, 1) THEN suspended END AS suspended, allowed_from FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?2) AND suspended = FALSE AND owner = ?3 ORDER BY api_keys.id LIMIT ?4;
-- change log, installed
CREATE TABLE IF NOT EXISTS "api_key_auth_changes" (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT);
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_upd6_api_keys_0def8d01" AFTER UPDATE OF id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata, replaces, replaced_by, rate_limit, lineage, suspended, allowed_from ON "api_keys" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); INSERT INTO "api_key_auth_changes" (prefix) SELECT CAST(NEW.prefix AS TEXT) WHERE NEW.prefix IS NOT OLD.prefix; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_del_api_keys_0def8d01" AFTER DELETE ON "api_keys" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END;
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd6_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_del_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd2_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd3_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd4_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd5_api_keys_0def8d01";
-- change log, read
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq > ?1 ORDER BY seq LIMIT ?2;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM "api_key_auth_changes";
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM "api_key_auth_changes";
-- change log, trim
DELETE FROM "api_key_auth_changes" WHERE seq <= ?1;
-- change log, triggers present
SELECT COUNT(*) FROM "sqlite_master" WHERE type = 'trigger' AND name IN ('api_key_auth_log_upd6_api_keys_0def8d01', 'api_key_auth_log_del_api_keys_0def8d01') AND tbl_name = 'api_keys';
-- change log, skipped entries read again
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3;
-- change log, one entry
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq = ?1;
-- change log, anything new?
PRAGMA data_version;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = ?1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING;

-- ==== Sqlite, drf ====
-- find
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE prefix = ?1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix = ?1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" ORDER BY created, id;
-- insert
INSERT INTO "rest_framework_api_key_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%d %H:%M:%f', ?5 / 1000.0, 'unixepoch'), strftime('%Y-%m-%d %H:%M:%f', ?6 / 1000.0, 'unixepoch'), ?7);
-- revoke
UPDATE "rest_framework_api_key_apikey" SET revoked = TRUE WHERE prefix = ?1 RETURNING prefix;
-- rotation, the old row locked
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix = ?1;
-- rotation, the old row retired
UPDATE "rest_framework_api_key_apikey" SET revoked = ?1, expiry_date = strftime('%Y-%m-%d %H:%M:%f', ?2 / 1000.0, 'unixepoch') WHERE prefix = ?3;
-- legacy hash upgraded
UPDATE "rest_framework_api_key_apikey" SET hashed_key = ?1 WHERE prefix = ?2 AND hashed_key = ?3 AND length(?4) > 0;
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = TRUE ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NOT NULL AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) <= ?2 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?3;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) AND 1 = 0 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?3;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NOT NULL AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?3 AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) <= ?4 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?5;
-- page, active and owned, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) AND 1 = 0 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?3;
-- change log, installed
CREATE TABLE IF NOT EXISTS "api_key_auth_changes" (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT);
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_upd_rest_framework_api_key_apikey_09857368" AFTER UPDATE ON "rest_framework_api_key_apikey" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); INSERT INTO "api_key_auth_changes" (prefix) SELECT CAST(NEW.prefix AS TEXT) WHERE NEW.prefix IS NOT OLD.prefix; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_del_rest_framework_api_key_apikey_09857368" AFTER DELETE ON "rest_framework_api_key_apikey" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END;
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd_rest_framework_api_key_apikey_09857368";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_del_rest_framework_api_key_apikey_09857368";
-- change log, read
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq > ?1 ORDER BY seq LIMIT ?2;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM "api_key_auth_changes";
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM "api_key_auth_changes";
-- change log, trim
DELETE FROM "api_key_auth_changes" WHERE seq <= ?1;
-- change log, triggers present
SELECT COUNT(*) FROM "sqlite_master" WHERE type = 'trigger' AND name IN ('api_key_auth_log_upd_rest_framework_api_key_apikey_09857368', 'api_key_auth_log_del_rest_framework_api_key_apikey_09857368') AND tbl_name = 'rest_framework_api_key_apikey';
-- change log, skipped entries read again
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3;
-- change log, one entry
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq = ?1;
-- change log, anything new?
PRAGMA data_version;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = ?1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING;

-- ==== Sqlite, drf, schema-qualified ====
-- find
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE prefix = ?1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix = ?1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" ORDER BY created, id;
-- insert
INSERT INTO "keys"."app_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%d %H:%M:%f', ?5 / 1000.0, 'unixepoch'), strftime('%Y-%m-%d %H:%M:%f', ?6 / 1000.0, 'unixepoch'), ?7);
-- revoke
UPDATE "keys"."app_apikey" SET revoked = TRUE WHERE prefix = ?1 RETURNING prefix;
-- rotation, the old row locked
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix = ?1;
-- rotation, the old row retired
UPDATE "keys"."app_apikey" SET revoked = ?1, expiry_date = strftime('%Y-%m-%d %H:%M:%f', ?2 / 1000.0, 'unixepoch') WHERE prefix = ?3;
-- legacy hash upgraded
UPDATE "keys"."app_apikey" SET hashed_key = ?1 WHERE prefix = ?2 AND hashed_key = ?3 AND length(?4) > 0;
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 ORDER BY "keys"."app_apikey".prefix LIMIT ?2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) ORDER BY "keys"."app_apikey".prefix LIMIT ?3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = TRUE ORDER BY "keys"."app_apikey".prefix LIMIT ?2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NOT NULL AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) <= ?2 ORDER BY "keys"."app_apikey".prefix LIMIT ?3;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) AND 1 = 0 ORDER BY "keys"."app_apikey".prefix LIMIT ?3;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NOT NULL AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?3 AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) <= ?4 ORDER BY "keys"."app_apikey".prefix LIMIT ?5;
-- page, active and owned, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) AND 1 = 0 ORDER BY "keys"."app_apikey".prefix LIMIT ?3;
-- change log, installed
CREATE TABLE IF NOT EXISTS "keys"."api_key_auth_changes" (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT);
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "keys"."api_key_auth_log_upd_app_apikey_38b460aa" AFTER UPDATE ON "app_apikey" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); INSERT INTO "api_key_auth_changes" (prefix) SELECT CAST(NEW.prefix AS TEXT) WHERE NEW.prefix IS NOT OLD.prefix; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "keys"."api_key_auth_log_del_app_apikey_38b460aa" AFTER DELETE ON "app_apikey" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END;
-- change log, triggers removed
DROP TRIGGER IF EXISTS "keys"."api_key_auth_log_upd_app_apikey_38b460aa";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "keys"."api_key_auth_log_del_app_apikey_38b460aa";
-- change log, read
SELECT seq, prefix FROM "keys"."api_key_auth_changes" WHERE seq > ?1 ORDER BY seq LIMIT ?2;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM "keys"."api_key_auth_changes";
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM "keys"."api_key_auth_changes";
-- change log, trim
DELETE FROM "keys"."api_key_auth_changes" WHERE seq <= ?1;
-- change log, triggers present
SELECT COUNT(*) FROM "keys"."sqlite_master" WHERE type = 'trigger' AND name IN ('api_key_auth_log_upd_app_apikey_38b460aa', 'api_key_auth_log_del_app_apikey_38b460aa') AND tbl_name = 'app_apikey';
-- change log, skipped entries read again
SELECT seq, prefix FROM "keys"."api_key_auth_changes" WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3;
-- change log, one entry
SELECT seq, prefix FROM "keys"."api_key_auth_changes" WHERE seq = ?1;
-- change log, anything new?
PRAGMA "keys".data_version;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = ?1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING;

-- ==== Postgres, native ====
-- find
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE prefix = $1;
-- find by id
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id = $1;
-- list
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys ORDER BY created_ms, id;
-- insert
INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17);
-- revoke
UPDATE api_keys SET revoked = TRUE WHERE id = $1 RETURNING prefix;
-- in the revoking transaction
SELECT pg_notify($1, $2);
-- rotation, the old row locked
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id = $1 FOR UPDATE;
-- rotation, the old row retired
UPDATE api_keys SET revoked = $1, expires_ms = $2, replaced_by = $3 WHERE id = $4;
-- legacy hash upgraded
UPDATE api_keys SET hashed_key = $1 WHERE prefix = $2 AND hashed_key = $3 AND char_length(CAST($4 AS TEXT)) <= COALESCE((SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'api_keys' AND column_name = 'hashed_key'), 2147483647);
-- suspend
UPDATE api_keys SET suspended = TRUE WHERE id = $1;
-- resume
UPDATE api_keys SET suspended = FALSE WHERE id = $1;
-- last use, two keys
UPDATE api_keys SET last_used_ms = v.ms FROM (VALUES (CAST($1 AS TEXT), CAST($2 AS BIGINT)), (CAST($3 AS TEXT), CAST($4 AS BIGINT))) AS v(id, ms) WHERE api_keys.id = v.id AND (api_keys.last_used_ms IS NULL OR api_keys.last_used_ms < v.ms);
-- page, all, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 ORDER BY api_keys.id LIMIT $2;
-- page, active, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > $2) AND suspended = FALSE ORDER BY api_keys.id LIMIT $3;
-- page, revoked, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = TRUE ORDER BY api_keys.id LIMIT $2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND expires_ms IS NOT NULL AND expires_ms <= $2 ORDER BY api_keys.id LIMIT $3;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > $2) AND suspended = TRUE ORDER BY api_keys.id LIMIT $3;
-- page, active and unused, binding [Cursor, Now, UnusedSince, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > $2) AND suspended = FALSE AND COALESCE(last_used_ms, created_ms) < $3 ORDER BY api_keys.id LIMIT $4;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > $2) AND suspended = FALSE AND expires_ms IS NOT NULL AND expires_ms > $3 AND expires_ms <= $4 ORDER BY api_keys.id LIMIT $5;
-- page, active and owned, binding [Cursor, Now, Owner, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > $2) AND suspended = FALSE AND owner = $3 ORDER BY api_keys.id LIMIT $4;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_used_ms') = (to_jsonb(OLD) - 'last_used_ms') THEN RETURN NULL; END IF; PERFORM pg_notify('api_key_auth_revoked', OLD.prefix); IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN PERFORM pg_notify('api_key_auth_revoked', NEW.prefix); END IF; RETURN NULL; END $$;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('api_key_auth_revoked', '*'); RETURN NULL; END $$;
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON api_keys;
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change();
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON api_keys;
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_truncate AFTER TRUNCATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION api_key_auth_announce_truncate();
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON api_keys;
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON api_keys;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = $1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- ==== Postgres, drf ====
-- find
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE prefix = $1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix = $1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" ORDER BY created, id;
-- insert
INSERT INTO "rest_framework_api_key_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES ($1, $2, $3, $4, to_timestamp(CAST($5 AS DOUBLE PRECISION) / 1000.0), to_timestamp(CAST($6 AS DOUBLE PRECISION) / 1000.0), $7);
-- revoke
UPDATE "rest_framework_api_key_apikey" SET revoked = TRUE WHERE prefix = $1 RETURNING prefix;
-- in the revoking transaction
SELECT pg_notify($1, $2);
-- rotation, the old row locked
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix = $1 FOR UPDATE;
-- rotation, the old row retired
UPDATE "rest_framework_api_key_apikey" SET revoked = $1, expiry_date = to_timestamp(CAST($2 AS DOUBLE PRECISION) / 1000.0) WHERE prefix = $3;
-- legacy hash upgraded
UPDATE "rest_framework_api_key_apikey" SET hashed_key = $1 WHERE prefix = $2 AND hashed_key = $3 AND char_length(CAST($4 AS TEXT)) <= COALESCE((SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'rest_framework_api_key_apikey' AND column_name = 'hashed_key'), 2147483647);
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = TRUE ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NOT NULL AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) <= $2 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $3;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) AND 1 = 0 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $3;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NOT NULL AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $3 AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) <= $4 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $5;
-- page, active and owned, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) AND 1 = 0 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $3;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_used_ms') = (to_jsonb(OLD) - 'last_used_ms') THEN RETURN NULL; END IF; PERFORM pg_notify('api_key_auth_revoked', OLD.prefix); IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN PERFORM pg_notify('api_key_auth_revoked', NEW.prefix); END IF; RETURN NULL; END $$;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('api_key_auth_revoked', '*'); RETURN NULL; END $$;
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "rest_framework_api_key_apikey";
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON "rest_framework_api_key_apikey" FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change();
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON "rest_framework_api_key_apikey";
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_truncate AFTER TRUNCATE ON "rest_framework_api_key_apikey" FOR EACH STATEMENT EXECUTE FUNCTION api_key_auth_announce_truncate();
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "rest_framework_api_key_apikey";
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON "rest_framework_api_key_apikey";
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = $1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- ==== Postgres, drf, schema-qualified ====
-- find
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE prefix = $1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix = $1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" ORDER BY created, id;
-- insert
INSERT INTO "keys"."app_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES ($1, $2, $3, $4, to_timestamp(CAST($5 AS DOUBLE PRECISION) / 1000.0), to_timestamp(CAST($6 AS DOUBLE PRECISION) / 1000.0), $7);
-- revoke
UPDATE "keys"."app_apikey" SET revoked = TRUE WHERE prefix = $1 RETURNING prefix;
-- in the revoking transaction
SELECT pg_notify($1, $2);
-- rotation, the old row locked
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix = $1 FOR UPDATE;
-- rotation, the old row retired
UPDATE "keys"."app_apikey" SET revoked = $1, expiry_date = to_timestamp(CAST($2 AS DOUBLE PRECISION) / 1000.0) WHERE prefix = $3;
-- legacy hash upgraded
UPDATE "keys"."app_apikey" SET hashed_key = $1 WHERE prefix = $2 AND hashed_key = $3 AND char_length(CAST($4 AS TEXT)) <= COALESCE((SELECT character_maximum_length FROM information_schema.columns WHERE table_schema = 'keys' AND table_name = 'app_apikey' AND column_name = 'hashed_key'), 2147483647);
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 ORDER BY "keys"."app_apikey".prefix LIMIT $2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) ORDER BY "keys"."app_apikey".prefix LIMIT $3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = TRUE ORDER BY "keys"."app_apikey".prefix LIMIT $2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NOT NULL AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) <= $2 ORDER BY "keys"."app_apikey".prefix LIMIT $3;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) AND 1 = 0 ORDER BY "keys"."app_apikey".prefix LIMIT $3;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NOT NULL AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $3 AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) <= $4 ORDER BY "keys"."app_apikey".prefix LIMIT $5;
-- page, active and owned, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata, CAST(NULL AS TEXT) AS replaces, CAST(NULL AS TEXT) AS replaced_by, CAST(NULL AS BIGINT) AS last_used_ms, CAST(NULL AS TEXT) AS rate_limit, CAST(NULL AS TEXT) AS lineage, CAST(NULL AS TEXT) AS allowed_from FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) AND 1 = 0 ORDER BY "keys"."app_apikey".prefix LIMIT $3;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_used_ms') = (to_jsonb(OLD) - 'last_used_ms') THEN RETURN NULL; END IF; PERFORM pg_notify('api_key_auth_revoked', OLD.prefix); IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN PERFORM pg_notify('api_key_auth_revoked', NEW.prefix); END IF; RETURN NULL; END $$;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('api_key_auth_revoked', '*'); RETURN NULL; END $$;
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "keys"."app_apikey";
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON "keys"."app_apikey" FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change();
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON "keys"."app_apikey";
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_truncate AFTER TRUNCATE ON "keys"."app_apikey" FOR EACH STATEMENT EXECUTE FUNCTION api_key_auth_announce_truncate();
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "keys"."app_apikey";
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_truncate ON "keys"."app_apikey";
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = $1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- ==== MySql, native ====
-- find
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE prefix = ?;
-- find by id
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id = ?;
-- list
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys ORDER BY created_ms, id;
-- insert
INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata, replaces, replaced_by, last_used_ms, rate_limit, lineage, suspended, allowed_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
-- revoke
SELECT CAST(prefix AS CHAR) AS prefix FROM api_keys WHERE id = ? FOR UPDATE;
-- revoke, then
UPDATE api_keys SET revoked = TRUE WHERE id = ?;
-- rotation, the old row locked
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id = ? FOR UPDATE;
-- rotation, the old row retired
UPDATE api_keys SET revoked = ?, expires_ms = ?, replaced_by = ? WHERE id = ?;
-- legacy hash upgraded
UPDATE api_keys SET hashed_key = ? WHERE prefix = ? AND hashed_key = ? AND CHAR_LENGTH(?) <= COALESCE((SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'api_keys' AND COLUMN_NAME = 'hashed_key'), 4294967295);
-- suspend
UPDATE api_keys SET suspended = TRUE WHERE id = ?;
-- resume
UPDATE api_keys SET suspended = FALSE WHERE id = ?;
-- last use, two keys
UPDATE api_keys JOIN (SELECT ? AS id, CAST(? AS SIGNED) AS ms UNION ALL SELECT ?, ?) AS v ON api_keys.id = v.id SET api_keys.last_used_ms = v.ms WHERE (api_keys.last_used_ms IS NULL OR api_keys.last_used_ms < v.ms);
-- page, all, binding [Cursor, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? ORDER BY api_keys.id LIMIT ?;
-- page, active, binding [Cursor, Now, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?) AND suspended = FALSE ORDER BY api_keys.id LIMIT ?;
-- page, revoked, binding [Cursor, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = TRUE ORDER BY api_keys.id LIMIT ?;
-- page, expired, binding [Cursor, Now, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND expires_ms IS NOT NULL AND expires_ms <= ? ORDER BY api_keys.id LIMIT ?;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?) AND suspended = TRUE ORDER BY api_keys.id LIMIT ?;
-- page, active and unused, binding [Cursor, Now, UnusedSince, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?) AND suspended = FALSE AND COALESCE(last_used_ms, created_ms) < ? ORDER BY api_keys.id LIMIT ?;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?) AND suspended = FALSE AND expires_ms IS NOT NULL AND expires_ms > ? AND expires_ms <= ? ORDER BY api_keys.id LIMIT ?;
-- page, active and owned, binding [Cursor, Now, Owner, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata, CAST(replaces AS CHAR) AS replaces, CAST(replaced_by AS CHAR) AS replaced_by, last_used_ms, CAST(rate_limit AS CHAR) AS rate_limit, CAST(lineage AS CHAR) AS lineage, CASE WHEN suspended IN (0, 1) THEN suspended END AS suspended, CAST(allowed_from AS CHAR) AS allowed_from FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?) AND suspended = FALSE AND CAST(owner AS BINARY) = CAST(? AS BINARY) ORDER BY api_keys.id LIMIT ?;
-- change log, installed
CREATE TABLE IF NOT EXISTS `api_key_auth_changes` (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, prefix VARCHAR(255) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_upd6_api_keys_0def8d01` AFTER UPDATE ON `api_keys` FOR EACH ROW BEGIN IF NOT (CAST(NEW.id AS BINARY) <=> CAST(OLD.id AS BINARY) AND CAST(NEW.prefix AS BINARY) <=> CAST(OLD.prefix AS BINARY) AND CAST(NEW.hashed_key AS BINARY) <=> CAST(OLD.hashed_key AS BINARY) AND CAST(NEW.name AS BINARY) <=> CAST(OLD.name AS BINARY) AND CAST(NEW.created_ms AS BINARY) <=> CAST(OLD.created_ms AS BINARY) AND CAST(NEW.expires_ms AS BINARY) <=> CAST(OLD.expires_ms AS BINARY) AND CAST(NEW.revoked AS BINARY) <=> CAST(OLD.revoked AS BINARY) AND CAST(NEW.scopes AS BINARY) <=> CAST(OLD.scopes AS BINARY) AND CAST(NEW.owner AS BINARY) <=> CAST(OLD.owner AS BINARY) AND CAST(NEW.metadata AS BINARY) <=> CAST(OLD.metadata AS BINARY) AND CAST(NEW.replaces AS BINARY) <=> CAST(OLD.replaces AS BINARY) AND CAST(NEW.replaced_by AS BINARY) <=> CAST(OLD.replaced_by AS BINARY) AND CAST(NEW.rate_limit AS BINARY) <=> CAST(OLD.rate_limit AS BINARY) AND CAST(NEW.lineage AS BINARY) <=> CAST(OLD.lineage AS BINARY) AND CAST(NEW.suspended AS BINARY) <=> CAST(OLD.suspended AS BINARY) AND CAST(NEW.allowed_from AS BINARY) <=> CAST(OLD.allowed_from AS BINARY)) THEN INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix); IF NOT (NEW.prefix <=> OLD.prefix) THEN INSERT INTO `api_key_auth_changes` (prefix) VALUES (NEW.prefix); END IF; END IF; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_del_api_keys_0def8d01` AFTER DELETE ON `api_keys` FOR EACH ROW INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix);
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd6_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_del_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd2_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd3_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd4_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd5_api_keys_0def8d01`;
-- change log, read
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq > ? ORDER BY seq LIMIT ?;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM `api_key_auth_changes`;
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM `api_key_auth_changes`;
-- change log, trim
DELETE FROM `api_key_auth_changes` WHERE seq <= ?;
-- change log, triggers present
SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN ('api_key_auth_log_upd6_api_keys_0def8d01', 'api_key_auth_log_del_api_keys_0def8d01') AND EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'api_keys';
-- change log, skipped entries read again
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?;
-- change log, one entry
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq = ?;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = ?;
-- migration recorded
INSERT IGNORE INTO api_key_auth_migrations (version, applied_ms) VALUES (?, ?);

-- ==== MySql, drf ====
-- find
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE prefix = ?;
-- find by id
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix = ?;
-- list
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` ORDER BY created, id;
-- insert
INSERT INTO `rest_framework_api_key_apikey` (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?, ?, ?, ?, TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), ?);
-- revoke
SELECT CAST(prefix AS CHAR) AS prefix FROM `rest_framework_api_key_apikey` WHERE prefix = ? FOR UPDATE;
-- revoke, then
UPDATE `rest_framework_api_key_apikey` SET revoked = TRUE WHERE prefix = ?;
-- rotation, the old row locked
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix = ? FOR UPDATE;
-- rotation, the old row retired
UPDATE `rest_framework_api_key_apikey` SET revoked = ?, expiry_date = TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00') WHERE prefix = ?;
-- legacy hash upgraded
UPDATE `rest_framework_api_key_apikey` SET hashed_key = ? WHERE prefix = ? AND hashed_key = ? AND CHAR_LENGTH(?) <= COALESCE((SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'rest_framework_api_key_apikey' AND COLUMN_NAME = 'hashed_key'), 4294967295);
-- page, all, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, active, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, revoked, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = TRUE ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, expired, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NOT NULL AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) <= ? ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) AND 1 = 0 ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NOT NULL AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ? AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) <= ? ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, active and owned, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) AND 1 = 0 ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- change log, installed
CREATE TABLE IF NOT EXISTS `api_key_auth_changes` (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, prefix VARCHAR(255) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_upd_rest_framework_api_key_apikey_09857368` AFTER UPDATE ON `rest_framework_api_key_apikey` FOR EACH ROW BEGIN INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix); IF NOT (NEW.prefix <=> OLD.prefix) THEN INSERT INTO `api_key_auth_changes` (prefix) VALUES (NEW.prefix); END IF; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_del_rest_framework_api_key_apikey_09857368` AFTER DELETE ON `rest_framework_api_key_apikey` FOR EACH ROW INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix);
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd_rest_framework_api_key_apikey_09857368`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_del_rest_framework_api_key_apikey_09857368`;
-- change log, read
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq > ? ORDER BY seq LIMIT ?;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM `api_key_auth_changes`;
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM `api_key_auth_changes`;
-- change log, trim
DELETE FROM `api_key_auth_changes` WHERE seq <= ?;
-- change log, triggers present
SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN ('api_key_auth_log_upd_rest_framework_api_key_apikey_09857368', 'api_key_auth_log_del_rest_framework_api_key_apikey_09857368') AND EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'rest_framework_api_key_apikey';
-- change log, skipped entries read again
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?;
-- change log, one entry
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq = ?;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = ?;
-- migration recorded
INSERT IGNORE INTO api_key_auth_migrations (version, applied_ms) VALUES (?, ?);

-- ==== MySql, drf, schema-qualified ====
-- find
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE prefix = ?;
-- find by id
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix = ?;
-- list
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` ORDER BY created, id;
-- insert
INSERT INTO `keys`.`app_apikey` (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?, ?, ?, ?, TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), ?);
-- revoke
SELECT CAST(prefix AS CHAR) AS prefix FROM `keys`.`app_apikey` WHERE prefix = ? FOR UPDATE;
-- revoke, then
UPDATE `keys`.`app_apikey` SET revoked = TRUE WHERE prefix = ?;
-- rotation, the old row locked
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix = ? FOR UPDATE;
-- rotation, the old row retired
UPDATE `keys`.`app_apikey` SET revoked = ?, expiry_date = TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00') WHERE prefix = ?;
-- legacy hash upgraded
UPDATE `keys`.`app_apikey` SET hashed_key = ? WHERE prefix = ? AND hashed_key = ? AND CHAR_LENGTH(?) <= COALESCE((SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'keys' AND TABLE_NAME = 'app_apikey' AND COLUMN_NAME = 'hashed_key'), 4294967295);
-- page, all, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, active, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, revoked, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = TRUE ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, expired, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NOT NULL AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) <= ? ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, suspended, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) AND 1 = 0 ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, active and expiring, binding [Cursor, Now, Now, ExpiringBefore, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NOT NULL AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ? AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) <= ? ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, active and owned, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN revoked IN (0, 1) THEN revoked END AS revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata, CAST(NULL AS CHAR) AS replaces, CAST(NULL AS CHAR) AS replaced_by, CAST(NULL AS SIGNED) AS last_used_ms, CAST(NULL AS CHAR) AS rate_limit, CAST(NULL AS CHAR) AS lineage, CAST(NULL AS CHAR) AS allowed_from FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) AND 1 = 0 ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- change log, installed
CREATE TABLE IF NOT EXISTS `keys`.`api_key_auth_changes` (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, prefix VARCHAR(255) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `keys`.`api_key_auth_log_upd_app_apikey_38b460aa` AFTER UPDATE ON `keys`.`app_apikey` FOR EACH ROW BEGIN INSERT INTO `keys`.`api_key_auth_changes` (prefix) VALUES (OLD.prefix); IF NOT (NEW.prefix <=> OLD.prefix) THEN INSERT INTO `keys`.`api_key_auth_changes` (prefix) VALUES (NEW.prefix); END IF; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `keys`.`api_key_auth_log_del_app_apikey_38b460aa` AFTER DELETE ON `keys`.`app_apikey` FOR EACH ROW INSERT INTO `keys`.`api_key_auth_changes` (prefix) VALUES (OLD.prefix);
-- change log, triggers removed
DROP TRIGGER IF EXISTS `keys`.`api_key_auth_log_upd_app_apikey_38b460aa`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `keys`.`api_key_auth_log_del_app_apikey_38b460aa`;
-- change log, read
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `keys`.`api_key_auth_changes` WHERE seq > ? ORDER BY seq LIMIT ?;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM `keys`.`api_key_auth_changes`;
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM `keys`.`api_key_auth_changes`;
-- change log, trim
DELETE FROM `keys`.`api_key_auth_changes` WHERE seq <= ?;
-- change log, triggers present
SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'keys' AND TRIGGER_NAME IN ('api_key_auth_log_upd_app_apikey_38b460aa', 'api_key_auth_log_del_app_apikey_38b460aa') AND EVENT_OBJECT_SCHEMA = 'keys' AND EVENT_OBJECT_TABLE = 'app_apikey';
-- change log, skipped entries read again
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `keys`.`api_key_auth_changes` WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?;
-- change log, one entry
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `keys`.`api_key_auth_changes` WHERE seq = ?;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = ?;
-- migration recorded
INSERT IGNORE INTO api_key_auth_migrations (version, applied_ms) VALUES (?, ?);
