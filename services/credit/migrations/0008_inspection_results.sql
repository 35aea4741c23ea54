-- Published random-inspection results (双随机、一公开) from inspection.lifecycle, shown in the public
-- disclosure feed (kind=inspection). One row per plan and target: a corrected result published
-- later replaces the earlier one (the newer published_at wins). No findings: free text stays in
-- inspection's own public plan.
CREATE TABLE inspection_results (
    plan_id      text        NOT NULL,
    credit_code  text        NOT NULL,
    bureau       text        NOT NULL,
    party_kind   text        NOT NULL CHECK (party_kind IN ('organisation', 'individual_trader')),
    name         text        NOT NULL,
    result       text        NOT NULL CHECK (result IN ('no_problem', 'problems_found', 'referred_to_case')),
    published_at timestamptz NOT NULL,
    event_id     text        NOT NULL,           -- the results-published event it came from
    PRIMARY KEY (plan_id, credit_code)
);
CREATE INDEX inspection_results_feed ON inspection_results (published_at, plan_id, credit_code);
CREATE INDEX inspection_results_by_code ON inspection_results (credit_code);
