-- Priority lanes (issue 11 §4): a complaint's notice must not wait behind a bulk backlog.
-- 0: critical notices (deadlines, referrals); 1: notices about a complaint or report filed by a person
-- (and the complainant's own SMS); 2: everything else, bulk leads included. The dispatcher claims in
-- (priority, due_at, id) order, still at most each endpoint's free slots.
ALTER TABLE deliveries ADD COLUMN priority smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 2);
UPDATE deliveries SET priority = 0 WHERE critical;
CREATE INDEX deliveries_claim ON deliveries (priority, due_at, id) WHERE state = 'pending';
