-- api-key-auth: usage credits. `credits_remaining` is what the key may still
-- spend (NULL: unlimited), set back to `credits_refill_amount` every
-- `credits_refill_ms` from `credits_refilled_ms` (Unix ms) when a refill is
-- kept. Spends are not announced by the change triggers (SQLite's and MySQL's
-- watch other columns; PostgreSQL's passes these over): every request writes.
ALTER TABLE api_keys ADD COLUMN credits_remaining BIGINT;
ALTER TABLE api_keys ADD COLUMN credits_refill_amount BIGINT;
ALTER TABLE api_keys ADD COLUMN credits_refill_ms BIGINT;
ALTER TABLE api_keys ADD COLUMN credits_refilled_ms BIGINT;
