-- The office's decision on a proposed joint enforcement meeting (issue 16 §2): convene it, or dismiss the
-- proposal with a reason. One decision per case, final (the primary key): a second is refused.
CREATE TABLE joint_meetings (
    case_id    text        PRIMARY KEY,
    decision   text        NOT NULL CHECK (decision IN ('convene', 'dismiss')),
    reason     text,
    decided_by text        NOT NULL,
    decided_at timestamptz NOT NULL,
    CHECK (decision = 'convene' OR reason IS NOT NULL)
);
CREATE INDEX cases_joint_meeting ON cases (opened_at DESC) WHERE joint_meeting_proposed;
