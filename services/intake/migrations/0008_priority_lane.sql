-- The priority lane (issue 11 §4): decided once, when a case opens — a case a person filed (a complaint or
-- report over HTTP, Open311 or the hotline: shared.topics.filed_by_person) is on the lane — and kept, so every
-- later event of the case (merges, the survey answer) goes to the same topic (case.intake.priority) and its
-- events stay in order on one partition. Cases opened before this migration stay on the bulk topic.
ALTER TABLE cases ADD COLUMN priority_lane boolean NOT NULL DEFAULT false;
