-- The office's overview (GET /v1/overview, adapters/postgres_overview.py) counts every case by state,
-- county, bureau and category, and its deadlines per county join open deadlines to their case's
-- county. Both read this covering index alone (an index-only scan, ~10 MB at 100k cases) instead of
-- the cases table's heap (~55 MB: summaries, suspects, complainants): at 100k cases the counts went
-- from ~200 ms to ~60 ms and the deadlines per county from ~100 ms to ~40 ms.
CREATE INDEX IF NOT EXISTS cases_overview ON cases (state, county_label, assignee, category)
    INCLUDE (opened_at, joint_meeting_proposed, case_id);
