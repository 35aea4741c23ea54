-- Evidence attachments (issue 15 §4) and who may see them.

-- A case's progress as routing announced it on its topic: the current assignee (case.assigned:
-- first assignment, transfer or escalation), whom files are served to (and the office); and
-- whether it is closed (case.outcome-recorded, a refusal in case.acknowledged; case.reopened
-- opens it again), which opens the satisfaction survey.
CREATE TABLE case_assignees (
    case_id       text        PRIMARY KEY,
    bureau        text        NOT NULL,
    assignment_no integer     NOT NULL,
    assigned_at   timestamptz NOT NULL,
    closed_at     timestamptz,
    outcome       text
);

-- One answer per complaint (the first stands). The comment is kept only sealed.
CREATE TABLE surveys (
    report_id        text        PRIMARY KEY REFERENCES reports (report_id),
    case_id          text        NOT NULL,
    score            smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
    resolved         boolean     NOT NULL,
    reopen_requested boolean     NOT NULL,
    reopen           boolean     NOT NULL,
    comment_sealed   jsonb,
    rule_version     text        NOT NULL,
    answered_by      text        NOT NULL,
    answered_at      timestamptz NOT NULL
);

-- One row per file kept for a report. The bytes live in the blob store (adapters/blobstore.py),
-- sealed (AES-GCM) and addressed by the SHA-256 of the kept bytes (metadata stripped first).
-- No file name is kept: a name can be personal data and says nothing the content does not.
CREATE TABLE attachments (
    attachment_id text        PRIMARY KEY,
    report_id     text        NOT NULL REFERENCES reports (report_id),
    case_id       text        NOT NULL,
    sha256        text        NOT NULL,
    content_type  text        NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size_bytes    integer     NOT NULL,
    removed       text[]      NOT NULL DEFAULT '{}',   -- metadata stripped: exif, xmp, iptc, comment, text, time
    uploaded_by   text        NOT NULL,
    uploaded_at   timestamptz NOT NULL,
    UNIQUE (report_id, sha256)
);
CREATE INDEX attachments_case ON attachments (case_id);
CREATE INDEX attachments_sha ON attachments (sha256);
