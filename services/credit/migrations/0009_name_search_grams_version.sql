-- Issue 11 (the name search at p95 <= 25 ms beside the pipeline): each process keeps the bigram
-- counts (name_search_grams, ~17,000 rows at 1M entities) in memory, so a query is one statement
-- instead of two. `grams_version` moves whenever a refresh (of any instance) changes a count or the
-- number of indexed entities; every refresher reloads its copy when it sees another version.
-- (IF NOT EXISTS: a bench registry kept from a run of this change under an earlier file name has it)
ALTER TABLE name_search_state ADD COLUMN IF NOT EXISTS grams_version bigint NOT NULL DEFAULT 0;
