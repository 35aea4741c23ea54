CREATE TABLE case_bureaus (
    case_id       text PRIMARY KEY,
    bureau        text NOT NULL,
    co_bureaus    text[] NOT NULL DEFAULT '{}',
    assignment_no integer NOT NULL,
    assigned_at   timestamptz NOT NULL
);
