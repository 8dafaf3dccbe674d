-- Every statement the SQL stores run, by database and schema.
-- Pinned by store::sql::statements::tests; after a deliberate change run
--   UPDATE_SQL=1 cargo test --all-features --lib statements

-- ==== Sqlite, native ====
-- find
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys WHERE prefix = ?1;
-- find by id
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id = ?1;
-- list
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys ORDER BY created_ms, id;
-- insert
INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10);
-- revoke
UPDATE api_keys SET revoked = TRUE WHERE id = ?1 RETURNING prefix;
-- page, all, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > ?1 ORDER BY api_keys.id LIMIT ?2;
-- page, active, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY api_keys.id LIMIT ?3;
-- page, revoked, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > ?1 AND revoked = TRUE ORDER BY api_keys.id LIMIT ?2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > ?1 AND revoked = FALSE AND expires_ms IS NOT NULL AND expires_ms <= ?2 ORDER BY api_keys.id LIMIT ?3;
-- change log, installed
CREATE TABLE IF NOT EXISTS "api_key_auth_changes" (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT);
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_upd_api_keys_0def8d01" AFTER UPDATE ON "api_keys" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); INSERT INTO "api_key_auth_changes" (prefix) SELECT CAST(NEW.prefix AS TEXT) WHERE NEW.prefix IS NOT OLD.prefix; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS "api_key_auth_log_del_api_keys_0def8d01" AFTER DELETE ON "api_keys" FOR EACH ROW BEGIN INSERT INTO "api_key_auth_changes" (prefix) VALUES (CAST(OLD.prefix AS TEXT)); END;
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_upd_api_keys_0def8d01";
-- change log, triggers removed
DROP TRIGGER IF EXISTS "api_key_auth_log_del_api_keys_0def8d01";
-- change log, read
SELECT seq, prefix FROM "api_key_auth_changes" WHERE seq > ?1 ORDER BY seq LIMIT ?2;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM "api_key_auth_changes";
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM "api_key_auth_changes";
-- change log, trim
DELETE FROM "api_key_auth_changes" WHERE seq <= ?1;
-- change log, triggers present
SELECT COUNT(*) FROM "sqlite_master" WHERE type = 'trigger' AND name IN ('api_key_auth_log_upd_api_keys_0def8d01', 'api_key_auth_log_del_api_keys_0def8d01') AND tbl_name = 'api_keys';
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
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" WHERE prefix = ?1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix = ?1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" ORDER BY created, id;
-- insert
INSERT INTO "rest_framework_api_key_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%d %H:%M:%f', ?5 / 1000.0, 'unixepoch'), strftime('%Y-%m-%d %H:%M:%f', ?6 / 1000.0, 'unixepoch'), ?7);
-- revoke
UPDATE "rest_framework_api_key_apikey" SET revoked = TRUE WHERE prefix = ?1 RETURNING prefix;
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = TRUE ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > ?1 AND revoked = FALSE AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NOT NULL AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) <= ?2 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT ?3;
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
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" WHERE prefix = ?1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix = ?1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" ORDER BY created, id;
-- insert
INSERT INTO "keys"."app_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%d %H:%M:%f', ?5 / 1000.0, 'unixepoch'), strftime('%Y-%m-%d %H:%M:%f', ?6 / 1000.0, 'unixepoch'), ?7);
-- revoke
UPDATE "keys"."app_apikey" SET revoked = TRUE WHERE prefix = ?1 RETURNING prefix;
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 ORDER BY "keys"."app_apikey".prefix LIMIT ?2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND (CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NULL OR CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) > ?2) ORDER BY "keys"."app_apikey".prefix LIMIT ?3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = TRUE ORDER BY "keys"."app_apikey".prefix LIMIT ?2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND((julianday(created) - 2440587.5) * 86400000.0) AS INTEGER) AS created_ms, CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, CASE WHEN typeof(revoked) = 'integer' AND revoked IN (0, 1) THEN revoked END AS revoked, '[]' AS scopes, CAST(NULL AS TEXT) AS owner, '{}' AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > ?1 AND revoked = FALSE AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) IS NOT NULL AND CAST(ROUND((julianday(expiry_date) - 2440587.5) * 86400000.0) AS INTEGER) <= ?2 ORDER BY "keys"."app_apikey".prefix LIMIT ?3;
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
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys WHERE prefix = $1;
-- find by id
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id = $1;
-- list
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys ORDER BY created_ms, id;
-- insert
INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);
-- revoke
UPDATE api_keys SET revoked = TRUE WHERE id = $1 RETURNING prefix;
-- in the revoking transaction
SELECT pg_notify($1, $2);
-- page, all, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > $1 ORDER BY api_keys.id LIMIT $2;
-- page, active, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > $2) ORDER BY api_keys.id LIMIT $3;
-- page, revoked, binding [Cursor, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > $1 AND revoked = TRUE ORDER BY api_keys.id LIMIT $2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT id, prefix, hashed_key, name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, scopes, owner, metadata FROM api_keys WHERE api_keys.id > $1 AND revoked = FALSE AND expires_ms IS NOT NULL AND expires_ms <= $2 ORDER BY api_keys.id LIMIT $3;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('api_key_auth_revoked', OLD.prefix); IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN PERFORM pg_notify('api_key_auth_revoked', NEW.prefix); END IF; RETURN NULL; END $$;
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON api_keys;
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change();
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON api_keys;
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = $1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- ==== Postgres, drf ====
-- find
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" WHERE prefix = $1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix = $1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" ORDER BY created, id;
-- insert
INSERT INTO "rest_framework_api_key_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES ($1, $2, $3, $4, to_timestamp(CAST($5 AS DOUBLE PRECISION) / 1000.0), to_timestamp(CAST($6 AS DOUBLE PRECISION) / 1000.0), $7);
-- revoke
UPDATE "rest_framework_api_key_apikey" SET revoked = TRUE WHERE prefix = $1 RETURNING prefix;
-- in the revoking transaction
SELECT pg_notify($1, $2);
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = TRUE ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "rest_framework_api_key_apikey" WHERE "rest_framework_api_key_apikey".prefix > $1 AND revoked = FALSE AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NOT NULL AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) <= $2 ORDER BY "rest_framework_api_key_apikey".prefix LIMIT $3;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('api_key_auth_revoked', OLD.prefix); IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN PERFORM pg_notify('api_key_auth_revoked', NEW.prefix); END IF; RETURN NULL; END $$;
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "rest_framework_api_key_apikey";
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON "rest_framework_api_key_apikey" FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change();
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "rest_framework_api_key_apikey";
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = $1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- ==== Postgres, drf, schema-qualified ====
-- find
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" WHERE prefix = $1;
-- find by id
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix = $1;
-- list
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" ORDER BY created, id;
-- insert
INSERT INTO "keys"."app_apikey" (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES ($1, $2, $3, $4, to_timestamp(CAST($5 AS DOUBLE PRECISION) / 1000.0), to_timestamp(CAST($6 AS DOUBLE PRECISION) / 1000.0), $7);
-- revoke
UPDATE "keys"."app_apikey" SET revoked = TRUE WHERE prefix = $1 RETURNING prefix;
-- in the revoking transaction
SELECT pg_notify($1, $2);
-- page, all, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 ORDER BY "keys"."app_apikey".prefix LIMIT $2;
-- page, active, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND (CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NULL OR CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) > $2) ORDER BY "keys"."app_apikey".prefix LIMIT $3;
-- page, revoked, binding [Cursor, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = TRUE ORDER BY "keys"."app_apikey".prefix LIMIT $2;
-- page, expired, binding [Cursor, Now, Limit]
SELECT prefix AS id, prefix, hashed_key, name, CAST(ROUND(EXTRACT(EPOCH FROM created) * 1000) AS BIGINT) AS created_ms, CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS TEXT) AS scopes, CAST(NULL AS TEXT) AS owner, CAST('{}' AS TEXT) AS metadata FROM "keys"."app_apikey" WHERE "keys"."app_apikey".prefix > $1 AND revoked = FALSE AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) IS NOT NULL AND CAST(ROUND(EXTRACT(EPOCH FROM expiry_date) * 1000) AS BIGINT) <= $2 ORDER BY "keys"."app_apikey".prefix LIMIT $3;
-- change triggers, installed
CREATE OR REPLACE FUNCTION api_key_auth_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('api_key_auth_revoked', OLD.prefix); IF TG_OP = 'UPDATE' AND NEW.prefix IS DISTINCT FROM OLD.prefix THEN PERFORM pg_notify('api_key_auth_revoked', NEW.prefix); END IF; RETURN NULL; END $$;
-- change triggers, installed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "keys"."app_apikey";
-- change triggers, installed
CREATE TRIGGER api_key_auth_announce_change AFTER UPDATE OR DELETE ON "keys"."app_apikey" FOR EACH ROW EXECUTE FUNCTION api_key_auth_announce_change();
-- change triggers, removed
DROP TRIGGER IF EXISTS api_key_auth_announce_change ON "keys"."app_apikey";
-- migrations table
CREATE TABLE IF NOT EXISTS api_key_auth_migrations (version BIGINT NOT NULL PRIMARY KEY, applied_ms BIGINT NOT NULL);
-- migration applied?
SELECT version FROM api_key_auth_migrations WHERE version = $1;
-- migration recorded
INSERT INTO api_key_auth_migrations (version, applied_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- ==== MySql, native ====
-- find
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys WHERE prefix = ?;
-- find by id
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys WHERE api_keys.id = ?;
-- list
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys ORDER BY created_ms, id;
-- insert
INSERT INTO api_keys (id, prefix, hashed_key, name, created_ms, expires_ms, revoked, scopes, owner, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
-- revoke
SELECT CAST(prefix AS CHAR) AS prefix FROM api_keys WHERE id = ? FOR UPDATE;
-- revoke, then
UPDATE api_keys SET revoked = TRUE WHERE id = ?;
-- page, all, binding [Cursor, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys WHERE api_keys.id > ? ORDER BY api_keys.id LIMIT ?;
-- page, active, binding [Cursor, Now, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND (expires_ms IS NULL OR expires_ms > ?) ORDER BY api_keys.id LIMIT ?;
-- page, revoked, binding [Cursor, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys WHERE api_keys.id > ? AND revoked = TRUE ORDER BY api_keys.id LIMIT ?;
-- page, expired, binding [Cursor, Now, Limit]
SELECT CAST(id AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, created_ms, expires_ms, expires_ms IS NOT NULL AS has_expiry, revoked, CAST(scopes AS CHAR) AS scopes, CAST(owner AS CHAR) AS owner, CAST(metadata AS CHAR) AS metadata FROM api_keys WHERE api_keys.id > ? AND revoked = FALSE AND expires_ms IS NOT NULL AND expires_ms <= ? ORDER BY api_keys.id LIMIT ?;
-- change log, installed
CREATE TABLE IF NOT EXISTS `api_key_auth_changes` (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, prefix VARCHAR(255) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_upd_api_keys_0def8d01` AFTER UPDATE ON `api_keys` FOR EACH ROW BEGIN INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix); IF NOT (NEW.prefix <=> OLD.prefix) THEN INSERT INTO `api_key_auth_changes` (prefix) VALUES (NEW.prefix); END IF; END;
-- change log, installed
CREATE TRIGGER IF NOT EXISTS `api_key_auth_log_del_api_keys_0def8d01` AFTER DELETE ON `api_keys` FOR EACH ROW INSERT INTO `api_key_auth_changes` (prefix) VALUES (OLD.prefix);
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_upd_api_keys_0def8d01`;
-- change log, triggers removed
DROP TRIGGER IF EXISTS `api_key_auth_log_del_api_keys_0def8d01`;
-- change log, read
SELECT seq, CAST(prefix AS CHAR) AS prefix FROM `api_key_auth_changes` WHERE seq > ? ORDER BY seq LIMIT ?;
-- change log, oldest
SELECT COALESCE(MIN(seq), 0) AS seq FROM `api_key_auth_changes`;
-- change log, newest
SELECT COALESCE(MAX(seq), 0) AS seq FROM `api_key_auth_changes`;
-- change log, trim
DELETE FROM `api_key_auth_changes` WHERE seq <= ?;
-- change log, triggers present
SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN ('api_key_auth_log_upd_api_keys_0def8d01', 'api_key_auth_log_del_api_keys_0def8d01') AND EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'api_keys';
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
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` WHERE prefix = ?;
-- find by id
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix = ?;
-- list
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` ORDER BY created, id;
-- insert
INSERT INTO `rest_framework_api_key_apikey` (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?, ?, ?, ?, TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), ?);
-- revoke
SELECT CAST(prefix AS CHAR) AS prefix FROM `rest_framework_api_key_apikey` WHERE prefix = ? FOR UPDATE;
-- revoke, then
UPDATE `rest_framework_api_key_apikey` SET revoked = TRUE WHERE prefix = ?;
-- page, all, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, active, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, revoked, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = TRUE ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
-- page, expired, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `rest_framework_api_key_apikey` WHERE `rest_framework_api_key_apikey`.prefix > ? AND revoked = FALSE AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NOT NULL AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) <= ? ORDER BY `rest_framework_api_key_apikey`.prefix LIMIT ?;
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
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` WHERE prefix = ?;
-- find by id
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix = ?;
-- list
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` ORDER BY created, id;
-- insert
INSERT INTO `keys`.`app_apikey` (id, prefix, hashed_key, name, created, expiry_date, revoked) VALUES (?, ?, ?, ?, TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00'), ?);
-- revoke
SELECT CAST(prefix AS CHAR) AS prefix FROM `keys`.`app_apikey` WHERE prefix = ? FOR UPDATE;
-- revoke, then
UPDATE `keys`.`app_apikey` SET revoked = TRUE WHERE prefix = ?;
-- page, all, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, active, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND (CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NULL OR CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) > ?) ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, revoked, binding [Cursor, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = TRUE ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
-- page, expired, binding [Cursor, Now, Limit]
SELECT CAST(prefix AS CHAR) AS id, CAST(prefix AS CHAR) AS prefix, CAST(hashed_key AS CHAR) AS hashed_key, CAST(name AS CHAR) AS name, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created) / 1000) AS SIGNED) AS created_ms, CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) AS expires_ms, expiry_date IS NOT NULL AS has_expiry, revoked, CAST('[]' AS CHAR) AS scopes, CAST(NULL AS CHAR) AS owner, CAST('{}' AS CHAR) AS metadata FROM `keys`.`app_apikey` WHERE `keys`.`app_apikey`.prefix > ? AND revoked = FALSE AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) IS NOT NULL AND CAST(FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expiry_date) / 1000) AS SIGNED) <= ? ORDER BY `keys`.`app_apikey`.prefix LIMIT ?;
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
