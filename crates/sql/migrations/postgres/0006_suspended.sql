-- api-key-auth: `suspended` refuses a key until it is resumed; unlike
-- `revoked`, it can be set back.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS suspended BOOLEAN NOT NULL DEFAULT FALSE;
