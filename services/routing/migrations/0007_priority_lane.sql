-- The priority lane (issue 11 §4): a case whose case.opened came on intake's priority lane (a case a person
-- filed) has every routing event on case.routing.priority, so its events stay on one topic, in order, and never
-- queue behind the bulk topic. Kept from the opening, never changed; cases opened before stay on the bulk topic.
ALTER TABLE cases ADD COLUMN priority_lane boolean NOT NULL DEFAULT false;
