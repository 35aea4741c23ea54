-- Idempotency-Keys are the runtime's now (shared/idempotency.py, table http_idempotency from
-- shared/migrations/0002, keyed by the caller's principal id), the same in every service.
-- Keys in flight at the upgrade (intake kept them 24 hours) are forgotten: a retry with one of
-- them registers its request again unless it carries a source_id (re-submissions are recognised
-- by client and source id). The old clients table stays: `import_legacy_keys` reads it.
DROP TABLE IF EXISTS idempotency_keys;
