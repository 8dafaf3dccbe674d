-- api-key-auth: `lineage` names the key a chain of rotations began with, on
-- every key a rotation made, so the whole chain spends one rate-limit budget.
ALTER TABLE api_keys ADD COLUMN lineage VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
