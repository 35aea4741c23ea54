-- Issue 12: one natural person may be several entities — a person penalised in their own name and
-- the 个体工商户 they run, or two traders they registered one after the other, each under its own
-- credit code. The person's hash therefore identifies a person, not one entity: no longer unique.
ALTER TABLE entities DROP CONSTRAINT entities_person_hash_key;
CREATE INDEX entities_person ON entities (person_hash) WHERE person_hash IS NOT NULL;
