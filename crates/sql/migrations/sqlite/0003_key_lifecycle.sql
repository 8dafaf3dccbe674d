-- api-key-auth: a key's life. `replaces` names the key a rotation replaced,
-- `replaced_by` the key that replaced this one (its grace period runs until
-- `expires_ms`); `last_used_ms` is when it was last used (Unix ms, written in
-- batches by the last-use tracker).
ALTER TABLE api_keys ADD COLUMN replaces TEXT;
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_ms INTEGER;
