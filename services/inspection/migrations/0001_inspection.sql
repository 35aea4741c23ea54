-- Random inspections (双随机、一公开): versioned pools, plans with their draw, tasks and results.
CREATE TABLE pools (
    pool_id     text        NOT NULL,        -- enterprises:<bureau> | inspectors:<bureau>
    version     integer     NOT NULL,
    bureau      text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('enterprises', 'inspectors')),
    entries     jsonb       NOT NULL,        -- the canonical entries (domain/draw.canonical)
    digest      text        NOT NULL,
    size        integer     NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    PRIMARY KEY (pool_id, version)
);

CREATE TABLE plans (
    plan_id               text        PRIMARY KEY,
    bureau                text        NOT NULL,
    title                 text        NOT NULL,
    scope                 jsonb       NOT NULL,
    sample_size           integer,
    sample_rate           numeric,
    inspectors_per_target integer     NOT NULL,
    seed                  text        NOT NULL,
    enterprise_pool       text        NOT NULL,
    enterprise_version    integer     NOT NULL,
    inspector_pool        text        NOT NULL,
    inspector_version     integer     NOT NULL,
    eligible              integer     NOT NULL,
    drawn_at              timestamptz NOT NULL,
    created_by            text        NOT NULL,
    FOREIGN KEY (enterprise_pool, enterprise_version) REFERENCES pools (pool_id, version),
    FOREIGN KEY (inspector_pool, inspector_version) REFERENCES pools (pool_id, version)
);
CREATE INDEX plans_by_bureau ON plans (bureau, drawn_at);

CREATE TABLE tasks (
    plan_id       text        NOT NULL REFERENCES plans (plan_id),
    seq           integer     NOT NULL,      -- the draw's order
    credit_code   text        NOT NULL,
    name          text        NOT NULL,
    county        text        NOT NULL,
    category      text        NOT NULL,
    inspectors    text[]      NOT NULL,
    state         text        NOT NULL CHECK (state IN ('assigned', 'recorded', 'published')),
    result        text        CHECK (result IN ('no_problem', 'problems_found', 'referred_to_case')),
    findings      text        NOT NULL DEFAULT '',
    inspected_by  text[]      NOT NULL DEFAULT '{}',
    recorded_at   timestamptz,
    published_at  timestamptz,
    PRIMARY KEY (plan_id, credit_code)
);
CREATE INDEX tasks_published ON tasks (published_at) WHERE state = 'published';
CREATE INDEX tasks_by_code ON tasks (credit_code);
