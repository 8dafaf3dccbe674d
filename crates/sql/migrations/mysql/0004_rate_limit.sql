-- api-key-auth: how fast a key may be used, as JSON
-- ({"requests": 100, "period_ms": 1000, "burst": 20}); NULL for no limit.
ALTER TABLE api_keys ADD COLUMN rate_limit TEXT NULL;
