-- api-key-auth: `allowed_from` lists the networks a key may be used from
-- (a JSON array such as ["10.0.0.0/8"]); NULL: anywhere.
ALTER TABLE api_keys ADD COLUMN allowed_from TEXT;
