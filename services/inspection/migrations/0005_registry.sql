-- Inspection's copy of the entity registry (credit's `entity-registered` events on credit.records): a
-- plan's enterprise pool is the snapshot of these rows inside its scope at draw time. The bureau's own
-- upload (`PUT /v1/pools/enterprises`) now gives only what the registry lacks — each enterprise's
-- risk grade and quality commitment — as versions of its `attributes:<bureau>` pool.
CREATE TABLE registry (
    credit_code  text        PRIMARY KEY,
    kind         text        NOT NULL,
    name         text        NOT NULL,
    county       text        NOT NULL,
    categories   text[]      NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL,
    changed_at   timestamptz NOT NULL
);
CREATE INDEX registry_by_county ON registry (county) WHERE status = 'registered';

ALTER TABLE pools DROP CONSTRAINT pools_kind_check;
ALTER TABLE pools ADD CONSTRAINT pools_kind_check CHECK (kind IN ('enterprises', 'inspectors', 'attributes'));
-- the uploads so far stay as they are (earlier plans drew from them); the latest of each bureau is
-- also its first attributes version, so its risk grades and commitments carry over
INSERT INTO pools (pool_id, version, bureau, kind, entries, digest, size, created_at, created_by)
SELECT DISTINCT ON (bureau) 'attributes:' || bureau, 1, bureau, 'attributes', entries, digest, size, created_at, created_by
FROM pools WHERE kind = 'enterprises' ORDER BY bureau, version DESC;
